package io.cloudtask.schedule;

import io.cloudtask.proto.v1.MonthlySchedule;
import java.time.DayOfWeek;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.Month;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.temporal.TemporalAdjusters;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * At a local time on one day of each chosen month: day N, the N-th day from the end, or the
 * first to fourth or last given weekday. A month without the chosen day (31 April) is skipped;
 * a schedule whose months never have it is rejected when parsed.
 */
final class MonthlyFireSource extends LocalTimeFireSource {
    /**
     * How far a search looks ahead: 29 February is the rarest day there is, and the longest gap
     * between two of them is 8 years (2096 to 2104, as 2100 is no leap year).
     */
    static final int MAX_MONTHS_SEARCHED = 12 * 9;

    private final Set<Integer> months;
    private final Function<YearMonth, Optional<LocalDate>> day;
    private final LocalTime at;

    private MonthlyFireSource(ZoneId zone, Set<Integer> months, Function<YearMonth, Optional<LocalDate>> day, LocalTime at) {
        super(zone);
        this.months = months;
        this.day = day;
        this.at = at;
    }

    static MonthlyFireSource parse(String field, MonthlySchedule monthly, ZoneId zone) throws InvalidScheduleException {
        Set<Integer> months = new TreeSet<>();
        for (int i = 0; i < monthly.getMonthsCount(); i++) {
            int month = monthly.getMonths(i);
            if (month < 1 || month > 12) {
                throw new InvalidScheduleException(field + ".months[" + i + "]", "month " + month
                        + " is out of range: use 1 (January) to 12 (December)");
            }
            months.add(month);
        }
        if (months.isEmpty()) {
            for (int month = 1; month <= 12; month++) {
                months.add(month);
            }
        }
        // February counts 29 days: a schedule for 29 February fires in leap years.
        int longest = months.stream().mapToInt(m -> Month.of(m).maxLength()).max().orElseThrow();
        Function<YearMonth, Optional<LocalDate>> day = switch (monthly.getDayCase()) {
            case DAY_OF_MONTH -> {
                int dom = monthly.getDayOfMonth();
                if (dom < 1 || dom > 31) {
                    throw new InvalidScheduleException(field + ".dayOfMonth", "dayOfMonth " + dom
                            + " is out of range: use 1 to 31, or -1 (last day) to -31 (counting from the end)");
                }
                if (dom > longest) {
                    throw new InvalidScheduleException(field + ".dayOfMonth", "day " + dom
                            + " never occurs in the chosen months " + names(months) + ", which have at most "
                            + longest + " days: the schedule would never fire. Choose a day up to " + longest
                            + ", or dayOfMonth -1 for the last day of each month");
                }
                yield ym -> dom <= ym.lengthOfMonth() ? Optional.of(ym.atDay(dom)) : Optional.empty();
            }
            case DAYS_FROM_END -> {
                int back = monthly.getDaysFromEnd();
                if (back < 1 || back > 31) {
                    throw new InvalidScheduleException(field + ".dayOfMonth", "dayOfMonth " + (-back)
                            + " is out of range: use -1 (last day) to -31, or 1 to 31");
                }
                if (back > longest) {
                    throw new InvalidScheduleException(field + ".dayOfMonth", "dayOfMonth " + (-back)
                            + " (day " + back + " counting back from the end) never occurs in the chosen months "
                            + names(months) + ", which have at most " + longest + " days: the schedule would never fire");
                }
                yield ym -> back <= ym.lengthOfMonth()
                        ? Optional.of(ym.atDay(ym.lengthOfMonth() - back + 1)) : Optional.empty();
            }
            case NTH_WEEKDAY -> {
                DayOfWeek weekday = ScheduleFields.weekday(field + ".weekday", monthly.getNthWeekday().getWeekdayValue());
                yield switch (monthly.getNthWeekday().getOrdinal()) {
                    // Every month has at least 28 days, so each weekday occurs at least four times.
                    case WEEKDAY_ORDINAL_FIRST, WEEKDAY_ORDINAL_SECOND, WEEKDAY_ORDINAL_THIRD, WEEKDAY_ORDINAL_FOURTH -> {
                        int nth = monthly.getNthWeekday().getOrdinalValue();
                        yield ym -> Optional.of(ym.atDay(1).with(TemporalAdjusters.dayOfWeekInMonth(nth, weekday)));
                    }
                    case WEEKDAY_ORDINAL_LAST ->
                            ym -> Optional.of(ym.atEndOfMonth().with(TemporalAdjusters.lastInMonth(weekday)));
                    case WEEKDAY_ORDINAL_UNSPECIFIED, UNRECOGNIZED -> throw new InvalidScheduleException(
                            field + ".weekdayOrdinal", "weekdayOrdinal is required with weekday: 1 to 4 (first to"
                                    + " fourth) or -1 (last)");
                };
            }
            case DAY_NOT_SET -> throw new InvalidScheduleException(field + ".dayOfMonth", "a monthly schedule needs"
                    + " a day: dayOfMonth (1 to 31, or -1 for the last day) or weekday with weekdayOrdinal");
        };
        LocalTime at = ScheduleFields.timeOfDay(field + ".at", monthly.getAt());
        return new MonthlyFireSource(zone, Set.copyOf(months), day, at);
    }

    private static String names(Set<Integer> months) {
        return months.stream().map(String::valueOf).collect(Collectors.joining(", ", "(", ")"));
    }

    @Override
    Optional<LocalDateTime> nextLocalAfter(LocalDateTime local) {
        YearMonth month = YearMonth.from(local);
        for (int i = 0; i <= MAX_MONTHS_SEARCHED; i++, month = month.plusMonths(1)) {
            if (!months.contains(month.getMonthValue())) {
                continue;
            }
            Optional<LocalDateTime> candidate = day.apply(month).map(date -> date.atTime(at));
            if (candidate.isPresent() && candidate.get().isAfter(local)) {
                return candidate;
            }
        }
        return Optional.empty();
    }
}
