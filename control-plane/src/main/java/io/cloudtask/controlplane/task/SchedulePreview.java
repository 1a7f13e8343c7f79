package io.cloudtask.controlplane.task;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.List;

/**
 * The next fire times of some schedules, strictly after {@code after}, merged as a task fires
 * them (an instant produced by two schedules is listed once). Fewer than asked for when the
 * schedules stop firing.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record SchedulePreview(String timeZone, Instant after, List<FireTime> fireTimes) {

    /** One fire: the instant, and the same instant as local time with its offset in the task's zone. */
    @Serdeable
    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record FireTime(Instant time, String localTime) {}
}
