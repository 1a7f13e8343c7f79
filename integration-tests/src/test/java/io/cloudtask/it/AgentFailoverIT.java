package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Failover with every component a separate process. The tasks themselves append
 * "{task} {fire time} {working directory}" to a ledger file, so a fire that ran twice (which the
 * database's one-run-per-fire constraint would hide) is seen.
 */
class AgentFailoverIT {
    private static final Logger log = LoggerFactory.getLogger(AgentFailoverIT.class);
    private static final int TASKS = 8;

    @TempDir
    Path workDir;

    /** One line of the ledger. */
    private record Execution(String taskId, String fireTime, String agentDir) {}

    private List<String> createTasks(Api api, Path ledger) {
        List<String> taskIds = new ArrayList<>();
        for (int i = 0; i < TASKS; i++) {
            taskIds.add(api.createTask("""
                    {"name": "failover-%d", "command": "echo \\"$CLOUDTASK_TASK_ID $CLOUDTASK_FIRE_TIME $(pwd)\\" >> %s",
                     "schedules": [{"expression": "* * * * * ?"}]}""".formatted(i, ledger)).get("id").asText());
        }
        return taskIds;
    }

    private static List<Execution> ledger(Path ledger) {
        try {
            if (!Files.exists(ledger)) {
                return List.of();
            }
            List<Execution> executions = new ArrayList<>();
            for (String line : Files.readAllLines(ledger, StandardCharsets.UTF_8)) {
                String[] parts = line.split(" ");
                if (parts.length == 3) {
                    executions.add(new Execution(parts[0], parts[1], parts[2]));
                }
            }
            return executions;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, Integer> duplicateFires(List<Execution> executions) {
        Map<String, Integer> counts = new HashMap<>();
        executions.forEach(e -> counts.merge(e.taskId() + "@" + e.fireTime(), 1, Integer::sum));
        counts.values().removeIf(count -> count < 2);
        return counts;
    }

    private static Set<String> tasksRunBy(List<Execution> executions, String agentId, Instant after) {
        Set<String> tasks = new HashSet<>();
        for (Execution execution : executions) {
            if (execution.agentDir().contains("agent-" + agentId) && Instant.parse(execution.fireTime()).isAfter(after)) {
                tasks.add(execution.taskId());
            }
        }
        return tasks;
    }

    @Test
    void aKilledAgentsTasksMoveWithinTheSessionTimeoutAndNoFireRunsTwice() throws Exception {
        Path ledger = workDir.resolve("ledger.txt");
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            ManagedProcess first = system.startAgent("kill-a");
            system.startAgent("kill-b");
            Api api = system.api();
            List<String> taskIds = createTasks(api, ledger);
            await("both agents firing").atMost(scaled(Duration.ofSeconds(60)))
                    .until(() -> !tasksRunBy(ledger(ledger), "kill-a", Instant.now().minusSeconds(3)).isEmpty()
                            && !tasksRunBy(ledger(ledger), "kill-b", Instant.now().minusSeconds(3)).isEmpty());
            Set<String> onFirst = tasksRunBy(ledger(ledger), "kill-a", Instant.now().minusSeconds(3));

            Instant killed = Instant.now();
            first.kill();
            await("the killed agent's tasks firing on the survivor").atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> tasksRunBy(ledger(ledger), "kill-b", killed).containsAll(onFirst));
            Instant firstMoved = ledger(ledger).stream()
                    .filter(e -> onFirst.contains(e.taskId()) && e.agentDir().contains("agent-kill-b"))
                    .map(e -> Instant.parse(e.fireTime())).filter(t -> t.isAfter(killed))
                    .min(Instant::compareTo).orElseThrow();
            log.info("kill -9 → first moved fire after {} ms", Duration.between(killed, firstMoved).toMillis());

            // Every fire from 2 s after the move on runs exactly once, on the survivor.
            Instant settled = firstMoved.plusSeconds(2);
            await("every task has fired past the checked window").atMost(scaled(Duration.ofSeconds(20)))
                    .until(() -> taskIds.stream().allMatch(taskId -> ledger(ledger).stream().anyMatch(e ->
                            e.taskId().equals(taskId) && !Instant.parse(e.fireTime()).isBefore(settled.plusSeconds(4)))));
            List<Execution> executions = ledger(ledger);
            assertThat(duplicateFires(executions)).as("fires that ran twice").isEmpty();
            for (String taskId : taskIds) {
                Set<String> fires = new HashSet<>();
                executions.stream().filter(e -> e.taskId().equals(taskId)
                                && !Instant.parse(e.fireTime()).isBefore(settled)
                                && Instant.parse(e.fireTime()).isBefore(settled.plusSeconds(4)))
                        .forEach(e -> fires.add(e.fireTime()));
                assertThat(fires).as("fires of task %s in the 4 s after recovery", taskId).hasSize(4);
            }
        }
    }

    @Test
    void aFrozenAgentThatComesBackDoesNotFireWhatMovedAway() throws Exception {
        Path ledger = workDir.resolve("ledger.txt");
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            ManagedProcess zombie = system.startAgent("zombie-a");
            system.startAgent("zombie-b");
            Api api = system.api();
            createTasks(api, ledger);
            await("both agents firing").atMost(scaled(Duration.ofSeconds(60)))
                    .until(() -> !tasksRunBy(ledger(ledger), "zombie-a", Instant.now().minusSeconds(3)).isEmpty()
                            && !tasksRunBy(ledger(ledger), "zombie-b", Instant.now().minusSeconds(3)).isEmpty());
            Set<String> onZombie = tasksRunBy(ledger(ledger), "zombie-a", Instant.now().minusSeconds(3));

            Instant frozen = Instant.now();
            signal(zombie, "STOP");
            await("the frozen agent's tasks firing on the other agent").atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> tasksRunBy(ledger(ledger), "zombie-b", frozen).containsAll(onZombie));
            Instant thawed = Instant.now();
            signal(zombie, "CONT");
            log.info("froze agent for {} ms", Duration.between(frozen, thawed).toMillis());

            // For 8 s after it wakes up, no fire may run twice: the zombie must fence itself.
            await("no fire runs twice after the zombie wakes").during(scaled(Duration.ofSeconds(8)))
                    .atMost(scaled(Duration.ofSeconds(20))).pollInterval(Duration.ofMillis(500))
                    .until(() -> duplicateFires(ledger(ledger)).isEmpty());
            assertThat(zombie.isAlive()).isTrue();
        }
    }

    private static void signal(ManagedProcess process, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
        assertThat(kill.waitFor()).isZero();
    }
}
