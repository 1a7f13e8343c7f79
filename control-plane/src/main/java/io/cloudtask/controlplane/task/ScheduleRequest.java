package io.cloudtask.controlplane.task;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;
import java.util.List;

/**
 * One schedule as the REST API accepts and returns it: a flat object whose {@code type} says
 * which of the other fields apply (docs/scheduling.md has an example of each):
 * <ul>
 *   <li>{@code cron}: {@code expression}, {@code syntax} ({@code quartz} or {@code unix});
 *   <li>{@code interval}: {@code every}, {@code unit} ({@code seconds}, {@code minutes},
 *       {@code hours});
 *   <li>{@code daily}: {@code everyDays}, {@code at} (local "HH:MM[:SS]"), {@code startDate};
 *   <li>{@code weekly}: {@code everyWeeks}, {@code daysOfWeek} (["MON", ...]), {@code at},
 *       {@code startDate};
 *   <li>{@code monthly}: {@code months} ([1-12]), {@code dayOfMonth} (1 to 31, or -1 for the last
 *       day to -31) or {@code weekday} with {@code weekdayOrdinal} (1 to 4, or -1 for the last),
 *       {@code at};
 *   <li>{@code once}: {@code at} (an instant such as "2026-12-24T18:00:00Z").
 * </ul>
 * Every type takes {@code enabled}, {@code activeFrom}, {@code activeUntil} and {@code window}.
 * A field that does not apply to the type is rejected, so a typo cannot silently change a
 * schedule. Stored and returned in the normalised form {@link ScheduleValidator} produces.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ScheduleRequest(
        @Nullable String type,
        @Nullable String expression,
        @Nullable String syntax,
        @Nullable Long every,
        @Nullable String unit,
        @Nullable Integer everyDays,
        @Nullable Integer everyWeeks,
        @Nullable List<String> daysOfWeek,
        @Nullable List<Integer> months,
        @Nullable Integer dayOfMonth,
        @Nullable String weekday,
        @Nullable Integer weekdayOrdinal,
        @Nullable String at,
        @Nullable String startDate,
        @Nullable Window window,
        @Nullable Boolean enabled,
        @Nullable Instant activeFrom,
        @Nullable Instant activeUntil) {

    /** The daily window, local times "HH:MM[:SS]": {@code start} inclusive, {@code end} exclusive. */
    @Serdeable
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Window(@Nullable String start, @Nullable String end) {}

    /** An enabled Quartz cron schedule, for code that builds tasks (the API takes JSON). */
    public static ScheduleRequest cron(String expression) {
        return new ScheduleRequest("cron", expression, null, null, null, null, null, null, null, null, null, null, null,
                null, null, true, null, null);
    }
}
