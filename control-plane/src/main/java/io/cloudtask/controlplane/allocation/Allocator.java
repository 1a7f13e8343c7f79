package io.cloudtask.controlplane.allocation;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.TreeMap;

/**
 * Decides which agent runs which task: a pure function of {@link AllocationInput}, with no
 * ZooKeeper, database or clock, so that it can be tested exhaustively and run on any replica with
 * the same answer. Stateless and thread-safe.
 *
 * <p>Guarantees (each has a property test in {@code AllocatorPropertiesTest}):
 * <ul>
 *   <li>Deterministic: equal inputs, in any order, give equal allocations.
 *   <li>No task is on a dead, cordoned or non-matching agent, except that a task whose run is in
 *       flight on a live agent stays there (it moves once the run is over or the agent dies).
 *   <li>When the previous allocation is still valid and no agent joined, nothing changes; in
 *       particular, the allocator run on its own output changes nothing.
 *   <li>An agent leaving moves only its own tasks. (One exception, with constrained tasks only:
 *       an agent without any single-agent task counts as joining, and may take a task from an
 *       agent that the leaver's tasks made busier.)
 *   <li>An agent joining takes at most ⌈T/N⌉+1 tasks from the others, or none when
 *       {@link AllocatorOptions#rebalanceOnJoin()} is off.
 *   <li>Tasks that must be (re)placed go to the eligible agent with the lowest load relative to
 *       its capacity, so ANY tasks end up within 10% (or one task) of the capacity-weighted share.
 * </ul>
 *
 * <p>How: (1) every single-agent task stays on its previous agent when that agent is still live,
 * uncordoned and matching (or the task runs there); (2) the others are placed, most constrained
 * first, each on the eligible agent whose (count + 1) / capacity is lowest; (3) agents that kept no
 * single-agent task in (1) (they joined, were uncordoned, or lost all their tasks) take tasks from
 * the busiest agents while that strictly evens the load, within their move budget. Broadcast tasks
 * go to every eligible agent and are not counted as load.
 */
public final class Allocator {

    public Allocation allocate(AllocationInput input) {
        return new Pass(input).run();
    }

    /** The working state of one allocation; agents and tasks are numbered in id order. */
    private static final class Pass {
        private static final int[] NONE = new int[0];

        private final AllocationInput input;
        private final String[] agentIds;
        private final AgentState[] agents;
        private final boolean[] alive;
        private final boolean[] eligible;
        private final long[] weight;
        private final AllocationTask[] tasks;
        private final Group[] groupOf;
        private final int[][] previousOwners;

        // Single-agent tasks: current owner, owner in the previous allocation, why it moved.
        private final int[] owner;
        private final int[] origin;
        private final MoveReason[] reason;
        private final boolean[] pinned;
        private final int[] load;
        // Per agent, the single-agent tasks that step (3) may move away (may hold stale entries).
        private final IntList[] movable;
        // Moves that dropped extra copies, in (task, agent) order: task, agent, reason ordinal.
        private final IntList drops = new IntList();
        private final int[][] broadcastAgents;
        // Per agent, how many more tasks it may take in step (3); -1 for agents that are not joining.
        private final int[] budget;
        private final boolean[] rebalanced;

        Pass(AllocationInput input) {
            this.input = input;
            TreeMap<String, AgentState> byId = new TreeMap<>();
            for (AgentState agent : input.agents()) {
                byId.put(agent.id(), agent);
            }
            for (String agentId : input.previous().keySet()) {
                byId.putIfAbsent(agentId, null);
            }
            int agentCount = byId.size();
            agentIds = byId.keySet().toArray(String[]::new);
            agents = byId.values().toArray(AgentState[]::new);
            alive = new boolean[agentCount];
            eligible = new boolean[agentCount];
            weight = new long[agentCount];
            Map<String, Integer> agentIndex = new HashMap<>(agentCount * 2);
            for (int a = 0; a < agentCount; a++) {
                agentIndex.put(agentIds[a], a);
                alive[a] = agents[a] != null && agents[a].alive();
                eligible[a] = alive[a] && !agents[a].cordoned();
                weight[a] = agents[a] == null ? 1 : agents[a].capacity();
            }

            tasks = input.tasks().toArray(AllocationTask[]::new);
            Arrays.sort(tasks, Comparator.comparing(AllocationTask::taskId));
            int taskCount = tasks.length;
            Map<String, Integer> taskIndex = new HashMap<>(taskCount * 2);
            Map<TaskPlacement, Group> groups = new HashMap<>();
            groupOf = new Group[taskCount];
            for (int t = 0; t < taskCount; t++) {
                taskIndex.put(tasks[t].taskId(), t);
                groupOf[t] = groups.computeIfAbsent(tasks[t].placement(), this::group);
            }

            previousOwners = previousOwners(input.previous(), agentIndex, taskIndex);
            owner = new int[taskCount];
            origin = new int[taskCount];
            reason = new MoveReason[taskCount];
            pinned = new boolean[taskCount];
            load = new int[agentCount];
            movable = new IntList[agentCount];
            for (int a = 0; a < agentCount; a++) {
                movable[a] = new IntList();
            }
            broadcastAgents = new int[taskCount][];
            budget = new int[agentCount];
            rebalanced = new boolean[taskCount];
        }

