package io.cloudtask.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Accounts for every fire of every-second tasks in a window of whole seconds, from two sources
 * that fail independently: the {@link Ledger} the tasks write themselves (what ran, how often, on
 * which agent) and the runs the agents reported ({@code GET /api/v1/runs}). Each fire lands in one
 * bucket:
 * <ul>
 *   <li><b>ran</b>: once in the ledger and stored SUCCEEDED;</li>
 *   <li><b>recorded by policy</b>: not in the ledger, stored MISSED or SKIPPED with a reason (the
 *       misfire policy after a fence, a strict claim granted past its deadline, the overlap policy);</li>
 *   <li><b>lost at a hand-over</b>: neither, and strictly between a run on one agent and the next run
 *       of the task on another. The new owner starts at its first fire after it received the task
 *       and replays nothing from before (docs/cluster.md "Fencing", docs/scheduling.md "Misfire"),
 *       whatever the task's delivery, so no one records these;</li>
 *   <li><b>unaccounted</b>: anything else, which no fault may produce;</li>
 *   <li><b>inconsistent</b>: the two sources disagree (ran twice, ran but stored as not run, stored twice);</li>
 *   <li><b>not stored yet</b>: ran, but its result has not reached the control plane (wait and ask again).</li>
 * </ul>
 * Stateless; every call reads both sources afresh.
 */
final class FireAccounting {
    private static final Set<String> NOT_RUN_BY_POLICY = Set.of("MISSED", "SKIPPED");

    private FireAccounting() {}

    /** A task changing agents: the fires strictly between these two runs belong to no one. */
    record HandOver(String taskId, String fromAgent, Instant lastFireThere, String toAgent, Instant firstFireHere) {}

    /**
     * What became of each fire of [from, to); fires are keyed "task@instant".
     *
     * @param lostAtHandOver each lost fire with the hand-over it fell into
     */
    record Report(Instant from, Instant to, int fires, int ran, Map<String, String> recordedByPolicy,
            Map<String, HandOver> lostAtHandOver, List<String> unaccounted, List<String> inconsistent,
            List<String> notStoredYet) {

        /** The hand-overs that lost at least one fire of the window. */
        Set<HandOver> handOvers() {
            Set<HandOver> handOvers = new TreeSet<>(Comparator.comparing(HandOver::taskId)
                    .thenComparing(HandOver::lastFireThere));
            handOvers.addAll(lostAtHandOver.values());
            return handOvers;
        }

        /** How many fires of the window were lost at the given hand-over. */
        long lostAt(HandOver handOver) {
            return lostAtHandOver.values().stream().filter(handOver::equals).count();
        }

        /** Fires of these tasks that did not run (recorded by policy or lost at a hand-over), oldest first. */
        List<Instant> notRun(Collection<String> taskIds) {
            List<String> keys = new ArrayList<>(recordedByPolicy.keySet());
            keys.addAll(lostAtHandOver.keySet());
            return keys.stream().filter(key -> taskIds.contains(key.substring(0, key.indexOf('@'))))
                    .map(key -> Instant.parse(key.substring(key.indexOf('@') + 1))).sorted().toList();
        }

        String summary() {
            return "%d fires in [%s, %s): %d ran, %d recorded by policy, %d lost at %d hand-over(s)".formatted(fires,
                    from, to, ran, recordedByPolicy.size(), lostAtHandOver.size(), handOvers().size());
        }
    }

    /** Accounts for the fires of {@code taskIds} in [from, to), both on whole seconds. */
    static Report account(Api api, Ledger ledger, Collection<String> taskIds, Instant from, Instant to) {
        List<Ledger.Execution> executions = ledger.read();
        Map<String, Integer> ranTimes = new HashMap<>();
        executions.forEach(e -> ranTimes.merge(e.taskId() + "@" + e.fireTime(), 1, Integer::sum));
        Map<String, List<JsonNode>> stored = new HashMap<>();
        for (JsonNode run : api.queryRuns("cluster=default&from=" + from + "&to=" + to)) {
            String taskId = run.get("taskId").asText();
            if (taskIds.contains(taskId)) {
                stored.computeIfAbsent(taskId + "@" + Instant.parse(run.get("fireTime").asText()), k -> new ArrayList<>())
                        .add(run);
            }
        }

        int fires = 0;
        int ran = 0;
        Map<String, String> recordedByPolicy = new LinkedHashMap<>();
        Map<String, HandOver> lostAtHandOver = new LinkedHashMap<>();
        List<String> unaccounted = new ArrayList<>();
        List<String> inconsistent = new ArrayList<>();
        List<String> notStoredYet = new ArrayList<>();
        for (String taskId : taskIds) {
            List<HandOver> handOvers = handOvers(taskId, executions);
            for (Instant fire = from; fire.isBefore(to); fire = fire.plusSeconds(1)) {
                fires++;
                String key = taskId + "@" + fire;
                int times = ranTimes.getOrDefault(key, 0);
                List<JsonNode> runs = stored.getOrDefault(key, List.of());
                JsonNode run = runs.isEmpty() ? null : runs.get(0);
                String status = run == null ? null : run.get("status").asText();
                if (runs.size() > 1) {
                    inconsistent.add(key + " stored " + runs.size() + " times: " + runs);
                } else if (times > 1) {
                    inconsistent.add(key + " ran " + times + " times");
                } else if (times == 1) {
                    if (run == null || run.get("finishedAt").isNull()) {
                        notStoredYet.add(key);
                    } else if (status.equals("SUCCEEDED")) {
                        ran++;
                    } else {
                        inconsistent.add(key + " ran but is stored " + status + ": " + run);
                    }
                } else if (run != null && NOT_RUN_BY_POLICY.contains(status) && !run.get("error").asText("").isBlank()) {
                    recordedByPolicy.put(key, status + ": " + run.get("error").asText());
                } else if (run != null && status.equals("RUNNING")) {
                    // Started; its ledger line follows when the process gets to write it.
                    notStoredYet.add(key);
                } else if (run != null) {
                    inconsistent.add(key + " never ran but is stored " + status + ": " + run);
                } else {
                    Optional<HandOver> handOver = containing(handOvers, fire);
                    if (handOver.isPresent()) {
                        lostAtHandOver.put(key, handOver.get());
                    } else {
                        unaccounted.add(key);
                    }
                }
            }
        }
        return new Report(from, to, fires, ran, recordedByPolicy, lostAtHandOver, unaccounted, inconsistent,
                notStoredYet);
    }

    /** Consecutive runs of the task (by fire time) on different agents. */
    private static List<HandOver> handOvers(String taskId, List<Ledger.Execution> executions) {
        List<Ledger.Execution> runs = executions.stream().filter(e -> e.taskId().equals(taskId))
                .sorted(Comparator.comparing(Ledger.Execution::fireTime)).toList();
        List<HandOver> handOvers = new ArrayList<>();
        for (int i = 1; i < runs.size(); i++) {
            Ledger.Execution before = runs.get(i - 1);
            Ledger.Execution after = runs.get(i);
            if (!before.agentId().equals(after.agentId())) {
                handOvers.add(new HandOver(taskId, before.agentId(), before.fireTime(), after.agentId(),
                        after.fireTime()));
            }
        }
        return handOvers;
    }

    private static Optional<HandOver> containing(List<HandOver> handOvers, Instant fire) {
        return handOvers.stream()
                .filter(h -> fire.isAfter(h.lastFireThere()) && fire.isBefore(h.firstFireHere()))
                .findFirst();
    }
}
