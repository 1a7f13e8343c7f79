package io.cloudtask.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.TaskSpecs;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.schedule.Timestamps;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Misfires across an agent restart: the agent fires, stops, and comes back minutes later with the
 * control plane down. Real ZooKeeper, real processes, the agent's clock driven by hand.
 */
@EnabledOnOs({OS.LINUX, OS.MAC})
class AgentMisfireTest {
    private static final String TASK = "5d1c2b3a-7e6f-4a1b-9c8d-0e1f2a3b4c5d";
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Instant T0 = Instant.parse("2030-01-01T10:00:00.500Z");

    @TempDir
    Path workDir;

    private TestZooKeeper zk;
    private FakeGateway gateway;

    @BeforeEach
    void start() throws Exception {
        zk = new TestZooKeeper();
        gateway = new FakeGateway("agent-misfire-" + System.nanoTime()).start();
        gateway.autoAck = true;
    }

    @AfterEach
    void stop() throws Exception {
        gateway.close();
        zk.close();
    }

    private static Instant minute(int m) {
        return Instant.parse("2030-01-01T10:00:00Z").plus(Duration.ofMinutes(m));
    }

    @Test
    void afterARestartWithTheControlPlaneDownRunOnceRunsTheLatestMissedFireAndRecordsTheOthersMissed() throws Exception {
        TaskSpec spec = TestSpecs.cron(TASK, 1, "0 * * * * ?").build();
        serve(spec);
        MutableClock clock = new MutableClock(T0);
        AgentConfig config = TestAgents.config(workDir, zk.connectString());
        try (Agent agent = new Agent(config, clock, gateway.channels())) {
            agent.start();
            zk.publish("default", "agent-1", 1, TASK);
            await().atMost(WAIT).until(() -> agent.scheduledTaskIds().contains(TASK));
            clock.set(minute(1).plusMillis(100));
            await().atMost(WAIT).until(() -> finishedByFire().containsKey(minute(1)));
        }

        // Down for four minutes: 10:02 to 10:05 pass unseen; the agent is back at 10:05:30.
        clock.set(minute(5).plusSeconds(30));
        try (Agent restarted = new Agent(config, clock,
                address -> InProcessChannelBuilder.forName("control-plane-is-down").build())) {
            restarted.start();
            // Life 1 journaled 2 events (start and finish of 10:01); now 3 MISSED plus the 10:05 run's 2.
            await().atMost(WAIT).until(() -> restarted.spoolStats().lastSequence() >= 2 + 5 && restarted.activeRuns() == 0);
            assertThat(restarted.isConnectedToControlPlane()).isFalse();
        }

        // The control plane is back: the spooled records arrive.
        try (Agent delivering = new Agent(config, clock, gateway.channels())) {
            delivering.start();
            await().atMost(WAIT).until(() -> finishedByFire().containsKey(minute(5)));
        }
        Map<Instant, RunFinished> finished = finishedByFire();
        for (int m = 2; m <= 4; m++) {
            assertThat(finished.get(minute(m)).getStatus()).as("fire at minute %d", m).isEqualTo(RunStatus.RUN_STATUS_MISSED);
            assertThat(finished.get(minute(m)).getError()).contains("missed");
        }
        assertThat(finished.get(minute(5)).getStatus()).isEqualTo(RunStatus.RUN_STATUS_SUCCEEDED);
        assertThat(finished.get(minute(5)).getTrigger()).isEqualTo(Trigger.TRIGGER_SCHEDULE);
        assertThat(finished.keySet()).containsExactlyInAnyOrder(minute(1), minute(2), minute(3), minute(4), minute(5));
    }

    @Test
    void aFirstAssignmentAfterLongAbsenceReplaysNothing() throws Exception {
        TaskSpec spec = TestSpecs.cron(TASK, 1, "0 * * * * ?").build();
        serve(spec);
        MutableClock clock = new MutableClock(minute(30).plusSeconds(30));
        AgentConfig config = TestAgents.config(workDir, zk.connectString());
        try (Agent agent = new Agent(config, clock, gateway.channels())) {
            agent.start();
            zk.publish("default", "agent-1", 1, TASK);
            await().atMost(WAIT).until(() -> agent.scheduledTaskIds().contains(TASK));
            clock.set(minute(31).plusMillis(100));
            await().atMost(WAIT).until(() -> finishedByFire().containsKey(minute(31)));
        }

        assertThat(finishedByFire().keySet()).containsExactly(minute(31));
    }

    private Map<Instant, RunFinished> finishedByFire() {
        List<RunFinished> all = gateway.runEvents().stream().filter(AgentMessage::hasRunFinished)
                .map(AgentMessage::getRunFinished).filter(f -> f.getTaskId().equals(TASK)).toList();
        return all.stream().collect(Collectors.toMap(f -> Timestamps.toInstant(f.getFireTime()), f -> f, (a, b) -> a));
    }

    private void serve(TaskSpec spec) {
        gateway.specs = request -> {
            TaskSpecs.Builder answer = TaskSpecs.newBuilder();
            for (String id : request.getTaskIdsList()) {
                if (id.equals(spec.getTaskId())) {
                    answer.addSpecs(spec);
                } else {
                    answer.addMissingTaskIds(id);
                }
            }
            return answer.build();
        };
    }
}
