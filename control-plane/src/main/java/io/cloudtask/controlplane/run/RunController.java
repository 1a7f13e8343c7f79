package io.cloudtask.controlplane.run;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.QueryValue;
import java.util.UUID;

/** REST adapter for runs: a task's run history, one run with its output, raw output bytes. */
@Controller("/api/v1")
class RunController {
    private final RunService runs;

    RunController(RunService runs) {
        this.runs = runs;
    }

    @Get("/tasks/{taskId}/runs")
    RunPage listByTask(@PathVariable UUID taskId, @QueryValue @Nullable String pageToken,
            @QueryValue @Nullable Integer limit) {
        return runs.listByTask(taskId, pageToken, limit == null ? 50 : limit);
    }

    @Get("/runs/{runId}")
    RunView get(@PathVariable UUID runId) {
        return runs.get(runId);
    }

    @Get(value = "/runs/{runId}/output", produces = MediaType.APPLICATION_OCTET_STREAM)
    HttpResponse<byte[]> output(@PathVariable UUID runId, @QueryValue @Nullable String stream) {
        return HttpResponse.ok(runs.output(runId, stream)).contentType(MediaType.APPLICATION_OCTET_STREAM_TYPE);
    }
}
