package io.cloudtask.controlplane.task;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.proto.v1.CalendarDate;
import io.cloudtask.proto.v1.CronSchedule;
import io.cloudtask.proto.v1.CronSyntax;
import io.cloudtask.proto.v1.DailySchedule;
import io.cloudtask.proto.v1.DailyWindow;
import io.cloudtask.proto.v1.IntervalSchedule;
import io.cloudtask.proto.v1.IntervalUnit;
import io.cloudtask.proto.v1.MonthlySchedule;
import io.cloudtask.proto.v1.NthWeekday;
import io.cloudtask.proto.v1.OnceSchedule;
import io.cloudtask.proto.v1.Schedule;
import io.cloudtask.proto.v1.TimeOfDay;
import io.cloudtask.proto.v1.Weekday;
import io.cloudtask.proto.v1.WeekdayOrdinal;
import io.cloudtask.proto.v1.WeeklySchedule;
import io.cloudtask.schedule.InvalidScheduleException;
import io.cloudtask.schedule.TaskSchedule;
import io.cloudtask.schedule.Timestamps;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The REST form of schedules ({@link ScheduleRequest}) at the edge: parses and normalises it
 * (types, units, weekday names, local times), rejects fields that do not apply to the type, and
 * converts it to the proto the agents receive. Whether the values make a schedule that can fire
 * is decided by {@link TaskSchedule}, the code the agents fire with. Pure: no database, no clock.
 */
final class ScheduleValidator {
    static final int MAX_SCHEDULES = 50;

    /** Schedules that passed validation: as stored and returned, as sent to agents, compiled. */
    record Validated(List<ScheduleRequest> schedules, List<Schedule> protos, TaskSchedule compiled) {}

    private static final Set<String> COMMON = Set.of("type", "enabled", "activeFrom", "activeUntil", "window");
    private static final Map<String, Set<String>> FIELDS_BY_TYPE = Map.of(
            "cron", Set.of("expression", "syntax"),
            "interval", Set.of("every", "unit"),
            "daily", Set.of("everyDays", "at", "startDate"),
            "weekly", Set.of("everyWeeks", "daysOfWeek", "at", "startDate"),
            "monthly", Set.of("months", "dayOfMonth", "weekday", "weekdayOrdinal", "at"),
            "once", Set.of("at"));
    private static final String TYPES = "cron, interval, daily, weekly, monthly or once";

    private ScheduleValidator() {}

    /** Validates schedules for a time zone, or throws an {@link ApiException} naming the field. */
    static Validated validate(List<ScheduleRequest> schedules, String timeZone) {
        List<ScheduleRequest> normalised = normalise(schedules);
        List<Schedule> protos = toProto(normalised);
        try {
            return new Validated(normalised, protos, TaskSchedule.of(protos, timeZone));
        } catch (InvalidScheduleException e) {
            throw ApiException.invalid(e.field(), e.getMessage());
        }
    }

    static List<ScheduleRequest> normalise(List<ScheduleRequest> schedules) {
        if (schedules == null) {
            return List.of();
        }
        if (schedules.size() > MAX_SCHEDULES) {
            throw ApiException.invalid("schedules", "a task has " + schedules.size()
                    + " schedules; the limit is " + MAX_SCHEDULES);
        }
        List<ScheduleRequest> normalised = new ArrayList<>(schedules.size());
        for (int i = 0; i < schedules.size(); i++) {
            normalised.add(normalise("schedules[" + i + "]", schedules.get(i)));
        }
        return List.copyOf(normalised);
    }

