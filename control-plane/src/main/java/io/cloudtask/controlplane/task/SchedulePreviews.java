package io.cloudtask.controlplane.task;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.api.ErrorKind;
import io.cloudtask.schedule.InvalidScheduleException;
import io.cloudtask.schedule.TaskSchedule;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.UUID;

/**
 * Lists the next fire times of schedules, given in a request or stored with a task, with exactly
 * the evaluation agents fire with. "Now" is the injected clock. Thread-safe (stateless).
 */
@Singleton
class SchedulePreviews {
    static final int DEFAULT_COUNT = 10;
    static final int MAX_COUNT = 1000;
    /** The range the schedule module accepts for instants; beyond it "after" is surely a typo. */
    private static final Instant EARLIEST = Instant.parse("1970-01-01T00:00:00Z");
    private static final Instant LATEST = Instant.parse("9999-12-31T23:59:59Z");

    private final TaskService tasks;
    private final Clock clock;

    SchedulePreviews(TaskService tasks, Clock clock) {
        this.tasks = tasks;
        this.clock = clock;
    }

    SchedulePreview preview(SchedulePreviewRequest request) {
        if (request == null) {
            throw ApiException.invalid("schedules", "request body is missing: send {\"schedules\": [{\"type\":"
                    + " \"daily\", \"at\": \"06:30\"}], \"timeZone\": \"Europe/Berlin\", \"count\": 10}");
        }
        int count = count(request.count());
        Instant after = after(request.after());
        String timeZone = request.timeZone() == null ? "UTC" : request.timeZone();
        TaskSchedule schedule = ScheduleValidator.validate(request.schedules(), timeZone).compiled();
        return list(schedule, timeZone, after, count);
    }

    /** A stored task's schedules; a paused task is listed too (the list says when it would fire). */
    SchedulePreview previewTask(UUID id, Integer requestedCount, String requestedAfter) {
        int count = count(requestedCount);
        Instant after = after(requestedAfter);
        TaskView task = tasks.get(id);
        TaskSchedule schedule;
        try {
            schedule = TaskSchedule.of(ScheduleValidator.toProto(task.schedules()), task.timeZone());
        } catch (InvalidScheduleException e) {
            // Stored schedules were valid when written; only a rule tightened since can get here.
            throw new ApiException(ErrorKind.FAILED_PRECONDITION, e.field(), "task " + id + " has a schedule that"
                    + " no longer validates: " + e.getMessage() + ". Edit the task to fix it", e);
        }
        return list(schedule, task.timeZone(), after, count);
    }

    private static SchedulePreview list(TaskSchedule schedule, String timeZone, Instant after, int count) {
        ZoneId zone = schedule.timeZone();
        List<SchedulePreview.FireTime> fireTimes = schedule.next(after, count).stream()
                .map(time -> new SchedulePreview.FireTime(time,
                        DateTimeFormatter.ISO_OFFSET_DATE_TIME.format(OffsetDateTime.ofInstant(time, zone))))
                .toList();
        return new SchedulePreview(timeZone, after, fireTimes);
    }

    private static int count(Integer count) {
        if (count == null) {
            return DEFAULT_COUNT;
        }
        if (count < 1 || count > MAX_COUNT) {
            throw ApiException.invalid("count", "count is " + count + "; use 1 to " + MAX_COUNT
                    + " (default " + DEFAULT_COUNT + ")");
        }
        return count;
    }

    private Instant after(String after) {
        if (after == null || after.isEmpty()) {
            return clock.instant();
        }
        Instant instant;
        try {
            instant = OffsetDateTime.parse(after).toInstant();
        } catch (DateTimeParseException e) {
            throw ApiException.invalid("after", "after '" + after + "' is not an instant: give a date, time and offset"
                    + " such as \"2026-03-28T12:00:00Z\", or omit it for now");
        }
        if (instant.isBefore(EARLIEST) || instant.isAfter(LATEST)) {
            throw ApiException.invalid("after", "after is " + instant + "; use an instant between " + EARLIEST
                    + " and " + LATEST);
        }
        return instant;
    }
}
