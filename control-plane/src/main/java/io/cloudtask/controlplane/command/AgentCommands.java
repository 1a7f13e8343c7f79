package io.cloudtask.controlplane.command;

import io.cloudtask.proto.v1.CommandAck;
import io.cloudtask.proto.v1.ControlMessage;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The agent gateway's side of commands: what to send an agent, and what it answered. Thread-safe. */
@Singleton
public class AgentCommands {
    private static final Logger log = LoggerFactory.getLogger(AgentCommands.class);

    private final CommandStore store;
    private final Clock clock;

    AgentCommands(CommandStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /**
     * The agent's commands to send now, marked delivered by this replica: the PENDING ones, and
     * with {@code redeliver} (a new stream) also those delivered before and never answered.
     */
    public List<ControlMessage> takeForDelivery(String agentId, String cluster, boolean redeliver, String replicaId) {
        return store.takeForDelivery(agentId, cluster, redeliver, replicaId, clock.instant());
    }

    /** Records the agent's answer; an answer to no open command of this agent is logged and dropped. */
    public void recordAnswer(String agentId, CommandAck ack) {
        UUID commandId;
        try {
            commandId = UUID.fromString(ack.getCommandId());
        } catch (IllegalArgumentException e) {
            log.warn("agent {} answered command '{}', which is not a command id; ignored", agentId, ack.getCommandId());
            return;
        }
        CommandState state = switch (ack.getOutcome()) {
            case COMMAND_OUTCOME_ACCEPTED -> CommandState.ACCEPTED;
            case COMMAND_OUTCOME_REJECTED -> CommandState.REJECTED;
            case COMMAND_OUTCOME_UNSPECIFIED, UNRECOGNIZED -> null;
        };
        if (state == null) {
            log.warn("agent {} answered command {} without an outcome; ignored", agentId, commandId);
            return;
        }
        if (!store.answer(agentId, commandId, state, ack.getMessage(), clock.instant())) {
            log.info("agent {} answered command {} ({}), which is not open for it (answered before or expired)",
                    agentId, commandId, ack.getOutcome());
        }
    }
}
