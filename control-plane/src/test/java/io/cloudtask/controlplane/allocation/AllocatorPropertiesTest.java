package io.cloudtask.controlplane.allocation;

import static io.cloudtask.controlplane.allocation.Scenarios.input;
import static io.cloudtask.controlplane.allocation.Scenarios.withAgents;
import static io.cloudtask.controlplane.allocation.Scenarios.withPrevious;
import static io.cloudtask.controlplane.allocation.Scenarios.withTasks;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.Test;

/**
 * The allocator's guarantees, each checked on hundreds of generated inputs. Every input derives
 * from a seed, and a failure names its seed: rerun it with {@code forEachSeed(seed, seed + 1, ...)}.
 * For a longer search, run with {@code -Dallocator.seeds=20000}.
 */
class AllocatorPropertiesTest {
    private static final int SEEDS = Integer.getInteger("allocator.seeds", 400);
    private final Allocator allocator = new Allocator();

    private static void forEachSeed(long from, long to, LongConsumer property) {
        for (long seed = from; seed < to; seed++) {
            try {
                property.accept(seed);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("property failed for seed " + seed + ": " + e.getMessage(), e);
            }
        }
    }

    /** A random cluster: tasks of every placement kind, some cordoned agents, an arbitrary previous allocation. */
    private static AllocationInput arbitraryInput(Scenarios scenarios) {
        var random = scenarios.random();
        List<AgentState> agents = scenarios.agents(random.nextInt(12), 0.15);
        List<AllocationTask> tasks = scenarios.tasks(random.nextInt(80), agents, false);
        List<AgentState> withDead = new ArrayList<>(agents);
        if (!agents.isEmpty() && random.nextBoolean()) {
            int dead = random.nextInt(withDead.size());
            withDead.set(dead, withDead.get(dead).withAlive(false));
        }
        AllocationInput input = input(tasks, withDead, scenarios.arbitraryPrevious(tasks, agents), random.nextBoolean());
        List<AllocationTask> running = new ArrayList<>();
        for (AllocationTask task : tasks) {
            Set<String> on = new HashSet<>();
            for (var entry : input.previous().entrySet()) {
                if (entry.getValue().contains(task.taskId()) && random.nextInt(5) == 0) {
                    on.add(entry.getKey());
                }
            }
            running.add(task.withRunningOn(on));
        }
        return withTasks(input, running);
    }

    /** An allocation computed from scratch and then fed back: what the cluster looks like at rest. */
    private Allocation steady(AllocationInput input) {
        Allocation first = allocator.allocate(withPrevious(input, Map.of()));
        return allocator.allocate(withPrevious(input, first.tasksByAgent()));
    }

    @Test
    void sameInputInAnyOrderGivesTheSameAllocation() {
        forEachSeed(0, SEEDS, seed -> {
            Scenarios scenarios = new Scenarios(seed);
            AllocationInput input = arbitraryInput(scenarios);
            Allocation expected = allocator.allocate(input);
            assertThat(allocator.allocate(scenarios.shuffled(input))).isEqualTo(expected);
            assertThat(allocator.allocate(input)).isEqualTo(expected);
        });
    }

    @Test
    void neverPlacesATaskOnADeadCordonedOrNonMatchingAgentUnlessItsRunIsInFlightThere() {
        forEachSeed(0, SEEDS, seed -> {
            AllocationInput input = arbitraryInput(new Scenarios(seed));
            AllocationChecks.assertValid(input, allocator.allocate(input));
        });
    }

    @Test
    void anAllocationFedBackChangesNothing() {
        forEachSeed(0, SEEDS, seed -> {
            AllocationInput input = arbitraryInput(new Scenarios(seed));
            Allocation first = allocator.allocate(input);
            Allocation again = allocator.allocate(withPrevious(input, first.tasksByAgent()));
            assertThat(again.tasksByAgent()).isEqualTo(first.tasksByAgent());
            assertThat(again.moves()).isEmpty();
            assertThat(again.unassigned()).isEqualTo(first.unassigned());
        });
    }

