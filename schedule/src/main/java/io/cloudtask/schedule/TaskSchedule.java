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
 */
public final class TaskSchedule {
    /** Guards against a schedule whose active range never contains one of its fire times. */
    private static final int MAX_SKIPS_BEFORE_RANGE = 10_000;

    private final List<BoundedSource> sources;

    private TaskSchedule(List<BoundedSource> sources) {
        this.sources = sources;
    }

    /** A schedule that never fires: the task runs only on demand. */
    public static TaskSchedule manualOnly() {
        return new TaskSchedule(List.of());
    }

    /** Compiles the schedules of a task spec, or explains which field is invalid. */
    public static TaskSchedule of(TaskSpec spec) throws InvalidScheduleException {
        return of(spec.getSchedulesList(), spec.getTimeZone());
    }

    public static TaskSchedule of(List<Schedule> schedules, String timeZone) throws InvalidScheduleException {
        ZoneId zone = zone(timeZone);
        List<BoundedSource> sources = new ArrayList<>();
        for (int i = 0; i < schedules.size(); i++) {
            Schedule schedule = schedules.get(i);
            String field = "schedules[" + i + "]";
            FireSource source = switch (schedule.getKindCase()) {
                case CRON -> CronFireSource.parse(field + ".expression", schedule.getCron().getExpression(),
                        schedule.getCron().getSyntax(), zone);
                case KIND_NOT_SET -> throw new InvalidScheduleException(field,
                        "schedule has no type: set \"type\": \"cron\" with an \"expression\" such as \"*/5 * * * * ?\"");
            };
            Instant from = schedule.hasActiveFrom() ? Timestamps.toInstant(schedule.getActiveFrom()) : null;
            Instant until = schedule.hasActiveUntil() ? Timestamps.toInstant(schedule.getActiveUntil()) : null;
            if (from != null && until != null && !from.isBefore(until)) {
                throw new InvalidScheduleException(field + ".activeUntil",
                        "active range ends (" + until + ") before it starts (" + from + "): make activeUntil later than activeFrom");
            }
            if (schedule.getEnabled()) {
                sources.add(new BoundedSource(source, from, until));
            }
        }
        return new TaskSchedule(List.copyOf(sources));
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

    /** Whether any enabled schedule exists. */
    public boolean hasSchedules() {
        return !sources.isEmpty();
    }

    /** The first fire time strictly after {@code after}, or empty when no schedule fires again. */
    public Optional<Instant> nextAfter(Instant after) {
        Instant best = null;
        for (BoundedSource source : sources) {
            Instant candidate = source.nextAfter(after);
            if (candidate != null && (best == null || candidate.isBefore(best))) {
                best = candidate;
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

    private record BoundedSource(FireSource source, Instant from, Instant until) {
        Instant nextAfter(Instant after) {
            Instant cursor = after;
            if (from != null && cursor.isBefore(from)) {
                // Fires exactly at `from` count: start the search just before it.
                cursor = from.minusNanos(1);
            }
            for (int skipped = 0; skipped < MAX_SKIPS_BEFORE_RANGE; skipped++) {
                Optional<Instant> next = source.nextAfter(cursor);
                if (next.isEmpty()) {
                    return null;
                }
                Instant candidate = next.get();
                if (until != null && !candidate.isBefore(until)) {
                    return null;
                }
                if (from == null || !candidate.isBefore(from)) {
                    return candidate;
                }
                cursor = candidate;
            }
            return null;
        }
    }
}
