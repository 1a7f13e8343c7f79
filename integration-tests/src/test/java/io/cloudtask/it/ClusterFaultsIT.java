package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Faults of the coordination layer with a real 3-node ZooKeeper ensemble, two control-plane
 * replicas and two agents, all separate processes.
 */
class ClusterFaultsIT {
    private static final Logger log = LoggerFactory.getLogger(ClusterFaultsIT.class);
    private static final int TASKS = 6;

    @TempDir
    Path workDir;

    @Test
    void stoppingTheZooKeeperLeaderNeitherDoublesNorStopsFiring() throws Exception {
        Ledger ledger = new Ledger(workDir.resolve("ledger.txt"));
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeperEnsemble(3).startControlPlane();
            system.startExtraReplica("replica-2");
            system.startAgent("ens-a");
            system.startAgent("ens-b");
            List<String> taskIds = ledger.createTasks(system.api(), "ensemble", TASKS);
            await("all tasks firing").atMost(scaled(Duration.ofSeconds(60)))
                    .until(() -> ledger.allFiredSince(taskIds, Instant.now().minusSeconds(2)));

            ManagedProcess leader = system.zookeeperLeader();
            Instant stopped = Instant.now();
            leader.kill();
            await("a new ZooKeeper leader").atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> system.zookeeperLeader() != null);
            await("all tasks firing again").atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> ledger.allFiredSince(taskIds, Instant.now().minusSeconds(1)));
            log.info("ZooKeeper leader killed; ensemble and firing recovered after {} ms",
                    Duration.between(stopped, Instant.now()).toMillis());

            Instant recovered = Instant.now();
            await("every task has fired past the checked window").atMost(scaled(Duration.ofSeconds(20)))
                    .until(() -> ledger.allFiredSince(taskIds, recovered.plusSeconds(5)));
            assertThat(ledger.duplicateFires()).as("fires that ran twice").isEmpty();
            // If the fault made the allocation move a task (an agent's session ended), the new
            // owner starts at the first fire after it got the task, so the fire at the hand-over
            // instant may be lost (docs/cluster.md); never more than that one.
            int lost = 0;
            for (String taskId : taskIds) {
                int fired = ledger.fires(taskId, recovered.plusSeconds(1), recovered.plusSeconds(5)).size();
                assertThat(fired).as("fires of task %s in the 4 s after recovery", taskId).isBetween(3, 4);
                lost += 4 - fired;
            }
            log.info("fires lost at hand-overs after the ZooKeeper leader failover: {}", lost);
        }
    }

    @Test
    void killingTheControlPlaneLeaderLosesNoFireAndAnotherReplicaTakesOver() throws Exception {
        Ledger ledger = new Ledger(workDir.resolve("ledger.txt"));
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeperEnsemble(3).startControlPlane();
            CloudTaskSystem.ReplicaHandle second = system.startExtraReplica("replica-2");
            system.startAgent("cp-a");
            system.startAgent("cp-b");
            List<String> taskIds = ledger.createTasks(system.api(), "cp-kill", TASKS);
            await("all tasks firing").atMost(scaled(Duration.ofSeconds(60)))
                    .until(() -> ledger.allFiredSince(taskIds, Instant.now().minusSeconds(2)));

            // replica-1 started first and leads; agents keep firing on their own clocks meanwhile.
            Instant killed = Instant.now();
            system.controlPlane().kill();
            JsonNode created = second.api().createTask("""
                    {"name": "after-the-kill", "command": "%s", "schedules": [{"expression": "* * * * * ?"}]}"""
                    .formatted(ledger.command()));
            String newTask = created.get("id").asText();
            await("the new leader publishes a task created after the kill").atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> ledger.allFiredSince(List.of(newTask), killed));
            log.info("control-plane leader killed; a task created on the survivor first fired {} ms later",
                    Duration.between(killed, ledger.read().stream().filter(e -> e.taskId().equals(newTask))
                            .map(Ledger.Execution::fireTime).min(Instant::compareTo).orElseThrow()).toMillis());

            // Agents never stopped: every second of the outage fired every old task exactly once.
            Instant end = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
            Instant from = killed.truncatedTo(java.time.temporal.ChronoUnit.SECONDS).plusSeconds(1);
            assertThat(ledger.duplicateFires()).as("fires that ran twice").isEmpty();
            for (String taskId : taskIds) {
                assertThat(ledger.fires(taskId, from, end)).as("fires of task %s during the failover", taskId)
                        .hasSize((int) Duration.between(from, end).toSeconds());
            }
            // Their results reach the surviving replica.
            await("runs stored through the surviving replica").atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> second.api().queryRuns("from=" + from + "&to=" + end).stream()
                            .filter(run -> taskIds.contains(run.get("taskId").asText())).count()
                            == (long) taskIds.size() * Duration.between(from, end).toSeconds());
        }
    }
}
