package io.cloudtask.schedule;

import io.cloudtask.proto.v1.Schedule;
import io.cloudtask.proto.v1.TaskSpec;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The merged fire times of all enabled schedules of one task, evaluated in the task's time zone.
 * An instant produced by two schedules fires once. Immutable and thread-safe; it never reads the
 * system clock, so callers pass "now".
 *
 * <p>Compiling rejects a schedule that can never fire (30 February, a window that excludes every
 * fire, an active range without a fire in it). That check does not depend on the time it runs at,
 * so a stored task never becomes invalid as time passes: a schedule whose fires all lie in the
 * past (a once schedule that already fired) stays valid; it just fires no more.
 */
public final class TaskSchedule {
    /**
     * Where the never-fire check starts looking when the schedule has no {@code active_from}. A
     * fixed instant, so the verdict never depends on when it is asked.
     */
    static final Instant PROBE_START = Instant.parse("2000-01-01T00:00:00Z");

    private final ZoneId zone;
    private final List<ActiveSource> sources;

    private TaskSchedule(ZoneId zone, List<ActiveSource> sources) {
        this.zone = zone;
        this.sources = sources;
    }

    /** A schedule that never fires: the task runs only on demand. */
    public static TaskSchedule manualOnly() {
        return new TaskSchedule(ZoneId.of("UTC"), List.of());
    }

    /** Compiles the schedules of a task spec, or explains which field is invalid. */
    public static TaskSchedule of(TaskSpec spec) throws InvalidScheduleException {
        return of(spec.getSchedulesList(), spec.getTimeZone());
    }

    /**
     * Compiles schedules, or explains which field is invalid. Field names in errors are the REST
     * API's paths, such as {@code schedules[2].dayOfMonth}.
     */
    public static TaskSchedule of(List<Schedule> schedules, String timeZone) throws InvalidScheduleException {
        ZoneId zone = zone(timeZone);
        List<ActiveSource> sources = new ArrayList<>();
        for (int i = 0; i < schedules.size(); i++) {
            Schedule schedule = schedules.get(i);
            String field = "schedules[" + i + "]";
            Instant from = schedule.hasActiveFrom()
                    ? ScheduleFields.instant(field + ".activeFrom", schedule.getActiveFrom()) : null;
            Instant until = schedule.hasActiveUntil()
                    ? ScheduleFields.instant(field + ".activeUntil", schedule.getActiveUntil()) : null;
            if (from != null && until != null && !from.isBefore(until)) {
                throw new InvalidScheduleException(field + ".activeUntil",
                        "active range ends (" + until + ") before it starts (" + from + "): make activeUntil later than activeFrom");
            }
            TimeWindow window = schedule.hasWindow() ? TimeWindow.parse(field + ".window", schedule.getWindow()) : null;
            FireSource source = switch (schedule.getKindCase()) {
                case CRON -> CronFireSource.parse(field + ".expression", schedule.getCron().getExpression(),
                        schedule.getCron().getSyntax(), zone);
                case INTERVAL -> IntervalFireSource.parse(field, schedule.getInterval(), from, zone);
                case DAILY -> DailyFireSource.parse(field, schedule.getDaily(), from, zone);
                case WEEKLY -> WeeklyFireSource.parse(field, schedule.getWeekly(), from, zone);
                case MONTHLY -> MonthlyFireSource.parse(field, schedule.getMonthly(), zone);
                case ONCE -> {
                    if (!schedule.getOnce().hasAt()) {
                        throw new InvalidScheduleException(field + ".at",
                                "a once schedule needs \"at\", an instant such as \"2026-12-24T18:00:00Z\"");
                    }
                    yield new OnceFireSource(ScheduleFields.instant(field + ".at", schedule.getOnce().getAt()));
                }
                case KIND_NOT_SET -> throw new InvalidScheduleException(field + ".type", "schedule has no type:"
                        + " use cron, interval, daily, weekly, monthly or once, for example"
                        + " {\"type\": \"cron\", \"expression\": \"*/5 * * * * ?\"}");
            };
            ActiveSource active = new ActiveSource(source, from, until, window, zone);
            // Disabled schedules are checked too: enabling one later must not reveal an error.
            requireAFire(field, kindField(field, schedule), active);
            if (schedule.getEnabled()) {
                sources.add(active);
            }
        }
        return new TaskSchedule(zone, List.copyOf(sources));
    }

