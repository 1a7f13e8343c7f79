package io.cloudtask.agent.schedule;

import io.cloudtask.agent.policy.Misfires;
import io.cloudtask.agent.policy.TaskPolicy;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.schedule.InvalidScheduleException;
import io.cloudtask.schedule.TaskSchedule;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pure core of the local scheduler: given the fireable task specs and "now", which fires are
 * due and when the next deadline is. It never reads a clock and does no I/O.
 *
 * <p>Rules: a task fires at every instant its {@link TaskSchedule} gives; after a spec change or an
 * addition the next fire is the first instant strictly after max(now, last fire of that task), so
 * an instant never fires twice. Instants that fell due while the agent was down or not firing are
 * found on {@link #rebase} (every resume, including the first after a start): counted from the
 * task's {@link FireMarkers marker} (its last handled instant, or when this agent first saw it), and
 * never before the spec version's creation, then split by {@link Misfires} into fires to run and
 * MISSED ones. A late wake-up goes through the same split. Paused tasks and tasks whose schedules do
 * not compile are held but never fire.
 *
 * <p>Not thread-safe: {@link LocalScheduler} confines it behind its lock; the markers are written
 * there too.
 */
public final class FirePlan {
    /**
     * How long the last fire of a task that left the plan is remembered. It only matters if the
     * task comes back while the wall clock has gone backwards past that fire; an hour covers any
     * sane clock step while keeping the memory bounded under task churn.
     */
    static final Duration FORGET_REMOVED_AFTER = Duration.ofHours(1);
    /**
     * Strict delivery: how far before a newly held strict task's assignment its fires are looked
     * at. Its previous agent stopped firing at most a ZooKeeper session timeout (plus the
     * allocation's reaction) before the hand-over; the fires in between were run by nobody or by
     * that agent, which the fire claims tell apart. A minute covers session timeouts up to ~50 s.
     */
    public static final Duration HAND_OVER_LOOKBACK = Duration.ofMinutes(1);
    /** At most this many hand-over instants are recorded per task (the latest). */
    static final int MAX_HAND_OVER_RECORDS = 100;

    private static final Logger log = LoggerFactory.getLogger(FirePlan.class);

    private final Map<String, Entry> entries = new HashMap<>();
    /**
     * Pending fires by instant, so a wake-up costs the tasks that fire, not every task held
     * (thousands of tasks spread over the second wake the timer thousands of times a second).
     * Lazily cleaned: an element whose task was replaced or whose next fire changed is dropped
     * when met ({@link #isCurrent}).
     */
    private final PriorityQueue<Pending> queue = new PriorityQueue<>(Comparator.comparing(Pending::at));
    /** Tasks whose hand-over instants are still to be reported. */
    private final Set<String> handOvers = new HashSet<>();
    private final Map<String, Instant> lastFires = new HashMap<>();
    /** Misfire lower bounds of the tasks in the plan (and, after a restart, of those about to be). */
    private final Map<String, Instant> markers = new HashMap<>();
    private final FireMarkers markerStore;

    public FirePlan() {
        this(FireMarkers.inMemory());
    }

    /** Markers are read by {@link #loadMarkers}, not here: constructors do no I/O. */
    public FirePlan(FireMarkers markerStore) {
        this.markerStore = markerStore;
    }

    /** Reads the markers a previous life of the agent left, so a restart can catch up. Call before the first update. */
    public void loadMarkers() {
        markerStore.loadAll().forEach(markers::putIfAbsent);
    }

    /** A task spec whose schedule cannot be compiled; it does not fire. */
    public record Rejected(String taskId, long specVersion, String field, String reason) {}

    /**
     * Replaces the set of tasks to fire. Unchanged specs keep their next fire; new or changed specs
     * get the next instant strictly after max(now, their last fire); absent tasks stop at once.
     *
     * @return the new or changed specs whose schedules are invalid (they do not fire)
     */
    public List<Rejected> update(Map<String, TaskSpec> specs, Instant now) {
        return update(specs, Map.of(), now);
    }

    /**
     * As {@link #update(Map, Instant)}; a task held for the first time whose {@code handOverFrom}
     * is given also accounts for the instants from there up to its spec's floor (at most
     * {@link #HAND_OVER_LOOKBACK} back): they fell in the gap while the task moved here, and may
     * have run on the agent that held it before, so none runs here: they are
     * {@link Fire.Kind#HAND_OVER} fires, reported MISSED (a strict task's after its claim, so the
     * previous agent's are denied to this one; a standard task's provisionally).
     */
    public List<Rejected> update(Map<String, TaskSpec> specs, Map<String, Instant> handOverFrom, Instant now) {
        List<Rejected> rejected = new ArrayList<>();
        List<String> pending = new ArrayList<>();
        entries.keySet().retainAll(specs.keySet());
        for (Iterator<String> it = markers.keySet().iterator(); it.hasNext(); ) {
            String taskId = it.next();
            if (!specs.containsKey(taskId)) {
                // A task that left may come back after another agent fired it: it must not replay that.
                it.remove();
                markerStore.delete(taskId);
            }
        }
        for (Map.Entry<String, TaskSpec> e : specs.entrySet()) {
            String taskId = e.getKey();
            TaskSpec spec = e.getValue();
            Entry current = entries.get(taskId);
            if (current != null && current.spec.equals(spec)) {
                continue;
            }
            TaskSchedule schedule = null;
            if (!spec.getPaused()) {
                try {
                    schedule = TaskSchedule.of(spec);
                } catch (InvalidScheduleException ex) {
                    rejected.add(new Rejected(taskId, spec.getVersion(), ex.field(), ex.getMessage()));
                }
            }
            Entry entry = new Entry(spec, schedule);
            entry.next = nextFor(taskId, schedule, now);
            entries.put(taskId, entry);
            pending.add(taskId);
            if (!markers.containsKey(taskId)) {
                // First seen. Instants before the spec's floor (version_created_at, which the
                // reconciler raises to the assignment) belonged to another agent or to nobody: the
                // hand-over gap is reported, never run. Instants since the floor are this agent's:
                // they fall due now, through the misfire policy (a fire can pass while the spec
                // is on its way here). A task held before keeps its marker.
                Instant floor = now;
                if (schedule != null && spec.hasVersionCreatedAt()) {
                    Instant last = lastFires.get(taskId);
                    Instant versionFloor = io.cloudtask.schedule.Timestamps.toInstant(spec.getVersionCreatedAt());
                    if (versionFloor.isBefore(now)) {
                        floor = max(versionFloor, now.minus(HAND_OVER_LOOKBACK));
                        entry.next = schedule.nextAfter(last == null ? floor : max(floor, last)).orElse(null);
                    }
                    Instant gapFrom = handOverFrom.get(taskId);
                    if (gapFrom != null) {
                        Instant from = max(gapFrom, now.minus(HAND_OVER_LOOKBACK));
                        entry.handOver = handOverInstants(schedule, last == null ? from : max(from, last),
                                floor.isBefore(now) ? floor.plusNanos(1) : now);
                        if (!entry.handOver.isEmpty()) {
                            handOvers.add(taskId);
                        }
                    }
                }
                markers.put(taskId, floor);
                markerStore.save(taskId, floor);
            }
        }
        pending.forEach(taskId -> enqueue(taskId, entries.get(taskId)));
        forgetRemoved(now);
        return rejected;
    }

    /**
     * Takes the fires due at {@code now}: normally the one instant that fell due per task; after a
     * late wake-up or a {@link #rebase}, every instant since the task's next pending one, split by
     * its misfire policy into fires ({@link Fire.Kind#SCHEDULED} on time, {@link Fire.Kind#CATCH_UP})
     * and {@link Fire.Kind#MISSED} reports. Each such task advances to its first instant after now.
     */
    public List<Fire> due(Instant now) {
        List<Fire> fires = new ArrayList<>();
        for (String taskId : handOvers) {
            Entry entry = entries.get(taskId);
            if (entry != null) {
                entry.handOver.forEach(t -> fires.add(new Fire(taskId, entry.spec, t, Fire.Kind.HAND_OVER)));
                entry.handOver = List.of();
            }
        }
        handOvers.clear();
        while (!queue.isEmpty() && !queue.peek().at().isAfter(now)) {
            Pending due = queue.poll();
            if (!isCurrent(due)) {
                continue;
            }
            String taskId = due.taskId();
            Entry entry = due.entry();
            Misfires.Plan plan = Misfires.plan(entry.schedule, entry.next, now, TaskPolicy.of(entry.spec));
            if (plan.unreported() > 0) {
                log.warn("task {} missed at least {} more fire(s) between {} and {} than are reported MISSED",
                        taskId, plan.unreported(), entry.next, now);
            }
            plan.missed().forEach(t -> fires.add(new Fire(taskId, entry.spec, t, Fire.Kind.MISSED)));
            for (int i = 0; i < plan.run().size(); i++) {
                boolean onTime = plan.lastRunOnTime() && i == plan.run().size() - 1;
                fires.add(new Fire(taskId, entry.spec, plan.run().get(i), onTime ? Fire.Kind.SCHEDULED : Fire.Kind.CATCH_UP));
            }
            lastFires.put(taskId, plan.last());
            markers.put(taskId, plan.last());
            markerStore.save(taskId, plan.last());
            entry.next = entry.schedule.nextAfter(max(now, plan.last())).orElse(null);
            enqueue(taskId, entry);
        }
        fires.sort((a, b) -> a.fireTime().compareTo(b.fireTime()));
        return fires;
    }

    /**
     * Resumes after firing was stopped (or after a start): each task continues from its marker, so
     * the instants it missed meanwhile fall due now and {@link #due} applies its misfire policy.
     * Instants before the spec version's creation never count.
     */
    public void rebase(Instant now) {
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            Entry entry = e.getValue();
            if (entry.schedule == null) {
                continue;
            }
            Instant from = markers.get(e.getKey());
            if (from == null) {
                entry.next = nextFor(e.getKey(), entry.schedule, now);
                continue;
            }
            if (entry.spec.hasVersionCreatedAt()) {
                from = max(from, io.cloudtask.schedule.Timestamps.toInstant(entry.spec.getVersionCreatedAt()));
            }
            Instant last = lastFires.get(e.getKey());
            entry.next = entry.schedule.nextAfter(last == null ? from : max(from, last)).orElse(null);
        }
        queue.clear();
        entries.forEach(this::enqueue);
    }

    /** The earliest pending fire of any task, or empty when nothing will fire. */
    public Optional<Instant> nextDeadline() {
        Instant best = null;
        for (String taskId : handOvers) {
            Entry entry = entries.get(taskId);
            if (entry != null && !entry.handOver.isEmpty() && (best == null || entry.handOver.get(0).isBefore(best))) {
                // Hand-over records are due at once.
                best = entry.handOver.get(0);
            }
        }
        while (!queue.isEmpty() && !isCurrent(queue.peek())) {
            queue.poll();
        }
        if (!queue.isEmpty() && (best == null || queue.peek().at().isBefore(best))) {
            best = queue.peek().at();
        }
        return Optional.ofNullable(best);
    }

    private void enqueue(String taskId, Entry entry) {
        if (entry == null || entry.next == null) {
            return;
        }
        queue.add(new Pending(entry.next, taskId, entry));
        if (queue.size() > 2 * entries.size() + 1024) {
            // Many replaced or rescheduled elements not met yet (say, edits of tasks firing daily).
            queue.removeIf(pending -> !isCurrent(pending));
        }
    }

    /** Whether a queued element is still the task's pending fire. */
    private boolean isCurrent(Pending pending) {
        return entries.get(pending.taskId()) == pending.entry() && pending.at().equals(pending.entry().next);
    }

    private record Pending(Instant at, String taskId, Entry entry) {}

    /** The pending fire of one task, or empty when it is absent, paused or will not fire again. */
    public Optional<Instant> nextFire(String taskId) {
        Entry entry = entries.get(taskId);
        return Optional.ofNullable(entry == null ? null : entry.next);
    }

    /** The tasks held by the plan, including paused ones. */
    public Set<String> taskIds() {
        return Set.copyOf(entries.keySet());
    }

    private Instant nextFor(String taskId, TaskSchedule schedule, Instant now) {
        if (schedule == null) {
            return null;
        }
        Instant last = lastFires.get(taskId);
        return schedule.nextAfter(last == null ? now : max(now, last)).orElse(null);
    }

    private void forgetRemoved(Instant now) {
        Instant horizon = now.minus(FORGET_REMOVED_AFTER);
        for (Iterator<Map.Entry<String, Instant>> it = lastFires.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Instant> e = it.next();
            if (!entries.containsKey(e.getKey()) && e.getValue().isBefore(horizon)) {
                it.remove();
            }
        }
    }

    /** The task's instants in (from, until), the latest {@link #MAX_HAND_OVER_RECORDS} of them. */
    private static List<Instant> handOverInstants(TaskSchedule schedule, Instant from, Instant until) {
        java.util.ArrayDeque<Instant> instants = new java.util.ArrayDeque<>();
        Optional<Instant> next = schedule.nextAfter(from);
        while (next.isPresent() && next.get().isBefore(until)) {
            if (instants.size() == MAX_HAND_OVER_RECORDS) {
                instants.removeFirst();
            }
            instants.addLast(next.get());
            next = schedule.nextAfter(next.get());
        }
        return List.copyOf(instants);
    }

    private static Instant max(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    private static final class Entry {
        final TaskSpec spec;
        /** Null when the task is paused or its schedule is invalid. */
        final TaskSchedule schedule;
        Instant next;
        /** Instants of the hand-over gap still to report (standard tasks, first held). */
        List<Instant> handOver = List.of();

        Entry(TaskSpec spec, TaskSchedule schedule) {
            this.spec = spec;
            this.schedule = schedule;
        }
    }
}
