package io.cloudtask.controlplane.command;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.proto.v1.Trigger;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import java.net.URI;
import java.time.Duration;
import java.util.UUID;

/**
 * REST adapter for commands: run a task now, kill a run, read a command. Both actions answer
 * 202 Accepted with the command; {@code ?wait=N} (seconds, default 5, at most 30) waits up to that
 * long for the agent's answer, so the usual response already says ACCEPTED or REJECTED.
 */
@Controller("/api/v1")
class CommandController {
    private static final Duration DEFAULT_WAIT = Duration.ofSeconds(5);

    private final CommandService commands;

    CommandController(CommandService commands) {
        this.commands = commands;
    }

    @Post("/tasks/{taskId}/runs")
    HttpResponse<CommandView> runNow(@PathVariable UUID taskId, @Body @Nullable RunNowRequest request,
            @QueryValue @Nullable String wait) {
        return accepted(commands.runNow(taskId, request, Trigger.TRIGGER_MANUAL, wait(wait)));
    }

    @Post("/runs/{runId}/kill")
    HttpResponse<CommandView> kill(@PathVariable UUID runId, @Body @Nullable KillRunRequest request,
            @QueryValue @Nullable String wait) {
        return accepted(commands.killRun(runId, request, wait(wait)));
    }

    @Get("/commands/{commandId}")
    CommandView get(@PathVariable UUID commandId) {
        return commands.get(commandId);
    }

    private static HttpResponse<CommandView> accepted(CommandView command) {
        return HttpResponse.accepted(URI.create("/api/v1/commands/" + command.id())).body(command);
    }

    private static Duration wait(String seconds) {
        if (seconds == null || seconds.isEmpty()) {
            return DEFAULT_WAIT;
        }
        try {
            return Duration.ofSeconds(Long.parseLong(seconds));
        } catch (NumberFormatException e) {
            throw ApiException.invalid("wait", "wait '" + seconds + "' is not a whole number of seconds; use 0 to "
                    + CommandService.MAX_WAIT.toSeconds());
        }
    }
}
