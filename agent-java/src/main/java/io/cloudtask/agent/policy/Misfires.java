package io.cloudtask.agent.policy;

import io.cloudtask.schedule.TaskSchedule;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Which of the instants that fell due since a task's last handled fire run now and which are
 * reported MISSED, by the task's misfire policy. Pure: no clock, no I/O.
 *
 * <p>The latest due instant counts as on time (a normal fire) when it is less than
 * {@link #ON_TIME} old: a timer that wakes a little late is not an outage. Every other due instant
 * is missed. SKIP reports them all MISSED; RUN_ONCE runs the latest missed one unless an on-time
 * fire runs anyway; RUN_ALL runs the latest {@code maxCatchUp}, oldest first. The work is bounded:
 * about {@link #MAX_ENUMERATED} instants are looked at (half from the start of the gap, half from
 * its end when the gap is larger, plus a bounded probe for the very latest when even the end is
 * dense) and at most {@link #MAX_REPORTED} MISSED records are produced (the latest);
 * {@link Plan#unreported} says how many more were missed, at least.
 */
public final class Misfires {
    public static final Duration ON_TIME = Duration.ofSeconds(5);
    public static final int MAX_ENUMERATED = 1000;
    public static final int MAX_REPORTED = 100;

    private Misfires() {}

    /**
     * @param run instants to run now, oldest first (the on-time one, if any, last)
     * @param missed instants to report MISSED, oldest first
     * @param unreported missed instants without a record (at least this many)
     * @param last the latest instant handled, from which the schedule continues
     */
    public record Plan(List<Instant> run, boolean lastRunOnTime, List<Instant> missed, long unreported, Instant last) {}

    /**
     * @param first the first instant not yet handled (at or before {@code now})
     */
    public static Plan plan(TaskSchedule schedule, Instant first, Instant now, TaskPolicy policy) {
        List<Instant> due = new ArrayList<>();
        long skipped = 0;
        Instant t = first;
        int half = MAX_ENUMERATED / 2;
        while (t != null && !t.isAfter(now) && due.size() < half) {
            due.add(t);
            t = next(schedule, t);
        }
        if (t != null && !t.isAfter(now)) {
            // Too many to list: look at the end of the gap, assuming a roughly even density (the
            // span the first half covered). What lies between is counted as at least one.
            Duration span = Duration.between(due.get(0), due.get(due.size() - 1));
            Instant tailFrom = now.minus(span);
            Instant u = tailFrom.isAfter(t) ? next(schedule, tailFrom.minusNanos(1)) : t;
            skipped = u != null && u.isAfter(t) ? 1 : 0;
            List<Instant> tail = new ArrayList<>();
            while (u != null && !u.isAfter(now) && tail.size() < half) {
                tail.add(u);
                u = next(schedule, u);
            }
            if (u != null && !u.isAfter(now)) {
                // Still more up to now: keep the latest we can find cheaply and count the rest as missed.
                skipped++;
                Optional<Instant> latest = latestAtOrBefore(schedule, now);
                latest.filter(l -> tail.isEmpty() || l.isAfter(tail.get(tail.size() - 1))).ifPresent(tail::add);
            }
            due.addAll(tail);
        }
        Instant last = due.get(due.size() - 1);
        boolean onTime = Duration.between(last, now).compareTo(ON_TIME) < 0;
        List<Instant> missed = new ArrayList<>(onTime ? due.subList(0, due.size() - 1) : due);
        List<Instant> run = new ArrayList<>();
        switch (policy.misfire()) {
            case MISFIRE_POLICY_SKIP -> { }
            case MISFIRE_POLICY_RUN_ALL -> {
                int n = Math.min(policy.maxCatchUp(), missed.size());
                run.addAll(missed.subList(missed.size() - n, missed.size()));
                missed.subList(missed.size() - n, missed.size()).clear();
            }
            default -> {
                if (!onTime && !missed.isEmpty()) {
                    run.add(missed.remove(missed.size() - 1));
                }
            }
        }
        if (onTime) {
            run.add(last);
        }
        long unreported = skipped;
        if (missed.size() > MAX_REPORTED) {
            unreported += missed.size() - MAX_REPORTED;
            missed = new ArrayList<>(missed.subList(missed.size() - MAX_REPORTED, missed.size()));
        }
        return new Plan(List.copyOf(run), onTime, List.copyOf(missed), unreported, last);
    }

    private static Instant next(TaskSchedule schedule, Instant after) {
        return schedule.nextAfter(after).orElse(null);
    }

    /** The latest instant at or before {@code t}, probing back over doubling windows (bounded steps). */
    private static Optional<Instant> latestAtOrBefore(TaskSchedule schedule, Instant t) {
        for (Duration back = Duration.ofSeconds(1); back.compareTo(Duration.ofDays(3660)) < 0; back = back.multipliedBy(2)) {
            Optional<Instant> candidate = schedule.nextAfter(t.minus(back));
            if (candidate.isPresent() && !candidate.get().isAfter(t)) {
                Instant best = candidate.get();
                for (int i = 0; i < MAX_ENUMERATED; i++) {
                    Optional<Instant> n = schedule.nextAfter(best);
                    if (n.isEmpty() || n.get().isAfter(t)) {
                        break;
                    }
                    best = n.get();
                }
                return Optional.of(best);
            }
        }
        return Optional.empty();
    }
}
