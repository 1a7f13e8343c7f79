package io.cloudtask.controlplane.run;

import io.micronaut.core.annotation.Nullable;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;

/** One page of runs; pass {@code nextPageToken} as {@code pageToken} to read older runs. */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record RunPage(List<RunView> runs, @Nullable String nextPageToken) {}