    /** The field to blame when a schedule has no fire at all, whatever its range and window. */
    private static String kindField(String field, Schedule schedule) {
        return switch (schedule.getKindCase()) {
            case CRON -> field + ".expression";
            case ONCE -> field + ".at";
            case MONTHLY -> schedule.getMonthly().hasNthWeekday() ? field + ".weekday" : field + ".dayOfMonth";
            default -> field;
        };
    }

    /**
     * Rejects a schedule that can never fire. Every search here is bounded: cron-utils looks no
     * further than 2099, the monthly search 9 years, the window search
     * {@link ActiveSource#MAX_FIRES_OUTSIDE_WINDOW} fires. So a window that admits a fire only
     * after that many excluded fires (a drifting interval, say) is rejected too; the message
     * says so.
     */
    private static void requireAFire(String field, String kindField, ActiveSource active)
            throws InvalidScheduleException {
        Instant from = active.from();
        Instant probeStart = from != null && from.isBefore(PROBE_START) ? from : PROBE_START;
        if (active.source().nextAfter(probeStart.minusNanos(1)).isEmpty()) {
            throw new InvalidScheduleException(kindField, "this schedule never fires (no fire from "
                    + probeStart + " on): check its dates");
        }
        Instant start = from != null ? from.minusNanos(1) : probeStart.minusNanos(1);
        Optional<Instant> first = active.source().nextAfter(start);
        if (first.isEmpty()) {
            throw new InvalidScheduleException(field + ".activeFrom", "this schedule has no fire on or after activeFrom "
                    + from + ": move activeFrom earlier or change the schedule");
        }
        Instant until = active.until();
        if (until != null && !first.get().isBefore(until)) {
            throw new InvalidScheduleException(field + ".activeUntil", "the active range contains no fire: the first"
                    + " fire" + (from != null ? " on or after activeFrom" : "") + " is at " + first.get()
                    + ", not before activeUntil " + until + ". Move activeUntil later or change the schedule");
        }
        if (active.window() != null && active.nextAfter(start).isEmpty()) {
            throw new InvalidScheduleException(field + ".window", "the window " + active.window()
                    + " excludes every fire of this schedule" + (until != null ? " in its active range" : "")
                    + " (searched " + ActiveSource.MAX_FIRES_OUTSIDE_WINDOW + " fires from " + first.get()
                    + "): widen the window or change the schedule's times");
        }
    }

    /** Parses an IANA zone id; an empty one means UTC. */
    public static ZoneId zone(String timeZone) throws InvalidScheduleException {
        if (timeZone == null || timeZone.isEmpty()) {
            return ZoneId.of("UTC");
        }
        try {
            return ZoneId.of(timeZone);
        } catch (DateTimeException e) {
            throw new InvalidScheduleException("timeZone", "time zone '" + timeZone
                    + "' is not an IANA time zone id: use one such as 'UTC', 'Europe/Berlin' or 'America/New_York'");
        }
    }

    /** The time zone the schedules are evaluated in. */
    public ZoneId timeZone() {
        return zone;
    }

    /** Whether any enabled schedule exists. */
    public boolean hasSchedules() {
        return !sources.isEmpty();
    }

    /** The first fire time strictly after {@code after}, or empty when no schedule fires again. */
    public Optional<Instant> nextAfter(Instant after) {
        Instant best = null;
        for (ActiveSource source : sources) {
            Optional<Instant> candidate = source.nextAfter(after);
            if (candidate.isPresent() && (best == null || candidate.get().isBefore(best))) {
                best = candidate.get();
            }
        }
        return Optional.ofNullable(best);
    }

    /** The next {@code count} fire times strictly after {@code after}. */
    public List<Instant> next(Instant after, int count) {
        List<Instant> result = new ArrayList<>(count);
        Instant cursor = after;
        while (result.size() < count) {
            Optional<Instant> next = nextAfter(cursor);
            if (next.isEmpty()) {
                break;
            }
            result.add(next.get());
            cursor = next.get();
        }
        return result;
    }
}
