package io.cloudtask.controlplane.allocation;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.function.IntFunction;

/** Random but reproducible allocation inputs: everything derives from one seed. */
final class Scenarios {
    static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");
    private static final List<String> SELECTORS = List.of("os=linux", "os=windows", "zone=a", "zone!=a",
            "os=linux,zone=b", "gpu", "!gpu", "os=windows,zone=c", "zone=b,gpu");

    private final Random random;

    Scenarios(long seed) {
        this.random = new Random(seed);
    }

    Random random() {
        return random;
    }

    static String taskId(Random random) {
        return new UUID(random.nextLong(), random.nextLong()).toString();
    }

    AgentState agent(int number) {
        Map<String, String> labels = new HashMap<>();
        labels.put("os", random.nextInt(3) == 0 ? "windows" : "linux");
        labels.put("zone", List.of("a", "b", "c").get(random.nextInt(3)));
        if (random.nextInt(4) == 0) {
            labels.put("gpu", "true");
        }
        // Ids are not generated in sorted order, so input order differs from id order.
        String id = "agent-" + Integer.toString(number * 7919 % 1000 + 1000, 36) + "-" + number;
        return new AgentState(id, "Host-" + number + ".example", labels, 1 + random.nextInt(4), false, true);
    }

    /** Live agents, a few cordoned; none dead (tests make agents leave explicitly). */
    List<AgentState> agents(int count, double cordonedShare) {
        List<AgentState> agents = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            agents.add(agent(i).withCordoned(random.nextDouble() < cordonedShare));
        }
        return agents;
    }

    TaskPlacement placement(List<AgentState> agents) {
        int roll = random.nextInt(20);
        if (roll < 11 || agents.isEmpty()) {
            return TaskPlacement.any();
        }
        if (roll < 13) {
            List<String> names = new ArrayList<>();
            for (int i = 0, n = 1 + random.nextInt(3); i < n; i++) {
                AgentState agent = agents.get(random.nextInt(agents.size()));
                int how = random.nextInt(4);
                names.add(how == 0 ? agent.hostname().toUpperCase() : how == 1 ? "unknown-" + i : agent.id());
            }
            return TaskPlacement.named(names);
        }
        if (roll < 18) {
            return TaskPlacement.labels(SELECTORS.get(random.nextInt(SELECTORS.size())));
        }
        return random.nextBoolean() ? TaskPlacement.broadcast()
                : TaskPlacement.broadcast(SELECTORS.get(random.nextInt(SELECTORS.size())));
    }

    List<AllocationTask> tasks(int count, List<AgentState> agents, boolean anyOnly) {
        List<AllocationTask> tasks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            TaskPlacement placement = anyOnly ? TaskPlacement.any() : placement(agents);
            tasks.add(new AllocationTask(taskId(random), 1 + random.nextInt(5), placement, Set.of()));
        }
        return tasks;
    }

    /** Marks some tasks as running on one of the agents that the allocation put them on. */
    List<AllocationTask> withRunsInFlight(List<AllocationTask> tasks, Allocation allocation, double share) {
        Map<String, List<String>> owners = allocation.agentsByTask();
        List<AllocationTask> result = new ArrayList<>();
        for (AllocationTask task : tasks) {
            List<String> on = owners.getOrDefault(task.taskId(), List.of());
            if (!on.isEmpty() && random.nextDouble() < share) {
                result.add(task.withRunningOn(Set.of(on.get(random.nextInt(on.size())))));
            } else {
                result.add(task);
            }
        }
        return result;
    }

    static AllocationInput input(List<AllocationTask> tasks, List<AgentState> agents,
            Map<String, ? extends Collection<String>> previous, boolean rebalanceOnJoin) {
        return new AllocationInput(tasks, agents, previous, NOW, new AllocatorOptions(rebalanceOnJoin));
    }

    static AllocationInput withPrevious(AllocationInput input, Map<String, ? extends Collection<String>> previous) {
        return new AllocationInput(input.tasks(), input.agents(), previous, input.now(), input.options());
    }

    static AllocationInput withAgents(AllocationInput input, List<AgentState> agents) {
        return new AllocationInput(input.tasks(), agents, input.previous(), input.now(), input.options());
    }

    static AllocationInput withTasks(AllocationInput input, List<AllocationTask> tasks) {
        return new AllocationInput(tasks, input.agents(), input.previous(), input.now(), input.options());
    }

    /** The same input with every list and map in a different order. */
    AllocationInput shuffled(AllocationInput input) {
        List<AllocationTask> tasks = new ArrayList<>(input.tasks());
        Collections.shuffle(tasks, random);
        List<AgentState> agents = new ArrayList<>(input.agents());
        Collections.shuffle(agents, random);
        List<String> agentIds = new ArrayList<>(input.previous().keySet());
        Collections.shuffle(agentIds, random);
        Map<String, List<String>> previous = new LinkedHashMap<>();
        for (String agentId : agentIds) {
            List<String> taskIds = new ArrayList<>(input.previous().get(agentId));
            Collections.shuffle(taskIds, random);
            previous.put(agentId, taskIds);
        }
        return new AllocationInput(tasks, agents, previous, input.now(), input.options());
    }

    /** Any previous allocation at all: tasks on random agents, some dead or unknown, some twice. */
    Map<String, List<String>> arbitraryPrevious(List<AllocationTask> tasks, List<AgentState> agents) {
        Map<String, List<String>> previous = new HashMap<>();
        IntFunction<String> anyAgent = i -> i < agents.size() ? agents.get(i).id() : "gone-" + i;
        for (AllocationTask task : tasks) {
            int copies = random.nextInt(10) < 7 ? 1 : random.nextInt(3);
            for (int c = 0; c < copies; c++) {
                String agent = anyAgent.apply(random.nextInt(agents.size() + 2));
                previous.computeIfAbsent(agent, a -> new ArrayList<>()).add(task.taskId());
            }
        }
        if (random.nextBoolean()) {
            previous.computeIfAbsent("gone-x", a -> new ArrayList<>()).add("deleted-task");
        }
        return previous;
    }
}
