package io.cloudtask.controlplane.task;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;

/**
 * A task's {@code placement} as the REST API accepts and returns it (docs/rest-api.md): {@code
 * {"type": "any"}} (the default), {@code {"type": "hosts", "hosts": ["agent-1", "web-01.example"]}},
 * {@code {"type": "labels", "selector": "os=windows,zone=a"}} or {@code {"type": "broadcast",
 * "selector": ""}}. The stored and returned form is normalised by {@link PlacementValidator}: the
 * type lower-case, the selector in its canonical order, and only the fields of the type present.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PlacementRequest(@Nullable String type, @Nullable List<String> hosts, @Nullable String selector) {
    static final PlacementRequest ANY = new PlacementRequest("any", null, null);
}