        private Group group(TaskPlacement placement) {
            BitSet admitted = new BitSet(agentIds.length);
            boolean anyAliveAdmitted = false;
            for (int a = 0; a < agentIds.length; a++) {
                if (alive[a] && placement.admits(agents[a])) {
                    anyAliveAdmitted = true;
                    if (eligible[a]) {
                        admitted.set(a);
                    }
                }
            }
            return new Group(admitted, admitted.stream().toArray(), anyAliveAdmitted);
        }

        private int[][] previousOwners(Map<String, ? extends Collection<String>> previous,
                Map<String, Integer> agentIndex, Map<String, Integer> taskIndex) {
            int[] counts = new int[tasks.length];
            int[][] perAgent = new int[agentIds.length][];
            for (Map.Entry<String, ? extends Collection<String>> entry : previous.entrySet()) {
                IntList known = new IntList();
                for (String taskId : entry.getValue()) {
                    Integer t = taskIndex.get(taskId);
                    if (t != null) {
                        known.add(t);
                        counts[t]++;
                    }
                }
                perAgent[agentIndex.get(entry.getKey())] = known.toArray();
            }
            int[][] owners = new int[tasks.length][];
            for (int t = 0; t < tasks.length; t++) {
                owners[t] = counts[t] == 0 ? NONE : new int[counts[t]];
            }
            int[] filled = new int[tasks.length];
            // Agents in index order, so each task's owners come out sorted and a repeat is adjacent.
            for (int a = 0; a < agentIds.length; a++) {
                if (perAgent[a] != null) {
                    for (int t : perAgent[a]) {
                        if (filled[t] == 0 || owners[t][filled[t] - 1] != a) {
                            owners[t][filled[t]++] = a;
                        }
                    }
                }
            }
            for (int t = 0; t < tasks.length; t++) {
                if (filled[t] < counts[t]) {
                    owners[t] = Arrays.copyOf(owners[t], filled[t]);
                }
            }
            return owners;
        }

        Allocation run() {
            IntList pending = new IntList();
            for (int t = 0; t < tasks.length; t++) {
                if (tasks[t].placement().isBroadcast()) {
                    broadcastAgents[t] = broadcastTargets(t);
                } else if (!keep(t)) {
                    pending.add(t);
                }
            }
            // Agents keeping no single-agent task count as joining: new ones, and ones that lost
            // all their tasks (uncordoned, relabelled). Decided before step (2), which feeds them.
            boolean[] joining = new boolean[agentIds.length];
            for (int a = 0; a < agentIds.length; a++) {
                joining[a] = eligible[a] && load[a] == 0;
            }
            place(pending);
            if (input.options().rebalanceOnJoin()) {
                rebalanceOntoJoiners(joining);
            }
            return result();
        }

