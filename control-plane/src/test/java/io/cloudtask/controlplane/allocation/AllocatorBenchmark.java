package io.cloudtask.controlplane.allocation;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Cost of one allocation pass on a large cluster of ANY tasks over agents of capacity 1–4, for
 * each pass the leader runs: the first (nothing placed yet), a steady one (the previous allocation
 * fed back), one after an agent left and one after an agent joined. Run with
 * {@code ./mvnw -B -pl control-plane -am -Pbench verify -DskipTests} (see docs/cluster.md).
 *
 * <p>How many tasks a leave or a join moves matters as much as its time, and JMH only times:
 * {@link #main} prints those counts for the same clusters (the bench profile runs it before JMH).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class AllocatorBenchmark {
    @Param({"10000", "100000"})
    public int tasks;

    @Param({"100", "1000"})
    public int agents;

    private final Allocator allocator = new Allocator();
    private AllocationInput fresh;
    private AllocationInput steady;
    private AllocationInput oneLeft;
    private AllocationInput oneJoined;

    @Setup(Level.Trial)
    public void buildCluster() {
        Random random = new Random(42);
        List<AllocationTask> taskList = new ArrayList<>(tasks);
        for (int i = 0; i < tasks; i++) {
            taskList.add(AllocationTask.of(Scenarios.taskId(random), 1));
        }
        List<AgentState> agentList = new ArrayList<>(agents);
        for (int i = 0; i < agents; i++) {
            agentList.add(AgentState.of("agent-" + i).withCapacity(1 + random.nextInt(4)));
        }
        fresh = new AllocationInput(taskList, agentList, Map.of(), Scenarios.NOW, AllocatorOptions.defaults());
        steady = Scenarios.withPrevious(fresh, allocator.allocate(fresh).tasksByAgent());
        List<AgentState> fewer = new ArrayList<>(agentList);
        fewer.remove(agents / 2);
        oneLeft = Scenarios.withAgents(steady, fewer);
        List<AgentState> more = new ArrayList<>(agentList);
        more.add(AgentState.of("agent-new").withCapacity(2));
        oneJoined = Scenarios.withAgents(steady, more);
    }

    @Benchmark
    public Allocation first() {
        return allocator.allocate(fresh);
    }

    @Benchmark
    public Allocation steady() {
        return allocator.allocate(steady);
    }

    @Benchmark
    public Allocation oneAgentLeaves() {
        return allocator.allocate(oneLeft);
    }

    @Benchmark
    public Allocation oneAgentJoins() {
        return allocator.allocate(oneJoined);
    }

    /** Prints, for every size benchmarked, the tasks that one agent leaving and one joining move. */
    public static void main(String[] args) throws ReflectiveOperationException {
        // The sizes are read from the @Param annotations so that both always cover the same clusters.
        String[] taskCounts = AllocatorBenchmark.class.getField("tasks").getAnnotation(Param.class).value();
        String[] agentCounts = AllocatorBenchmark.class.getField("agents").getAnnotation(Param.class).value();
        PrintStream out = System.out;
        out.printf("Tasks moved by one allocation pass%n%8s %7s %12s %11s%n", "tasks", "agents", "one leaves", "one joins");
        for (String taskCount : taskCounts) {
            for (String agentCount : agentCounts) {
                AllocatorBenchmark cluster = new AllocatorBenchmark();
                cluster.tasks = Integer.parseInt(taskCount);
                cluster.agents = Integer.parseInt(agentCount);
                cluster.buildCluster();
                out.printf("%8s %7s %12d %11d%n", taskCount, agentCount, cluster.moved(cluster.oneLeft),
                        cluster.moved(cluster.oneJoined));
            }
        }
    }

    private long moved(AllocationInput input) {
        return allocator.allocate(input).moves().stream().filter(Move::isRelocation).count();
    }
}
