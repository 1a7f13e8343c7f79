package io.cloudtask.controlplane.command;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.api.ErrorKind;
import io.cloudtask.controlplane.cluster.Assignments;
import io.cloudtask.controlplane.run.RunService;
import io.cloudtask.controlplane.run.RunView;
import io.cloudtask.controlplane.task.SpecLookup;
import io.cloudtask.controlplane.task.TaskService;
import io.cloudtask.controlplane.task.TaskValidator;
import io.cloudtask.proto.v1.ArgumentOverride;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.KillRun;
import io.cloudtask.proto.v1.RunNow;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.schedule.Timestamps;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operator commands to agents: run a task now, kill a run. A command is stored, delivered over
 * the agent's stream by the replica that holds it (see {@link CommandRelay}), and answered by the
 * agent; callers may wait a bounded time for that answer. The REST API and, later, the gRPC admin
 * API are thin adapters over this class. Thread-safe.
 */
@Singleton
public class CommandService {
    /** The longest a caller may wait for an agent's answer. */
    public static final Duration MAX_WAIT = Duration.ofSeconds(30);
    static final int MAX_ARGUMENTS = 1000;
    static final int MAX_ARGUMENT_BYTES = 64 * 1024;
    static final int MAX_REASON_LENGTH = 1000;
    private static final Logger log = LoggerFactory.getLogger(CommandService.class);
    /** Re-reads the command this often while waiting, in case an answer notification was lost. */
    private static final Duration RECHECK = Duration.ofMillis(500);

    private final CommandStore store;
    private final CommandRelay relay;
    private final TaskService tasks;
    private final RunService runs;
    private final Assignments assignments;
    private final Clock clock;
    private final Duration timeToLive;

    CommandService(CommandStore store, CommandRelay relay, TaskService tasks, RunService runs, Assignments assignments,
            Clock clock, @Value("${cloudtask.commands.ttl:60s}") Duration timeToLive) {
        this.store = store;
        this.relay = relay;
        this.tasks = tasks;
        this.runs = runs;
        this.assignments = assignments;
        this.clock = clock;
        this.timeToLive = timeToLive;
    }

    /**
     * Asks the agent that holds the task to run it now, with the task as it is at this moment
     * (an edit saved just before is what runs). The run's id is in the returned view.
     *
     * @param wait how long to wait for the agent's answer (zero: return once stored)
     */
    public CommandView runNow(UUID taskId, RunNowRequest request, Trigger trigger, Duration wait) {
        List<String> arguments = request == null ? null : validateArguments(request.arguments());
        Map<String, String> environment = TaskValidator.validateEnvironment(request == null ? null : request.environment());
        requireWait(wait);
        SpecLookup lookup = tasks.specs(List.of(taskId.toString()));
        if (lookup.specs().isEmpty()) {
            throw ApiException.notFound("task " + taskId + " does not exist");
        }
        TaskSpec spec = lookup.specs().get(0);
        String agentId = holder(spec);
        UUID commandId = UUID.randomUUID();
        Instant now = clock.instant();
        RunNow.Builder runNow = RunNow.newBuilder()
                .setCommandId(commandId.toString())
                .setSpec(spec)
                .setRequestedAt(Timestamps.of(now))
                .putAllEnvironment(environment)
                .setTrigger(trigger);
        if (arguments != null) {
            runNow.setArguments(ArgumentOverride.newBuilder().addAllArgs(arguments));
        }
        UUID runId = UUID.fromString(RunIds.commandRunId(spec.getTaskId(), commandId.toString(), 1));
        store.insert(new CommandStore.NewCommand(commandId, CommandKind.RUN_NOW, spec.getCluster(), agentId, taskId, runId,
                ControlMessage.newBuilder().setRunNow(runNow).build(), now, now.plus(timeToLive)));
        log.info("command {}: run task {} now on agent {} as run {}", commandId, taskId, agentId, runId);
        return await(commandId, wait);
    }

