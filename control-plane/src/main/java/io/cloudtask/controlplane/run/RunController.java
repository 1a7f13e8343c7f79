package io.cloudtask.controlplane.run;

import io.cloudtask.controlplane.api.ApiException;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Header;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.http.sse.Event;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.UUID;
import org.reactivestreams.Publisher;

/** REST adapter for runs: history with filters, one run with its output, raw bytes, live tail. */
@Controller("/api/v1")
@ExecuteOn(TaskExecutors.BLOCKING)
class RunController {
    private final RunService runs;
    private final LiveOutput live;

    RunController(RunService runs, LiveOutput live) {
        this.runs = runs;
        this.live = live;
    }

    @Get("/tasks/{taskId}/runs")
    RunPage listByTask(@PathVariable UUID taskId, @QueryValue @Nullable String pageToken,
            @QueryValue @Nullable Integer limit) {
        return runs.listByTask(taskId, pageToken, limit == null ? 50 : limit);
    }

    @Get("/runs")
    RunPage list(@QueryValue @Nullable UUID taskId, @QueryValue @Nullable String cluster,
            @QueryValue @Nullable String agentId, @QueryValue @Nullable String status,
            @QueryValue @Nullable String from, @QueryValue @Nullable String to,
            @QueryValue @Nullable String pageToken, @QueryValue @Nullable Integer limit) {
        RunFilter filter = new RunFilter(taskId, cluster, agentId, status(status), instant("from", from),
                instant("to", to));
        return runs.list(filter, pageToken, limit == null ? 50 : limit);
    }

    @Get("/runs/{runId}")
    RunView get(@PathVariable UUID runId) {
        return runs.get(runId);
    }

    @Get(value = "/runs/{runId}/output", produces = MediaType.APPLICATION_OCTET_STREAM)
    HttpResponse<byte[]> output(@PathVariable UUID runId, @QueryValue @Nullable String stream) {
        return HttpResponse.ok(runs.output(runId, stream)).contentType(MediaType.APPLICATION_OCTET_STREAM_TYPE);
    }

    /**
     * Live output as Server-Sent Events: {@code output} events (id = chunk sequence) until the run
     * ends, then one {@code end} event. Resume after a disconnect with {@code afterSequence} or the
     * standard {@code Last-Event-ID} header.
     */
    @Get(value = "/runs/{runId}/output/live", produces = MediaType.TEXT_EVENT_STREAM)
    Publisher<Event<LiveOutput.Message>> liveOutput(@PathVariable UUID runId,
            @QueryValue @Nullable Long afterSequence, @Header("Last-Event-ID") @Nullable String lastEventId) {
        long after = afterSequence != null ? afterSequence : -1;
        if (lastEventId != null && !lastEventId.isBlank()) {
            try {
                after = Long.parseLong(lastEventId.trim());
            } catch (NumberFormatException e) {
                throw ApiException.invalid("Last-Event-ID", "Last-Event-ID '" + lastEventId
                        + "' is not an output sequence number; send the id of the last event received");
            }
        }
        return live.follow(runId, after);
    }

    private static RunState status(String status) {
        if (status == null || status.isBlank()) {
            return null;
        }
        try {
            RunState state = RunState.valueOf(status.trim().toUpperCase(Locale.ROOT));
            if (state != RunState.NONE) {
                return state;
            }
        } catch (IllegalArgumentException e) {
            // Falls through to the error that lists the valid statuses.
        }
        throw ApiException.invalid("status", "status '" + status + "' is not one of RUNNING, SUCCEEDED, FAILED,"
                + " TIMED_OUT, KILLED, LOST, SKIPPED, MISSED");
    }

    private static Instant instant(String field, String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return Instant.parse(value.trim());
        } catch (DateTimeParseException e) {
            throw ApiException.invalid(field, "'" + value + "' is not an ISO-8601 instant such as 2026-11-27T08:00:00Z");
        }
    }
}
