package io.cloudtask.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A file the test tasks append "{task} {fire time} {working directory}" to, one line per
 * execution. It sees a fire that ran twice, which the database's one-run-per-fire constraint would
 * hide, and which agent ran it (each agent has its own work directory).
 */
final class Ledger {
    /** One execution. */
    record Execution(String taskId, Instant fireTime, String agentDir) {
        /** The agent that ran it: its work directory is named "agent-{id}" (CloudTaskSystem.startAgent). */
        String agentId() {
            for (Path part : Path.of(agentDir)) {
                if (part.toString().startsWith("agent-")) {
                    return part.toString().substring("agent-".length());
                }
            }
            throw new IllegalStateException("no agent work directory in " + agentDir);
        }
    }

    private final Path file;

    Ledger(Path file) {
        this.file = file;
    }

    /** The shell command that records an execution. */
    String command() {
        return "echo \\\"$CLOUDTASK_TASK_ID $CLOUDTASK_FIRE_TIME $(pwd)\\\" >> " + file;
    }

    /** Tasks that fire every second with standard delivery (fencing alone). */
    List<String> createTasks(Api api, String prefix, int count) {
        return createTasks(api, prefix, count, "STANDARD");
    }

    /** Tasks that fire every second with strict delivery: each fire is claimed from the control plane first. */
    List<String> createStrictTasks(Api api, String prefix, int count) {
        return createTasks(api, prefix, count, "STRICT");
    }

    private List<String> createTasks(Api api, String prefix, int count, String delivery) {
        List<String> taskIds = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            taskIds.add(api.createTask("""
                    {"name": "%s-%d", "command": "%s", "schedules": [{"expression": "* * * * * ?"}],
                     "delivery": {"policy": "%s"}}"""
                    .formatted(prefix, i, command(), delivery)).get("id").asText());
        }
        return taskIds;
    }

    List<Execution> read() {
        try {
            if (!Files.exists(file)) {
                return List.of();
            }
            List<Execution> executions = new ArrayList<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                String[] parts = line.split(" ");
                if (parts.length == 3) {
                    executions.add(new Execution(parts[0], Instant.parse(parts[1]), parts[2]));
                }
            }
            return executions;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** "task@fire" keys of fires that ran more than once, with their counts. */
    Map<String, Integer> duplicateFires() {
        Map<String, Integer> counts = new HashMap<>();
        read().forEach(e -> counts.merge(e.taskId() + "@" + e.fireTime(), 1, Integer::sum));
        counts.values().removeIf(count -> count < 2);
        return counts;
    }

    /** Tasks the given agent ran with a fire time after {@code after}. */
    Set<String> tasksRunBy(String agentId, Instant after) {
        Set<String> tasks = new HashSet<>();
        for (Execution execution : read()) {
            if (execution.agentDir().contains("agent-" + agentId) && execution.fireTime().isAfter(after)) {
                tasks.add(execution.taskId());
            }
        }
        return tasks;
    }

    /** The first fire of one of the tasks that another agent than {@code formerAgent} ran after {@code after}. */
    java.util.Optional<Instant> firstFireElsewhere(Set<String> taskIds, String formerAgent, Instant after) {
        return read().stream().filter(e -> taskIds.contains(e.taskId()) && !e.agentId().equals(formerAgent)
                && e.fireTime().isAfter(after)).map(Execution::fireTime).min(Instant::compareTo);
    }

    /** Distinct fire times of a task in [from, to). */
    Set<Instant> fires(String taskId, Instant from, Instant to) {
        Set<Instant> fires = new HashSet<>();
        for (Execution execution : read()) {
            if (execution.taskId().equals(taskId) && !execution.fireTime().isBefore(from)
                    && execution.fireTime().isBefore(to)) {
                fires.add(execution.fireTime());
            }
        }
        return fires;
    }

    /** Whether every task has fired at or after {@code instant}. */
    boolean allFiredSince(List<String> taskIds, Instant instant) {
        List<Execution> executions = read();
        return taskIds.stream().allMatch(taskId -> executions.stream()
                .anyMatch(e -> e.taskId().equals(taskId) && !e.fireTime().isBefore(instant)));
    }
}