        /** Step 1: keeps a single-agent task where it was, if that is still allowed; true if kept. */
        private boolean keep(int t) {
            int kept = -1;
            int firstDropped = -1;
            MoveReason firstDropReason = null;
            for (int a : previousOwners[t]) {
                boolean runsHere = alive[a] && tasks[t].runningOn().contains(agentIds[a]);
                MoveReason verdict = verdict(t, a, runsHere);
                if (verdict == null && kept == -1) {
                    kept = a;
                } else if (verdict == null && runsHere && !pinned[t]) {
                    // Prefer the copy whose run is in flight: that one must not move.
                    drops.add(t, kept, MoveReason.DUPLICATE.ordinal());
                    kept = a;
                } else if (verdict == null) {
                    drops.add(t, a, MoveReason.DUPLICATE.ordinal());
                } else if (firstDropped == -1) {
                    firstDropped = a;
                    firstDropReason = verdict;
                } else {
                    drops.add(t, a, verdict.ordinal());
                }
                if (kept == a) {
                    pinned[t] = runsHere;
                }
            }
            if (kept != -1) {
                if (firstDropped != -1) {
                    drops.add(t, firstDropped, firstDropReason.ordinal());
                }
                owner[t] = kept;
                origin[t] = kept;
                load[kept]++;
                // A cordoned agent keeping its tasks is set aside: rebalancing takes nothing from it.
                if (!pinned[t] && !agents[kept].cordoned()) {
                    movable[kept].add(t);
                }
                return true;
            }
            owner[t] = -1;
            origin[t] = firstDropped;
            reason[t] = firstDropped == -1 ? MoveReason.NEW_TASK : firstDropReason;
            return false;
        }

        /** Why task t may not stay on agent a, or null if it may. */
        private MoveReason verdict(int t, int a, boolean runsHere) {
            if (!alive[a]) {
                return MoveReason.AGENT_LEFT;
            }
            if (runsHere) {
                return null;
            }
            if (agents[a].cordoned() && !agents[a].keepsTasks()) {
                return MoveReason.AGENT_CORDONED;
            }
            if (groupOf[t].admitted.get(a)) {
                return null;
            }
            // A cordoned agent is in no group's admitted set (it takes nothing new), but keeps what it still matches.
            return agents[a].cordoned() && tasks[t].placement().admits(agents[a]) ? null : MoveReason.CONSTRAINT_CHANGED;
        }

        private int[] broadcastTargets(int t) {
            BitSet targets = (BitSet) groupOf[t].admitted.clone();
            for (int a : previousOwners[t]) {
                boolean cordonedKeeping = alive[a] && agents[a].cordoned() && agents[a].keepsTasks()
                        && tasks[t].placement().admits(agents[a]);
                if (alive[a] && tasks[t].runningOn().contains(agentIds[a]) || cordonedKeeping) {
                    targets.set(a);
                }
            }
            return targets.stream().toArray();
        }

        /** Step 2: places tasks without an agent, most constrained first, on the least loaded eligible agent. */
        private void place(IntList pending) {
            Integer[] order = pending.boxed();
            Arrays.sort(order, Comparator.<Integer>comparingInt(t -> groupOf[t].eligible.length)
                    .thenComparingInt(t -> t));
            for (int t : order) {
                Group group = groupOf[t];
                if (group.eligible.length == 0) {
                    continue;
                }
                int a = group.leastLoaded();
                owner[t] = a;
                load[a]++;
                movable[a].add(t);
                group.pushed(a);
            }
        }

        /**
         * Step 3: an agent that kept no single-agent task in step 1 takes tasks from the busiest
         * agents while that strictly evens the load, up to ⌈T/N⌉+1 tasks. Rounds repeat until none
         * moves a task, so running the allocator again on its own output moves nothing. Each move
         * lowers the sum over agents of load × (load + 1) / capacity, so the rounds end.
         */
        private void rebalanceOntoJoiners(boolean[] joining) {
            int takers = 0;
            for (int a = 0; a < agentIds.length; a++) {
                budget[a] = -1;
                if (eligible[a]) {
                    takers++;
                }
            }
            int singleTasks = 0;
            for (AllocationTask task : tasks) {
                if (!task.placement().isBroadcast()) {
                    singleTasks++;
                }
            }
            if (singleTasks == 0 || takers == 0) {
                return;
            }
            IntList joiners = new IntList();
            int budgetEach = (singleTasks + takers - 1) / takers + 1;
            for (int a = 0; a < agentIds.length; a++) {
                if (joining[a]) {
                    joiners.add(a);
                    budget[a] = budgetEach;
                }
            }
            boolean movedAny = true;
            while (movedAny) {
                movedAny = false;
                for (int i = 0; i < joiners.size(); i++) {
                    movedAny |= takeForJoiner(joiners.get(i));
                }
            }
        }

