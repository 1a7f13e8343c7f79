package io.cloudtask.agent.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.agent.TestSpecs;
import io.cloudtask.proto.v1.Placement;
import io.cloudtask.proto.v1.PlacementKind;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RunRequestTest {
    private static final Instant FIRE = Instant.parse("2030-01-01T10:00:00Z");

    private static TaskSpec spec(PlacementKind kind) {
        return TestSpecs.cron("task-1", 1, TestSpecs.EVERY_SECOND)
                .setPlacement(Placement.newBuilder().setKind(kind)).build();
    }

    @Test
    void eachAgentsCopyOfABroadcastFireHasItsOwnRunIdAndRetriesKeepIt() {
        RunRequest onA = RunRequest.scheduled(spec(PlacementKind.PLACEMENT_KIND_BROADCAST), FIRE, "agent-a");
        RunRequest onB = RunRequest.scheduled(spec(PlacementKind.PLACEMENT_KIND_BROADCAST), FIRE, "agent-b");

        assertThat(onA.broadcast()).isTrue();
        assertThat(onA.runId()).isEqualTo(RunIds.broadcastRunId("task-1", FIRE, 1, "agent-a")).isNotEqualTo(onB.runId());
        assertThat(onA.nextAttempt().runId()).isEqualTo(RunIds.broadcastRunId("task-1", FIRE, 2, "agent-a"));
        assertThat(onA.nextAttempt().broadcast()).isTrue();
    }

    @Test
    void aSingleAgentFireKeepsTheFireIdentityWhicheverAgentRunsIt() {
        for (PlacementKind kind : new PlacementKind[] {PlacementKind.PLACEMENT_KIND_UNSPECIFIED,
                PlacementKind.PLACEMENT_KIND_ANY, PlacementKind.PLACEMENT_KIND_NAMED,
                PlacementKind.PLACEMENT_KIND_LABEL_SELECTOR}) {
            RunRequest request = RunRequest.scheduled(spec(kind), FIRE, "agent-a");
            assertThat(request.broadcast()).isFalse();
            assertThat(request.runId()).isEqualTo(RunIds.runId("task-1", FIRE, 1))
                    .isEqualTo(RunRequest.scheduled(spec(kind), FIRE, "agent-b").runId());
        }
    }

    @Test
    void aManualRunOfABroadcastTaskIsIdentifiedByItsCommand() {
        RunRequest request = RunRequest.manual(spec(PlacementKind.PLACEMENT_KIND_BROADCAST), FIRE, Trigger.TRIGGER_MANUAL,
                new ManualRun("cmd-1", null, Map.of()));

        assertThat(request.broadcast()).isFalse();
        assertThat(request.runId()).isEqualTo(RunIds.commandRunId("task-1", "cmd-1", 1));
    }

    @Test
    void refusesABroadcastFireWithoutTheAgentId() {
        assertThatThrownBy(() -> RunRequest.scheduled(spec(PlacementKind.PLACEMENT_KIND_BROADCAST), FIRE, ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("agent id");
    }
}
