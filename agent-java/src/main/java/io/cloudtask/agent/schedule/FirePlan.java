package io.cloudtask.agent.schedule;

import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.schedule.InvalidScheduleException;
import io.cloudtask.schedule.TaskSchedule;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The pure core of the local scheduler: given the fireable task specs and "now", which fires are
 * due and when the next deadline is. It never reads a clock and does no I/O.
 *
 * <p>Rules: a task fires at every instant its {@link TaskSchedule} gives; after a spec change, an
 * addition or a resume the next fire is the first instant strictly after max(now, last fire of
 * that task), so an instant never fires twice and missed instants are not caught up. Paused tasks
 * and tasks whose schedules do not compile are held but never fire.
 *
 * <p>Not thread-safe: {@link LocalScheduler} confines it behind its lock.
 */
public final class FirePlan {
    /**
     * How long the last fire of a task that left the plan is remembered. It only matters if the
     * task comes back while the wall clock has gone backwards past that fire; an hour covers any
     * sane clock step while keeping the memory bounded under task churn.
     */
    static final Duration FORGET_REMOVED_AFTER = Duration.ofHours(1);

    private final Map<String, Entry> entries = new HashMap<>();
    private final Map<String, Instant> lastFires = new HashMap<>();

    /** A task spec whose schedule cannot be compiled; it does not fire. */
    public record Rejected(String taskId, long specVersion, String field, String reason) {}

    /**
     * Replaces the set of tasks to fire. Unchanged specs keep their next fire; new or changed specs
     * get the next instant strictly after max(now, their last fire); absent tasks stop at once.
     *
     * @return the new or changed specs whose schedules are invalid (they do not fire)
     */
    public List<Rejected> update(Map<String, TaskSpec> specs, Instant now) {
        List<Rejected> rejected = new ArrayList<>();
        entries.keySet().retainAll(specs.keySet());
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
        }
        forgetRemoved(now);
        return rejected;
    }

    /**
     * Takes the fires due at {@code now} (at most one per task: the scheduled instant that fell
     * due) and advances each of those tasks to its first instant strictly after now.
     */
    public List<Fire> due(Instant now) {
        List<Fire> fires = new ArrayList<>();
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            Entry entry = e.getValue();
            if (entry.next == null || entry.next.isAfter(now)) {
                continue;
            }
            Instant fireTime = entry.next;
            fires.add(new Fire(e.getKey(), entry.spec, fireTime));
            lastFires.put(e.getKey(), fireTime);
            entry.next = entry.schedule.nextAfter(max(now, fireTime)).orElse(null);
        }
        fires.sort((a, b) -> a.fireTime().compareTo(b.fireTime()));
        return fires;
    }

    /** Skips every instant that fell due while firing was stopped: each task restarts from now. */
    public void rebase(Instant now) {
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            e.getValue().next = nextFor(e.getKey(), e.getValue().schedule, now);
        }
    }

    /** The earliest pending fire of any task, or empty when nothing will fire. */
    public Optional<Instant> nextDeadline() {
        Instant best = null;
        for (Entry entry : entries.values()) {
            if (entry.next != null && (best == null || entry.next.isBefore(best))) {
                best = entry.next;
            }
        }
        return Optional.ofNullable(best);
    }

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

    private static Instant max(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    private static final class Entry {
        final TaskSpec spec;
        /** Null when the task is paused or its schedule is invalid. */
        final TaskSchedule schedule;
        Instant next;

        Entry(TaskSpec spec, TaskSchedule schedule) {
            this.spec = spec;
            this.schedule = schedule;
        }
    }
}