    @Test
    void aValidPreviousAllocationIsKeptAsItIsHoweverUnbalanced() {
        forEachSeed(0, SEEDS, seed -> {
            Scenarios scenarios = new Scenarios(seed);
            var random = scenarios.random();
            List<AgentState> agents = scenarios.agents(1 + random.nextInt(10), 0.15);
            List<AllocationTask> tasks = scenarios.tasks(random.nextInt(80), agents, false);
            Map<String, List<String>> previous = new HashMap<>();
            agents.forEach(agent -> previous.put(agent.id(), new ArrayList<>()));
            for (AllocationTask task : tasks) {
                List<String> eligible = agents.stream()
                        .filter(agent -> !agent.cordoned() && task.placement().admits(agent))
                        .map(AgentState::id).toList();
                if (task.placement().isBroadcast()) {
                    eligible.forEach(agent -> previous.get(agent).add(task.taskId()));
                } else if (!eligible.isEmpty()) {
                    // Skewed on purpose: the first eligible agent is the most likely.
                    int pick = random.nextBoolean() ? 0 : random.nextInt(eligible.size());
                    previous.get(eligible.get(pick)).add(task.taskId());
                }
            }
            Set<String> singleTaskIds = new HashSet<>();
            tasks.stream().filter(task -> !task.placement().isBroadcast()).forEach(task -> singleTaskIds.add(task.taskId()));
            boolean someoneIdle = agents.stream().anyMatch(agent -> !agent.cordoned()
                    && previous.get(agent.id()).stream().noneMatch(singleTaskIds::contains));
            // An agent without a single-agent task counts as joining, and may rightly take work
            // when rebalancing is on.
            boolean rebalanceOnJoin = !someoneIdle && random.nextBoolean();
            Allocation allocation = allocator.allocate(input(tasks, agents, previous, rebalanceOnJoin));
            Map<String, List<String>> expected = new HashMap<>();
            previous.forEach((agent, taskIds) -> expected.put(agent, taskIds.stream().sorted().toList()));
            assertThat(allocation.tasksByAgent()).isEqualTo(expected);
            assertThat(allocation.moves()).isEmpty();
        });
    }

    @Test
    void anAgentLeavingMovesOnlyItsOwnTasks() {
        forEachSeed(0, SEEDS, seed -> {
            Scenarios scenarios = new Scenarios(seed);
            var random = scenarios.random();
            List<AgentState> agents = scenarios.agents(2 + random.nextInt(10), 0.1);
            boolean anyOnly = random.nextBoolean();
            List<AllocationTask> tasks = scenarios.tasks(random.nextInt(120), agents, anyOnly);
            AllocationInput input = input(tasks, agents, Map.of(), random.nextBoolean());
            Allocation before = steady(input);
            AgentState leaver = agents.get(random.nextInt(agents.size()));
            List<AgentState> remaining = new ArrayList<>(agents);
            if (random.nextBoolean()) {
                remaining.remove(leaver);
            } else {
                remaining.set(remaining.indexOf(leaver), leaver.withAlive(false));
            }
            AllocationInput afterLeave = withPrevious(withAgents(input, remaining), before.tasksByAgent());
            Allocation after = allocator.allocate(afterLeave);
            AllocationChecks.assertValid(afterLeave, after);
            Set<String> singleTaskIds = new HashSet<>();
            tasks.stream().filter(task -> !task.placement().isBroadcast()).forEach(task -> singleTaskIds.add(task.taskId()));
            Set<String> idleBefore = new TreeSet<>();
            before.tasksByAgent().forEach((agent, taskIds) -> {
                if (taskIds.stream().noneMatch(singleTaskIds::contains)) {
                    idleBefore.add(agent);
                }
            });
            for (Move move : after.moves()) {
                if (move.from().isEmpty()) {
                    continue;
                }
                if (move.from().get().equals(leaver.id())) {
                    assertThat(move.reason()).isEqualTo(MoveReason.AGENT_LEFT);
                } else {
                    // Only with constraints can an idle agent (one that counts as joining) find a
                    // task worth taking once the leaver's tasks landed elsewhere.
                    assertThat(anyOnly).as("moves %s with only ANY tasks", move).isFalse();
                    assertThat(input.options().rebalanceOnJoin()).isTrue();
                    assertThat(move.reason()).isEqualTo(MoveReason.REBALANCE_JOIN);
                    assertThat(idleBefore).contains(move.to().orElseThrow());
                }
            }
            if (anyOnly || !input.options().rebalanceOnJoin() || idleBefore.isEmpty()) {
                for (String agent : after.tasksByAgent().keySet()) {
                    assertThat(after.tasksOf(agent)).containsAll(before.tasksOf(agent));
                }
            }
        });
    }

    @Test
    void anAgentJoiningTakesAtMostItsShareOfTasksOrNoneIfConfigured() {
        forEachSeed(0, SEEDS, seed -> {
            Scenarios scenarios = new Scenarios(seed);
            var random = scenarios.random();
            List<AgentState> agents = scenarios.agents(1 + random.nextInt(10), 0.1);
            List<AllocationTask> tasks = scenarios.tasks(random.nextInt(300), agents, random.nextBoolean());
            boolean rebalanceOnJoin = random.nextBoolean();
            AllocationInput input = input(tasks, agents, Map.of(), rebalanceOnJoin);
            Allocation before = steady(input);
            AgentState joiner = scenarios.agent(100 + random.nextInt(100));
            List<AgentState> grown = new ArrayList<>(agents);
            grown.add(joiner);
            AllocationInput afterJoin = withPrevious(withAgents(input, grown), before.tasksByAgent());
            Allocation after = allocator.allocate(afterJoin);
            AllocationChecks.assertValid(afterJoin, after);

            long singleTasks = tasks.stream().filter(task -> !task.placement().isBroadcast()).count();
            long takers = grown.stream().filter(agent -> !agent.cordoned()).count();
            long limit = rebalanceOnJoin ? (singleTasks + takers - 1) / takers + 1 : 0;
            List<Move> relocations = after.moves().stream().filter(Move::isRelocation).toList();
            assertThat(relocations).hasSizeLessThanOrEqualTo((int) limit);
            relocations.forEach(move -> {
                assertThat(move.to()).contains(joiner.id());
                assertThat(move.reason()).isEqualTo(MoveReason.REBALANCE_JOIN);
            });
            // Everything else reaches the joiner without leaving anyone: broadcast copies, and
            // tasks that matched no agent until the joiner came.
            after.moves().stream().filter(move -> !move.isRelocation()).forEach(move -> {
                assertThat(move.to()).contains(joiner.id());
                assertThat(move.reason()).isIn(MoveReason.BROADCAST_MATCHED, MoveReason.NEW_TASK);
            });
        });
    }

