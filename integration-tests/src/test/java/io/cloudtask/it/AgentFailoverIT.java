package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Agent failures with every component a separate process; a {@link Ledger} sees double fires. */
class AgentFailoverIT {
    private static final Logger log = LoggerFactory.getLogger(AgentFailoverIT.class);
    private static final int TASKS = 8;

    @TempDir
    Path workDir;

    @Test
    void aKilledAgentsTasksMoveWithinTheSessionTimeoutAndNoFireRunsTwice() throws Exception {
        Ledger ledger = new Ledger(workDir.resolve("ledger.txt"));
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            ManagedProcess first = system.startAgent("kill-a");
            system.startAgent("kill-b");
            List<String> taskIds = ledger.createTasks(system.api(), "failover", TASKS);
            await("both agents firing").atMost(scaled(Duration.ofSeconds(60)))
                    .until(() -> !ledger.tasksRunBy("kill-a", Instant.now().minusSeconds(3)).isEmpty()
                            && !ledger.tasksRunBy("kill-b", Instant.now().minusSeconds(3)).isEmpty());
            Set<String> onFirst = ledger.tasksRunBy("kill-a", Instant.now().minusSeconds(3));

            Instant killed = Instant.now();
            first.kill();
            await("the killed agent's tasks firing on the survivor").atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> ledger.tasksRunBy("kill-b", killed).containsAll(onFirst));
            Instant firstMoved = ledger.read().stream()
                    .filter(e -> onFirst.contains(e.taskId()) && e.agentDir().contains("agent-kill-b"))
                    .map(Ledger.Execution::fireTime).filter(t -> t.isAfter(killed))
                    .min(Instant::compareTo).orElseThrow();
            log.info("kill -9 → first moved fire after {} ms", Duration.between(killed, firstMoved).toMillis());

            // Every fire from 2 s after the move on runs exactly once, on the survivor.
            Instant settled = firstMoved.plusSeconds(2);
            await("every task has fired past the checked window").atMost(scaled(Duration.ofSeconds(20)))
                    .until(() -> ledger.allFiredSince(taskIds, settled.plusSeconds(4)));
            assertThat(ledger.duplicateFires()).as("fires that ran twice").isEmpty();
            for (String taskId : taskIds) {
                assertThat(ledger.fires(taskId, settled, settled.plusSeconds(4)))
                        .as("fires of task %s in the 4 s after recovery", taskId).hasSize(4);
            }
        }
    }

    @Test
    void aFrozenAgentThatComesBackDoesNotFireWhatMovedAway() throws Exception {
        Ledger ledger = new Ledger(workDir.resolve("ledger.txt"));
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            ManagedProcess zombie = system.startAgent("zombie-a");
            system.startAgent("zombie-b");
            ledger.createTasks(system.api(), "zombie", TASKS);
            await("both agents firing").atMost(scaled(Duration.ofSeconds(60)))
                    .until(() -> !ledger.tasksRunBy("zombie-a", Instant.now().minusSeconds(3)).isEmpty()
                            && !ledger.tasksRunBy("zombie-b", Instant.now().minusSeconds(3)).isEmpty());
            Set<String> onZombie = ledger.tasksRunBy("zombie-a", Instant.now().minusSeconds(3));

            Instant frozen = Instant.now();
            zombie.signal("STOP");
            await("the frozen agent's tasks firing on the other agent").atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> ledger.tasksRunBy("zombie-b", frozen).containsAll(onZombie));
            Instant thawed = Instant.now();
            zombie.signal("CONT");
            log.info("froze agent for {} ms", Duration.between(frozen, thawed).toMillis());

            // For 8 s after it wakes up, no fire may run twice: the zombie must fence itself.
            await("no fire runs twice after the zombie wakes").during(scaled(Duration.ofSeconds(8)))
                    .atMost(scaled(Duration.ofSeconds(20))).pollInterval(Duration.ofMillis(500))
                    .until(() -> ledger.duplicateFires().isEmpty());
            assertThat(zombie.isAlive()).isTrue();
        }
    }
}
