package io.cloudtask.controlplane.allocation;

import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Times the allocator on large clusters of ANY tasks with mixed capacities. Not a test: run it
 * and record the figures in docs/cluster.md with the command that produced them.
 *
 * <p>For each size it prints p50 and max over the measured iterations of: a first allocation
 * (nothing placed yet), a steady pass (the previous allocation fed back), a pass after one agent
 * left, and a pass after one agent joined, with the tasks each of the last two moved.
 */
public final class AllocatorBenchmark {
    private static final int WARMUP = 3;
    private static final int MEASURED = 7;
    private static final PrintStream OUT = System.out;

    private AllocatorBenchmark() {}

    public static void main(String[] args) {
        OUT.printf("%-24s %-11s %8s %8s %8s%n", "case", "pass", "p50 ms", "max ms", "moved");
        for (int tasks : new int[] {10_000, 100_000}) {
            for (int agents : new int[] {100, 1_000}) {
                run(tasks, agents);
            }
        }
    }

    private static void run(int taskCount, int agentCount) {
        Random random = new Random(42);
        List<AllocationTask> tasks = new ArrayList<>(taskCount);
        for (int i = 0; i < taskCount; i++) {
            tasks.add(AllocationTask.of(Scenarios.taskId(random), 1));
        }
        List<AgentState> agents = new ArrayList<>(agentCount);
        for (int i = 0; i < agentCount; i++) {
            agents.add(AgentState.of("agent-" + i).withCapacity(1 + random.nextInt(4)));
        }
        Allocator allocator = new Allocator();
        AllocatorOptions options = AllocatorOptions.defaults();
        Instant now = Instant.parse("2030-01-01T00:00:00Z");
        AllocationInput fresh = new AllocationInput(tasks, agents, Map.of(), now, options);
        Allocation first = allocator.allocate(fresh);
        AllocationInput steady = Scenarios.withPrevious(fresh, first.tasksByAgent());
        List<AgentState> fewer = new ArrayList<>(agents);
        fewer.remove(agentCount / 2);
        AllocationInput leave = Scenarios.withAgents(steady, fewer);
        List<AgentState> more = new ArrayList<>(agents);
        more.add(AgentState.of("agent-new").withCapacity(2));
        AllocationInput join = Scenarios.withAgents(steady, more);

        String name = String.format("%,d tasks / %,d agents", taskCount, agentCount);
        time(name, "first", () -> allocator.allocate(fresh));
        time(name, "steady", () -> allocator.allocate(steady));
        time(name, "1 leaves", () -> allocator.allocate(leave));
        time(name, "1 joins", () -> allocator.allocate(join));
    }

    private static void time(String name, String pass, Supplier<Allocation> allocation) {
        long[] millis = new long[MEASURED];
        Allocation last = null;
        for (int i = 0; i < WARMUP + MEASURED; i++) {
            long start = System.nanoTime();
            last = allocation.get();
            long elapsed = (System.nanoTime() - start) / 1_000_000;
            if (i >= WARMUP) {
                millis[i - WARMUP] = elapsed;
            }
        }
        Arrays.sort(millis);
        long moved = last.moves().stream().filter(Move::isRelocation).count();
        OUT.printf("%-24s %-11s %8d %8d %8s%n", name, pass, millis[MEASURED / 2], millis[MEASURED - 1],
                pass.equals("first") ? "-" : Long.toString(moved));
    }
}