    @Test
    void anyTasksSpreadWithinTenPercentOfTheCapacityWeightedShareFromScratchAfterALeaveAndAfterAJoin() {
        forEachSeed(0, SEEDS / 2, seed -> {
            Scenarios scenarios = new Scenarios(seed);
            var random = scenarios.random();
            List<AgentState> agents = scenarios.agents(1 + random.nextInt(12), 0);
            int totalCapacity = agents.stream().mapToInt(AgentState::capacity).sum();
            // At least ten tasks per unit of capacity, so that one task is within 10% of any share.
            int taskCount = totalCapacity * (10 + random.nextInt(20));
            AllocationInput input = input(scenarios.tasks(taskCount, agents, true), agents, Map.of(), true);
            Allocation fresh = allocator.allocate(input);
            AllocationChecks.assertBalanced(agents, fresh);

            if (agents.size() > 1) {
                List<AgentState> remaining = new ArrayList<>(agents);
                remaining.remove(random.nextInt(remaining.size()));
                Allocation afterLeave = allocator.allocate(withPrevious(withAgents(input, remaining), fresh.tasksByAgent()));
                AllocationChecks.assertBalanced(remaining, afterLeave);
            }

            // A joiner no heavier than the mean agent: a heavier one is capped by its move budget.
            List<AgentState> grown = new ArrayList<>(agents);
            int meanCapacity = Math.max(1, totalCapacity / agents.size());
            grown.add(scenarios.agent(500).withCapacity(1 + random.nextInt(meanCapacity)));
            Allocation afterJoin = allocator.allocate(withPrevious(withAgents(input, grown), fresh.tasksByAgent()));
            AllocationChecks.assertBalanced(grown, afterJoin);
        });
    }

    @Test
    void aTaskWithARunInFlightStaysOnItsAgentWhileThatAgentLivesWhateverElseChanges() {
        int[] pinnedOverall = {0};
        forEachSeed(0, SEEDS, seed -> {
            Scenarios scenarios = new Scenarios(seed);
            var random = scenarios.random();
            List<AgentState> agents = scenarios.agents(2 + random.nextInt(8), 0);
            List<AllocationTask> tasks = scenarios.tasks(10 + random.nextInt(80), agents, false);
            AllocationInput input = input(tasks, agents, Map.of(), true);
            Allocation before = steady(input);
            List<AllocationTask> running = scenarios.withRunsInFlight(tasks, before, 0.3);

            // Cordon some agents, relabel others, make one leave, add a joiner, change placements.
            List<AgentState> changed = new ArrayList<>();
            for (AgentState agent : agents) {
                int roll = random.nextInt(4);
                changed.add(roll == 0 ? agent.withCordoned(true)
                        : roll == 1 ? agent.withLabels(Map.of("os", "plan9")) : agent);
            }
            AgentState leaver = changed.remove(random.nextInt(changed.size()));
            changed.add(scenarios.agent(700));
            List<AllocationTask> replaced = running.stream()
                    .map(task -> random.nextBoolean() ? task.withPlacement(scenarios.placement(agents)) : task)
                    .toList();
            AllocationInput afterChanges = input(replaced, changed, before.tasksByAgent(), true);
            Allocation after = allocator.allocate(afterChanges);
            AllocationChecks.assertValid(afterChanges, after);

            Map<String, List<String>> owners = after.agentsByTask();
            for (AllocationTask task : replaced) {
                for (String agent : task.runningOn()) {
                    if (!agent.equals(leaver.id()) && before.tasksOf(agent).contains(task.taskId())) {
                        assertThat(owners.get(task.taskId())).as("agents of %s", task.taskId()).contains(agent);
                        pinnedOverall[0]++;
                    } else {
                        assertThat(owners.getOrDefault(task.taskId(), List.of())).doesNotContain(leaver.id());
                    }
                }
            }
            // Once the runs finish, the pins go: nothing may stay where it is no longer allowed.
            List<AllocationTask> finished = replaced.stream().map(task -> task.withRunningOn(Set.of())).toList();
            AllocationInput afterRuns = input(finished, changed, after.tasksByAgent(), true);
            AllocationChecks.assertValid(afterRuns, allocator.allocate(afterRuns));
        });
        assertThat(pinnedOverall[0]).as("tasks kept by a run in flight, over all seeds").isGreaterThan(100);
    }
}