        /** Moves tasks onto one joiner while worthwhile and within its budget; true if any moved. */
        private boolean takeForJoiner(int joiner) {
            if (budget[joiner] == 0 || !worthMoving(joiner, busiestOtherAgent(joiner))) {
                return false;
            }
            PriorityQueue<Integer> donors = new PriorityQueue<>(this::busierFirst);
            for (int a = 0; a < agentIds.length; a++) {
                if (a != joiner && load[a] > 0 && movable[a].size() > 0) {
                    donors.add(a);
                }
            }
            boolean moved = false;
            while (budget[joiner] > 0 && !donors.isEmpty()) {
                int donor = donors.peek();
                if (!worthMoving(joiner, donor)) {
                    break;
                }
                donors.poll();
                int t = takeMovable(donor, joiner);
                if (t == -1) {
                    continue;
                }
                owner[t] = joiner;
                load[donor]--;
                load[joiner]++;
                movable[joiner].add(t);
                if (reason[t] == null) {
                    reason[t] = MoveReason.REBALANCE_JOIN;
                }
                // The budget bounds how many rebalanced tasks a joiner holds, so one that passes
                // such a task on to another joiner may take one more.
                if (rebalanced[t]) {
                    budget[donor]++;
                }
                rebalanced[t] = true;
                budget[joiner]--;
                moved = true;
                donors.add(donor);
            }
            return moved;
        }

        private int busiestOtherAgent(int joiner) {
            int busiest = -1;
            for (int a = 0; a < agentIds.length; a++) {
                if (a != joiner && alive[a] && (busiest == -1 || busierFirst(a, busiest) < 0)) {
                    busiest = a;
                }
            }
            return busiest;
        }

        /**
         * Moving one task from donor to joiner leaves the joiner strictly less loaded than the donor
         * was, and the donor not empty: an agent emptied here would count as joining on the next
         * pass, and a pass over its own output must change nothing.
         */
        private boolean worthMoving(int joiner, int donor) {
            return donor != -1 && load[donor] >= 2
                    && (load[joiner] + 1) * weight[donor] < load[donor] * weight[joiner];
        }

        private int busierFirst(int a, int b) {
            int byLoad = Long.compare(load[b] * weight[a], load[a] * weight[b]);
            return byLoad != 0 ? byLoad : Integer.compare(a, b);
        }

        /** The most recently added task on the donor that the joiner may take, removed from the donor; -1 if none. */
        private int takeMovable(int donor, int joiner) {
            IntList candidates = movable[donor];
            for (int i = candidates.size() - 1; i >= 0; i--) {
                int t = candidates.get(i);
                boolean stale = owner[t] != donor;
                if (!stale && groupOf[t].admitted.get(joiner)) {
                    candidates.remove(i);
                    return t;
                }
                if (stale) {
                    candidates.remove(i);
                }
            }
            return -1;
        }

        private Allocation result() {
            IntList[] perAgent = new IntList[agentIds.length];
            for (int a = 0; a < agentIds.length; a++) {
                if (alive[a]) {
                    perAgent[a] = new IntList();
                }
            }
            List<Move> moves = new ArrayList<>();
            List<Unassigned> unassigned = new ArrayList<>();
            int d = 0;
            for (int t = 0; t < tasks.length; t++) {
                String taskId = tasks[t].taskId();
                for (; d < drops.size() && drops.get(d) == t; d += 3) {
                    // Step 3 may have moved the task back onto an agent whose extra copy step 1 dropped.
                    if (drops.get(d + 1) != owner[t]) {
                        moves.add(new Move(taskId, Optional.of(agentIds[drops.get(d + 1)]), Optional.empty(),
                                MoveReason.values()[drops.get(d + 2)]));
                    }
                }
                if (broadcastAgents[t] != null) {
                    broadcastResult(t, perAgent, moves, unassigned);
                    continue;
                }
                if (owner[t] != -1) {
                    perAgent[owner[t]].add(t);
                }
                if (owner[t] != origin[t] && owner[t] != -1 && contains(previousOwners[t], owner[t])) {
                    // Moved back onto an extra copy: net, the origin's copy was the duplicate.
                    moves.add(new Move(taskId, agent(origin[t]), Optional.empty(), MoveReason.DUPLICATE));
                } else if (owner[t] != origin[t]) {
                    moves.add(new Move(taskId, agent(origin[t]), agent(owner[t]), reason[t]));
                }
                if (owner[t] == -1) {
                    unassigned.add(new Unassigned(taskId, unassignedReason(t)));
                }
            }
            TreeMap<String, List<String>> tasksByAgent = new TreeMap<>();
            for (int a = 0; a < agentIds.length; a++) {
                if (perAgent[a] != null) {
                    int[] assigned = perAgent[a].toArray();
                    Arrays.sort(assigned);
                    String[] ids = new String[assigned.length];
                    for (int i = 0; i < assigned.length; i++) {
                        ids[i] = tasks[assigned[i]].taskId();
                    }
                    tasksByAgent.put(agentIds[a], List.of(ids));
                }
            }
            return new Allocation(input.now(), tasksByAgent, moves, unassigned);
        }