    private static ScheduleRequest normalise(String field, ScheduleRequest s) {
        if (s == null) {
            throw ApiException.invalid(field, field + " is null: give an object such as"
                    + " {\"type\": \"cron\", \"expression\": \"0 */5 * * * ?\"}");
        }
        // Before there were kinds, a schedule without a type was a cron schedule.
        String type = s.type() == null ? "cron" : s.type().toLowerCase(Locale.ROOT);
        Set<String> allowed = FIELDS_BY_TYPE.get(type);
        if (allowed == null) {
            throw ApiException.invalid(field + ".type", "schedule type '" + s.type() + "' is not supported; use " + TYPES);
        }
        for (Map.Entry<String, Object> present : presentFields(s).entrySet()) {
            if (!COMMON.contains(present.getKey()) && !allowed.contains(present.getKey())) {
                throw ApiException.invalid(field + "." + present.getKey(), "'" + present.getKey()
                        + "' does not apply to type '" + type + "', which takes " + String.join(", ", allowed.stream()
                                .sorted().toList()) + " (and enabled, activeFrom, activeUntil, window)");
            }
        }
        ScheduleRequest.Window window = s.window() == null ? null : new ScheduleRequest.Window(
                localTime(field + ".window.start", s.window().start()), localTime(field + ".window.end", s.window().end()));
        boolean enabled = s.enabled() == null || s.enabled();
        return switch (type) {
            case "cron" -> {
                String syntax = s.syntax() == null ? "quartz" : s.syntax().toLowerCase(Locale.ROOT);
                if (!syntax.equals("quartz") && !syntax.equals("unix")) {
                    throw ApiException.invalid(field + ".syntax", "cron syntax '" + s.syntax()
                            + "' is not supported; use 'quartz' (with seconds) or 'unix' (5 fields)");
                }
                yield new ScheduleRequest(type, s.expression(), syntax, null, null, null, null, null, null, null, null,
                        null, null, null, window, enabled, s.activeFrom(), s.activeUntil());
            }
            case "interval" -> {
                if (s.every() == null) {
                    throw ApiException.invalid(field + ".every", "an interval needs 'every', a whole number such as 15");
                }
                yield new ScheduleRequest(type, null, null, s.every(), unit(field + ".unit", s.unit()), null, null, null,
                        null, null, null, null, null, null, window, enabled, s.activeFrom(), s.activeUntil());
            }
            case "daily" -> new ScheduleRequest(type, null, null, null, null, every(field + ".everyDays", s.everyDays()),
                    null, null, null, null, null, null, requiredLocalTime(field + ".at", s.at()),
                    date(field + ".startDate", s.startDate()), window, enabled, s.activeFrom(), s.activeUntil());
            case "weekly" -> new ScheduleRequest(type, null, null, null, null, null,
                    every(field + ".everyWeeks", s.everyWeeks()), weekdays(field + ".daysOfWeek", s.daysOfWeek()), null,
                    null, null, null, requiredLocalTime(field + ".at", s.at()), date(field + ".startDate", s.startDate()),
                    window, enabled, s.activeFrom(), s.activeUntil());
            case "monthly" -> monthly(field, s, window, enabled);
            case "once" -> new ScheduleRequest(type, null, null, null, null, null, null, null, null, null, null, null,
                    instant(field + ".at", s.at()), null, window, enabled, s.activeFrom(), s.activeUntil());
            default -> throw new IllegalStateException("type " + type + " is in FIELDS_BY_TYPE but not handled");
        };
    }

    private static ScheduleRequest monthly(String field, ScheduleRequest s, ScheduleRequest.Window window, boolean enabled) {
        if (s.dayOfMonth() != null && (s.weekday() != null || s.weekdayOrdinal() != null)) {
            throw ApiException.invalid(field + ".dayOfMonth", "give either dayOfMonth or weekday with weekdayOrdinal,"
                    + " not both");
        }
        String weekday = null;
        if (s.dayOfMonth() == null) {
            if (s.weekday() == null) {
                throw ApiException.invalid(field + (s.weekdayOrdinal() == null ? ".dayOfMonth" : ".weekday"),
                        "a monthly schedule needs a day: dayOfMonth (1 to 31, or -1 for the last day) or weekday"
                                + " (such as \"FRI\") with weekdayOrdinal (1 to 4, or -1 for the last)");
            }
            weekday = weekday(field + ".weekday", s.weekday()).name().substring(0, 3);
            if (s.weekdayOrdinal() == null || s.weekdayOrdinal() == 0 || s.weekdayOrdinal() < -1
                    || s.weekdayOrdinal() > 4) {
                throw ApiException.invalid(field + ".weekdayOrdinal", "weekdayOrdinal is " + s.weekdayOrdinal()
                        + "; use 1 to 4 (the first to the fourth " + weekday + " of the month) or -1 (the last)");
            }
        } else if (s.dayOfMonth() == 0) {
            throw ApiException.invalid(field + ".dayOfMonth", "dayOfMonth 0 does not exist: use 1 to 31, or -1 for the"
                    + " last day of the month (-2 the day before it, and so on)");
        }
        List<Integer> months = s.months() == null || s.months().isEmpty() ? null : List.copyOf(s.months());
        return new ScheduleRequest("monthly", null, null, null, null, null, null, null, months, s.dayOfMonth(), weekday,
                s.weekdayOrdinal(), requiredLocalTime(field + ".at", s.at()), null, window, enabled, s.activeFrom(),
                s.activeUntil());
    }