    /**
     * Asks the agent running the run to kill its process tree; the run ends KILLED (never retried)
     * with {@code reason} as its error.
     */
    public CommandView killRun(UUID runId, KillRunRequest request, Duration wait) {
        String reason = request == null || request.reason() == null ? "" : request.reason().strip();
        if (reason.length() > MAX_REASON_LENGTH) {
            throw ApiException.invalid("reason", "reason is " + reason.length() + " characters; the limit is "
                    + MAX_REASON_LENGTH);
        }
        requireWait(wait);
        RunView run = runs.summary(runId);
        if (!"RUNNING".equals(run.status())) {
            throw new ApiException(ErrorKind.FAILED_PRECONDITION, null, "run " + runId + " is " + run.status()
                    + ", not RUNNING: only a running run can be killed");
        }
        UUID commandId = UUID.randomUUID();
        Instant now = clock.instant();
        KillRun kill = KillRun.newBuilder().setCommandId(commandId.toString()).setRunId(runId.toString())
                .setReason(reason.isEmpty() ? "killed on request" : "killed on request: " + reason).build();
        store.insert(new CommandStore.NewCommand(commandId, CommandKind.KILL_RUN, run.cluster(), run.agentId(),
                run.taskId(), runId, ControlMessage.newBuilder().setKillRun(kill).build(), now, now.plus(timeToLive)));
        log.info("command {}: kill run {} on agent {}", commandId, runId, run.agentId());
        return await(commandId, wait);
    }

    public CommandView get(UUID commandId) {
        return store.find(commandId).orElseThrow(() -> ApiException.notFound("command " + commandId + " does not exist"));
    }

    /** The online agent whose assignment holds the task (the first, in id order, if several do). */
    private String holder(TaskSpec spec) {
        List<String> holders = assignments.agentsHolding(spec.getCluster(), spec.getTaskId());
        if (holders.isEmpty()) {
            throw new ApiException(ErrorKind.FAILED_PRECONDITION, null, "task " + spec.getTaskId()
                    + " is not assigned to any agent: cluster '" + spec.getCluster() + "' has no schedulable agent"
                    + " online (GET /api/v1/agents?cluster=" + spec.getCluster() + " shows them); start or uncordon"
                    + " an agent and retry");
        }
        for (String agentId : holders) {
            if (assignments.isOnline(spec.getCluster(), agentId)) {
                return agentId;
            }
        }
        throw new ApiException(ErrorKind.FAILED_PRECONDITION, null, "task " + spec.getTaskId() + " is assigned to agent "
                + holders.get(0) + ", which is offline; the task moves to another agent once ZooKeeper ends that"
                + " agent's session (a few seconds): retry then");
    }

    private CommandView await(UUID commandId, Duration wait) {
        CompletableFuture<Void> answered = relay.answerSignal(commandId);
        try {
            long deadline = System.nanoTime() + wait.toNanos();
            while (true) {
                CommandView command = get(commandId);
                long left = deadline - System.nanoTime();
                if (command.state().isFinal() || left <= 0) {
                    return command;
                }
                try {
                    answered.get(Math.min(left, RECHECK.toNanos()), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    // Re-read: the notification may have been lost while the LISTEN connection was down.
                } catch (ExecutionException e) {
                    throw new IllegalStateException("an answer signal never fails", e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return get(commandId);
                }
            }
        } finally {
            relay.forget(commandId);
        }
    }

    private static void requireWait(Duration wait) {
        if (wait.isNegative() || wait.compareTo(MAX_WAIT) > 0) {
            throw ApiException.invalid("wait", "wait is " + wait.toSeconds() + " s; use 0 to " + MAX_WAIT.toSeconds()
                    + " seconds (how long to wait for the agent's answer)");
        }
    }

    private static List<String> validateArguments(List<String> arguments) {
        if (arguments == null) {
            return null;
        }
        if (arguments.size() > MAX_ARGUMENTS) {
            throw ApiException.invalid("arguments", arguments.size() + " arguments given; the limit is " + MAX_ARGUMENTS);
        }
        int bytes = 0;
        for (int i = 0; i < arguments.size(); i++) {
            String argument = arguments.get(i);
            if (argument == null || argument.indexOf('\0') >= 0) {
                throw ApiException.invalid("arguments[" + i + "]", "arguments[" + i
                        + "] must be a string without NUL characters");
            }
            bytes += argument.getBytes(StandardCharsets.UTF_8).length;
        }
        if (bytes > MAX_ARGUMENT_BYTES) {
            throw ApiException.invalid("arguments", "arguments are " + bytes + " bytes; the limit is "
                    + MAX_ARGUMENT_BYTES + " (64 KiB)");
        }
        return List.copyOf(arguments);
    }
}
