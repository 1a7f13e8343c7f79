package io.cloudtask.controlplane.task;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Creator;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;

/**
 * A task's {@code placement} as the REST API accepts and returns it (docs/rest-api.md): {@code
 * {"type": "any"}} (the default), {@code {"type": "hosts", "hosts": ["agent-1", "web-01.example"]}},
 * {@code {"type": "labels", "selector": "os=windows,zone=a"}} or {@code {"type": "broadcast",
 * "selector": ""}}, and by agent group of the task's cluster, {@code {"type": "group", "group": "web"}}
 * (one agent of the group) or {@code {"type": "broadcast", "group": "web"}} (every member). The
 * stored and returned form is normalised by {@link PlacementValidator}: the type lower-case, the
 * selector in its canonical order, and only the fields of the type present.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PlacementRequest(@Nullable String type, @Nullable List<String> hosts, @Nullable String selector,
        @Nullable String group) {
    static final PlacementRequest ANY = new PlacementRequest("any", null, null, null);

    @Creator
    public PlacementRequest {
        // The canonical constructor is the one JSON binds to; the shorter one below is for callers.
    }

    /** A placement that names no group. */
    public PlacementRequest(@Nullable String type, @Nullable List<String> hosts, @Nullable String selector) {
        this(type, hosts, selector, null);
    }
}