        private void broadcastResult(int t, IntList[] perAgent, List<Move> moves, List<Unassigned> unassigned) {
            String taskId = tasks[t].taskId();
            int[] before = previousOwners[t];
            int[] after = broadcastAgents[t];
            for (int a : before) {
                if (!contains(after, a)) {
                    MoveReason why = verdict(t, a, false);
                    moves.add(new Move(taskId, Optional.of(agentIds[a]), Optional.empty(), why));
                }
            }
            for (int a : after) {
                perAgent[a].add(t);
                if (!contains(before, a)) {
                    moves.add(new Move(taskId, Optional.empty(), Optional.of(agentIds[a]),
                            before.length == 0 ? MoveReason.NEW_TASK : MoveReason.BROADCAST_MATCHED));
                }
            }
            if (after.length == 0) {
                unassigned.add(new Unassigned(taskId, unassignedReason(t)));
            }
        }

        private UnassignedReason unassignedReason(int t) {
            for (boolean isAlive : alive) {
                if (isAlive) {
                    return groupOf[t].anyAliveAdmitted
                            ? UnassignedReason.MATCHING_AGENTS_CORDONED
                            : UnassignedReason.NO_MATCHING_AGENT;
                }
            }
            return UnassignedReason.NO_LIVE_AGENT;
        }

        private static boolean contains(int[] sorted, int value) {
            return Arrays.binarySearch(sorted, value) >= 0;
        }

        private Optional<String> agent(int a) {
            return a == -1 ? Optional.empty() : Optional.of(agentIds[a]);
        }

        /**
         * Tasks sharing one placement, with a min-heap of their eligible agents by
         * (load + 1) / capacity. Loads only grow during placement, so an entry whose recorded load
         * is out of date is simply refreshed when it reaches the top.
         */
        private final class Group {
            final BitSet admitted;
            final int[] eligible;
            final boolean anyAliveAdmitted;
            private PriorityQueue<long[]> heap;

            Group(BitSet admitted, int[] eligible, boolean anyAliveAdmitted) {
                this.admitted = admitted;
                this.eligible = eligible;
                this.anyAliveAdmitted = anyAliveAdmitted;
            }

            int leastLoaded() {
                if (heap == null) {
                    heap = new PriorityQueue<>(Math.max(1, eligible.length), this::lighterFirst);
                    for (int a : eligible) {
                        heap.add(new long[] {a, load[a]});
                    }
                }
                while (true) {
                    long[] top = heap.poll();
                    int a = (int) top[0];
                    if (top[1] == load[a]) {
                        return a;
                    }
                    heap.add(new long[] {a, load[a]});
                }
            }

            void pushed(int a) {
                heap.add(new long[] {a, load[a]});
            }

            private int lighterFirst(long[] x, long[] y) {
                int byLoad = Long.compare((x[1] + 1) * weight[(int) y[0]], (y[1] + 1) * weight[(int) x[0]]);
                return byLoad != 0 ? byLoad : Long.compare(x[0], y[0]);
            }
        }
    }

    /** A growable list of ints, to keep 100,000-task allocations free of boxing. */
    private static final class IntList {
        private int[] values = new int[4];
        private int size;

        void add(int value) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        void add(int first, int second, int third) {
            add(first);
            add(second);
            add(third);
        }

        int get(int index) {
            return values[index];
        }

        int size() {
            return size;
        }

        void remove(int index) {
            System.arraycopy(values, index + 1, values, index, size - index - 1);
            size--;
        }

        int[] toArray() {
            return Arrays.copyOf(values, size);
        }

        Integer[] boxed() {
            Integer[] boxed = new Integer[size];
            for (int i = 0; i < size; i++) {
                boxed[i] = values[i];
            }
            return boxed;
        }
    }
}