    private static Map<String, Object> presentFields(ScheduleRequest s) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("expression", s.expression());
        fields.put("syntax", s.syntax());
        fields.put("every", s.every());
        fields.put("unit", s.unit());
        fields.put("everyDays", s.everyDays());
        fields.put("everyWeeks", s.everyWeeks());
        fields.put("daysOfWeek", s.daysOfWeek());
        fields.put("months", s.months());
        fields.put("dayOfMonth", s.dayOfMonth());
        fields.put("weekday", s.weekday());
        fields.put("weekdayOrdinal", s.weekdayOrdinal());
        fields.put("at", s.at());
        fields.put("startDate", s.startDate());
        fields.values().removeIf(java.util.Objects::isNull);
        return fields;
    }

    /** "Every N days / weeks": omitted means 1; the upper bounds are the schedule module's. */
    private static int every(String field, Integer every) {
        if (every == null) {
            return 1;
        }
        if (every < 1) {
            throw ApiException.invalid(field, field.substring(field.lastIndexOf('.') + 1) + " is " + every
                    + "; use 1 or more (or omit it for 1)");
        }
        return every;
    }

    private static String unit(String field, String unit) {
        String u = unit == null ? "" : unit.toLowerCase(Locale.ROOT);
        return switch (u) {
            case "seconds", "second" -> "seconds";
            case "minutes", "minute" -> "minutes";
            case "hours", "hour" -> "hours";
            default -> throw ApiException.invalid(field, (unit == null ? "an interval needs a unit"
                    : "unit '" + unit + "' is not supported") + ": use \"seconds\", \"minutes\" or \"hours\""
                    + " (for days, weeks or months use a daily, weekly or monthly schedule)");
        };
    }

    private static String requiredLocalTime(String field, String value) {
        if (value == null) {
            throw ApiException.invalid(field, "'at' is required: a local time of day in the task's time zone,"
                    + " \"HH:MM\" or \"HH:MM:SS\", such as \"06:30\"");
        }
        return localTime(field, value);
    }

    private static String localTime(String field, String value) {
        if (value == null) {
            throw ApiException.invalid(field, "a local time of day \"HH:MM\" or \"HH:MM:SS\" is required here");
        }
        try {
            LocalTime time = LocalTime.parse(value);
            if (time.getNano() != 0) {
                throw ApiException.invalid(field, "'" + value + "' has a fraction of a second; schedules fire on whole"
                        + " seconds: use \"HH:MM\" or \"HH:MM:SS\"");
            }
            return time.toString();
        } catch (DateTimeParseException e) {
            throw ApiException.invalid(field, "'" + value + "' is not a local time of day: use 24-hour \"HH:MM\" or"
                    + " \"HH:MM:SS\", such as \"06:30\" or \"23:59:59\"");
        }
    }

    private static String date(String field, String value) {
        if (value == null) {
            return null;
        }
        try {
            return LocalDate.parse(value).toString();
        } catch (DateTimeParseException e) {
            throw ApiException.invalid(field, "'" + value + "' is not a date: use \"YYYY-MM-DD\", such as \"2026-01-05\"");
        }
    }

    private static String instant(String field, String value) {
        if (value == null) {
            throw ApiException.invalid(field, "a once schedule needs 'at', an instant with an offset such as"
                    + " \"2026-12-24T18:00:00Z\" or \"2026-12-24T19:00:00+01:00\"");
        }
        try {
            return OffsetDateTime.parse(value).toInstant().toString();
        } catch (DateTimeParseException e) {
            throw ApiException.invalid(field, "'" + value + "' is not an instant: give a date, time and offset such as"
                    + " \"2026-12-24T18:00:00Z\" or \"2026-12-24T19:00:00+01:00\"");
        }
    }

    private static List<String> weekdays(String field, List<String> values) {
        if (values == null || values.isEmpty()) {
            throw ApiException.invalid(field, "a weekly schedule needs daysOfWeek, at least one weekday such as"
                    + " [\"MON\", \"FRI\"]");
        }
        List<String> result = new ArrayList<>(values.size());
        for (int i = 0; i < values.size(); i++) {
            result.add(weekday(field + "[" + i + "]", values.get(i)).name().substring(0, 3));
        }
        return List.copyOf(result);
    }

    private static DayOfWeek weekday(String field, String value) {
        String upper = value == null ? "" : value.toUpperCase(Locale.ROOT);
        for (DayOfWeek day : DayOfWeek.values()) {
            if (day.name().equals(upper) || day.name().substring(0, 3).equals(upper)) {
                return day;
            }
        }
        throw ApiException.invalid(field, "'" + value + "' is not a weekday: use MON, TUE, WED, THU, FRI, SAT or SUN");
    }

    /** The proto form of normalised schedules (what agents receive). */
    static List<Schedule> toProto(List<ScheduleRequest> schedules) {
        List<Schedule> result = new ArrayList<>(schedules.size());
        for (ScheduleRequest s : schedules) {
            Schedule.Builder builder = Schedule.newBuilder().setEnabled(s.enabled() == null || s.enabled());
            switch (s.type() == null ? "cron" : s.type()) {
                case "interval" -> builder.setInterval(IntervalSchedule.newBuilder().setEvery(s.every())
                        .setUnit(switch (s.unit()) {
                            case "seconds" -> IntervalUnit.INTERVAL_UNIT_SECONDS;
                            case "minutes" -> IntervalUnit.INTERVAL_UNIT_MINUTES;
                            default -> IntervalUnit.INTERVAL_UNIT_HOURS;
                        }));
                case "daily" -> {
                    DailySchedule.Builder daily = DailySchedule.newBuilder().setEveryDays(s.everyDays())
                            .setAt(timeOfDay(s.at()));
                    if (s.startDate() != null) {
                        daily.setStartDate(calendarDate(s.startDate()));
                    }
                    builder.setDaily(daily);
                }
                case "weekly" -> {
                    WeeklySchedule.Builder weekly = WeeklySchedule.newBuilder().setEveryWeeks(s.everyWeeks())
                            .setAt(timeOfDay(s.at()));
                    s.daysOfWeek().forEach(day -> weekly.addDaysOfWeek(weekdayProto(day)));
                    if (s.startDate() != null) {
                        weekly.setStartDate(calendarDate(s.startDate()));
                    }
                    builder.setWeekly(weekly);
                }
                case "monthly" -> {
                    MonthlySchedule.Builder monthly = MonthlySchedule.newBuilder().setAt(timeOfDay(s.at()));
                    if (s.months() != null) {
                        monthly.addAllMonths(s.months());
                    }
                    if (s.dayOfMonth() != null) {
                        if (s.dayOfMonth() > 0) {
                            monthly.setDayOfMonth(s.dayOfMonth());
                        } else {
                            monthly.setDaysFromEnd(-s.dayOfMonth());
                        }
                    } else {
                        monthly.setNthWeekday(NthWeekday.newBuilder().setWeekday(weekdayProto(s.weekday()))
                                .setOrdinal(s.weekdayOrdinal() == -1 ? WeekdayOrdinal.WEEKDAY_ORDINAL_LAST
                                        : WeekdayOrdinal.forNumber(s.weekdayOrdinal())));
                    }
                    builder.setMonthly(monthly);
                }
                case "once" -> builder.setOnce(OnceSchedule.newBuilder().setAt(Timestamps.of(Instant.parse(s.at()))));
                default -> builder.setCron(CronSchedule.newBuilder()
                        .setExpression(s.expression() == null ? "" : s.expression())
                        .setSyntax("unix".equals(s.syntax()) ? CronSyntax.CRON_SYNTAX_UNIX : CronSyntax.CRON_SYNTAX_QUARTZ));
            }
            if (s.window() != null) {
                builder.setWindow(DailyWindow.newBuilder().setStart(timeOfDay(s.window().start()))
                        .setEnd(timeOfDay(s.window().end())));
            }
            if (s.activeFrom() != null) {
                builder.setActiveFrom(Timestamps.of(s.activeFrom()));
            }
            if (s.activeUntil() != null) {
                builder.setActiveUntil(Timestamps.of(s.activeUntil()));
            }
            result.add(builder.build());
        }
        return result;
    }

    private static TimeOfDay timeOfDay(String localTime) {
        LocalTime time = LocalTime.parse(localTime);
        return TimeOfDay.newBuilder().setHours(time.getHour()).setMinutes(time.getMinute()).setSeconds(time.getSecond())
                .build();
    }

    private static CalendarDate calendarDate(String date) {
        LocalDate day = LocalDate.parse(date);
        return CalendarDate.newBuilder().setYear(day.getYear()).setMonth(day.getMonthValue())
                .setDay(day.getDayOfMonth()).build();
    }

    private static Weekday weekdayProto(String day) {
        return Weekday.forNumber(weekday("", day).getValue());
    }
}
