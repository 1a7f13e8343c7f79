package io.cloudtask.agent.command;

import io.cloudtask.agent.run.ManualRun;
import io.cloudtask.agent.run.RunCoordinator;
import io.cloudtask.agent.run.RunRequest;
import io.cloudtask.proto.v1.CommandAck;
import io.cloudtask.proto.v1.CommandOutcome;
import io.cloudtask.proto.v1.KillRun;
import io.cloudtask.proto.v1.RunNow;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.schedule.Timestamps;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Acts on the control plane's commands and answers each with a {@link CommandAck}. A command is
 * acted on at most once: its outcome is recorded in the {@link CommandJournal} first, and a
 * command delivered again gets the recorded answer. For a RunNow that means a crash between the
 * record and the hand-over loses the run rather than running it twice.
 *
 * <p>Called on one thread at a time (the agent's reconcile thread); answers may be sent from the
 * run coordinator's thread.
 */
public final class CommandHandler {
    private static final Logger log = LoggerFactory.getLogger(CommandHandler.class);

    private final CommandJournal journal;
    private final RunCoordinator coordinator;
    private final Consumer<CommandAck> acks;
    private final Clock clock;

    public CommandHandler(CommandJournal journal, RunCoordinator coordinator, Consumer<CommandAck> acks, Clock clock) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.coordinator = Objects.requireNonNull(coordinator, "coordinator");
        this.acks = Objects.requireNonNull(acks, "acks");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public void runNow(RunNow command) {
        String id = command.getCommandId();
        if (id.isEmpty()) {
            log.warn("ignoring a run_now without a command id: there is nothing to answer to");
            return;
        }
        if (answeredBefore(id)) {
            return;
        }
        String invalid = validate(command);
        if (invalid != null) {
            answer(id, journal.record(id, CommandOutcome.COMMAND_OUTCOME_REJECTED, invalid));
            return;
        }
        ManualRun manual = new ManualRun(id, command.hasArguments() ? command.getArguments().getArgsList() : null,
                command.getEnvironmentMap());
        Trigger trigger = command.getTrigger() == Trigger.TRIGGER_API ? Trigger.TRIGGER_API : Trigger.TRIGGER_MANUAL;
        RunRequest request = RunRequest.manual(command.getSpec(),
                command.hasRequestedAt() ? Timestamps.toInstant(command.getRequestedAt()) : clock.instant(), trigger, manual);
        CommandJournal.Entry entry;
        try {
            entry = journal.record(id, CommandOutcome.COMMAND_OUTCOME_ACCEPTED, "run " + request.runId() + " handed to"
                    + " the task's overlap policy");
        } catch (UncheckedIOException e) {
            // Not recorded, so not acted on: the control plane delivers it again on the next stream.
            log.error("not running task {} for command {}: {}", request.taskId(), id, e.getMessage());
            return;
        }
        log.info("command {}: running task {} now as run {}", id, request.taskId(), request.runId());
        coordinator.runNow(request);
        answer(id, entry);
    }

    public void killRun(KillRun command) {
        String id = command.getCommandId();
        if (id.isEmpty()) {
            log.warn("ignoring a kill_run without a command id: there is nothing to answer to");
            return;
        }
        if (answeredBefore(id)) {
            return;
        }
        String reason = command.getReason().isBlank() ? "killed on request (command " + id + ")" : command.getReason();
        coordinator.kill(command.getRunId(), reason).whenComplete((found, failure) -> {
            if (failure != null) {
                log.error("command {}: killing run {} failed", id, command.getRunId(), failure);
                return;
            }
            CommandOutcome outcome = found ? CommandOutcome.COMMAND_OUTCOME_ACCEPTED : CommandOutcome.COMMAND_OUTCOME_REJECTED;
            String message = found ? "kill signal sent to the process tree of run " + command.getRunId()
                    : "run " + command.getRunId() + " is not running on this agent (it may have ended)";
            try {
                answer(id, journal.record(id, outcome, message));
            } catch (UncheckedIOException e) {
                log.error("command {}: {}; the answer is sent when the command comes again", id, e.getMessage());
            }
        });
    }

    private boolean answeredBefore(String commandId) {
        Optional<CommandJournal.Entry> previous = journal.find(commandId);
        previous.ifPresent(entry -> {
            log.info("command {} was handled at {}; answering {} again", commandId, entry.handledAt(), entry.outcome());
            answer(commandId, entry);
        });
        return previous.isPresent();
    }

    private void answer(String commandId, CommandJournal.Entry entry) {
        acks.accept(CommandAck.newBuilder().setCommandId(commandId).setOutcome(entry.outcome())
                .setMessage(entry.message()).build());
    }

    private static String validate(RunNow command) {
        if (!command.hasSpec() || command.getSpec().getTaskId().isEmpty()) {
            return "run_now.spec is missing the task";
        }
        return null;
    }
}
