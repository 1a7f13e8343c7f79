package io.cloudtask.schedule;

import static org.assertj.core.api.Assertions.assertThat;

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
import io.cloudtask.proto.v1.Weekday;
import io.cloudtask.proto.v1.WeekdayOrdinal;
import io.cloudtask.proto.v1.WeeklySchedule;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.time.zone.ZoneOffsetTransition;
import java.time.zone.ZoneRules;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Random schedules of every kind, compared with a brute-force oracle that tests each instant of a
 * span on its own: "is this instant a fire?", written from the rules in docs/scheduling.md
 * rather than from the implementation's search. Plain seeded loops: a failure names its seed.
 *
 * <p>To stay within seconds, kinds with minute granularity (calendar kinds and cron at second 0,
 * intervals of whole minutes from whole-minute anchors) are scanned minute by minute over a full
 * year from a random start, which always includes both daylight saving switches of the zones that
 * have them. Kinds with second granularity (intervals in seconds, cron with a seconds field) are
 * scanned second by second over two days around a random switch only.
 */
class FireTimesPropertyTest {
    /** Zones with daylight saving time come up more often: that is where the rules matter. */
    private static final List<String> ZONES = List.of("UTC", "Asia/Kolkata", "Europe/Berlin", "Europe/Berlin",
            "America/New_York", "America/New_York", "Australia/Lord_Howe");
    private static final LocalDate REFERENCE_DAY = LocalDate.of(2000, 1, 1);
    private static final int CASES_PER_KIND = 10;

    /** A generated schedule and the oracle saying, for one instant, whether it is a fire. */
    private record Case(String description, Schedule schedule, ZoneId zone, Predicate<Instant> isFire) {}

    private interface Generator {
        Case generate(Random random, ZoneId zone, Instant spanStart, Instant spanEnd);
    }

    @Test
    void dailyFiresAgreeWithAMinuteByMinuteScanOverAYear() throws Exception {
        checkYear(1_000, FireTimesPropertyTest::daily);
    }

    @Test
    void weeklyFiresAgreeWithAMinuteByMinuteScanOverAYear() throws Exception {
        checkYear(2_000, FireTimesPropertyTest::weekly);
    }

    @Test
    void monthlyFiresAgreeWithAMinuteByMinuteScanOverAYear() throws Exception {
        checkYear(3_000, FireTimesPropertyTest::monthly);
    }

    @Test
    void cronFiresAgreeWithAMinuteByMinuteScanOverAYear() throws Exception {
        checkYear(4_000, (random, zone, from, to) -> cron(random, zone, from, to, false));
    }

    @Test
    void intervalFiresAgreeWithAMinuteByMinuteScanOverAYear() throws Exception {
        checkYear(5_000, (random, zone, from, to) -> interval(random, zone, from, to, false));
    }

    @Test
    void onceFiresAgreeWithAMinuteByMinuteScanOverAYear() throws Exception {
        // An instant needs no daylight saving rules; only range and window apply.
        assertThat(checkYear(6_000, FireTimesPropertyTest::once, CASES_PER_KIND)).contains(Outcome.FIRED);
    }

    @Test
    void secondGranularKindsAgreeWithASecondBySecondScanAroundASwitch() throws Exception {
        List<Outcome> outcomes = new ArrayList<>();
        for (int i = 0; i < CASES_PER_KIND * 2; i++) {
            long seed = 7_000 + i;
            Random random = new Random(seed);
            ZoneId zone = ZoneId.of(ZONES.get(random.nextInt(ZONES.size())));
            Instant around = randomInstant(random, Instant.parse("2026-01-01T00:00:00Z"), Duration.ofDays(730), 1);
            ZoneOffsetTransition transition = zone.getRules().nextTransition(around);
            Instant start = (transition == null ? around : transition.getInstant()).minus(Duration.ofDays(1))
                    .truncatedTo(ChronoUnit.SECONDS);
            Instant end = start.plus(Duration.ofDays(2));
            Case generated = i % 2 == 0 ? interval(random, zone, start, end, true) : cron(random, zone, start, end, true);
            outcomes.add(check(seed, generated, start, end, Duration.ofSeconds(1)));
        }
        assertThat(outcomes).as("the cases include fires at a daylight saving switch").contains(Outcome.FIRED_AROUND_A_SWITCH);
    }

    /** What one case exercised, so a test can insist that its cases reach the rules that matter. */
    private enum Outcome { REJECTED, FIRED, FIRED_AROUND_A_SWITCH }

    private static void checkYear(long firstSeed, Generator generator) throws Exception {
        assertThat(checkYear(firstSeed, generator, CASES_PER_KIND))
                .as("the cases include fires at a daylight saving switch").contains(Outcome.FIRED_AROUND_A_SWITCH);
    }

    private static List<Outcome> checkYear(long firstSeed, Generator generator, int cases) throws Exception {
        List<Outcome> outcomes = new ArrayList<>();
        for (int i = 0; i < cases; i++) {
            long seed = firstSeed + i;
            Random random = new Random(seed);
            ZoneId zone = ZoneId.of(ZONES.get(random.nextInt(ZONES.size())));
            Instant start = randomInstant(random, Instant.parse("2026-01-01T00:00:00Z"), Duration.ofDays(730), 60);
            Instant end = start.plus(Duration.ofDays(365));
            outcomes.add(check(seed, generator.generate(random, zone, start, end), start, end, Duration.ofMinutes(1)));
        }
        return outcomes;
    }

    private static Outcome check(long seed, Case generated, Instant start, Instant end, Duration step) {
        List<Instant> expected = new ArrayList<>();
        for (Instant t = start; t.isBefore(end); t = t.plus(step)) {
            if (generated.isFire().test(t)) {
                expected.add(t);
            }
        }
        String description = "seed " + seed + ": " + generated.description() + " in " + generated.zone()
                + " from " + start + " to " + end;
        TaskSchedule schedule;
        try {
            schedule = TaskSchedule.of(List.of(generated.schedule()), generated.zone().getId());
        } catch (InvalidScheduleException e) {
            // A rejected schedule claims never to fire, so the scan must find nothing either.
            assertThat(expected).as(description + " was rejected (" + e.field() + ": " + e.getMessage() + ")").isEmpty();
            return Outcome.REJECTED;
        }
        List<Instant> actual = new ArrayList<>();
        Instant cursor = start.minusNanos(1);
        while (true) {
            Instant next = schedule.nextAfter(cursor).orElse(null);
            if (next == null || !next.isBefore(end)) {
                break;
            }
            assertThat(next).as(description + ": fire times strictly increase").isAfter(cursor);
            actual.add(next);
            cursor = next;
        }
        assertThat(actual).as(description).isEqualTo(expected);
        // Asked from anywhere, not only from the previous fire: random instants, and instants in
        // the second pass of a fall-back overlap, where the local time has been seen before.
        Random random = new Random(seed);
        List<Instant> probes = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            probes.add(randomInstant(random, start, Duration.between(start, end), 1));
        }
        ZoneRules rules = generated.zone().getRules();
        for (ZoneOffsetTransition transition = rules.nextTransition(start);
                transition != null && transition.getInstant().isBefore(end);
                transition = rules.nextTransition(transition.getInstant())) {
            probes.add(transition.getInstant().plusSeconds(random.nextInt(3600)));
        }
        for (Instant probe : probes) {
            Instant firstExpected = expected.stream().filter(t -> t.isAfter(probe)).findFirst().orElse(null);
            Instant answer = schedule.nextAfter(probe).filter(t -> t.isBefore(end)).orElse(null);
            assertThat(answer).as(description + ": first fire after " + probe).isEqualTo(firstExpected);
        }
        return expected.stream().anyMatch(t -> nearASwitch(t, generated.zone())) ? Outcome.FIRED_AROUND_A_SWITCH : Outcome.FIRED;
    }

    /** Whether an instant ends a spring-forward gap or falls in the first pass of a fall-back overlap. */
    private static boolean nearASwitch(Instant t, ZoneId zone) {
        ZoneOffsetTransition next = zone.getRules().nextTransition(t);
        ZoneOffsetTransition previous = zone.getRules().previousTransition(t.plusNanos(1));
        return previous != null && previous.getInstant().equals(t) && previous.isGap()
                || next != null && next.isOverlap() && Duration.between(t, next.getInstant()).compareTo(next.getDuration().abs()) <= 0;
    }

    // ---- generators; each returns the schedule and an oracle built from the documented rules ----

    private static Case daily(Random random, ZoneId zone, Instant spanStart, Instant spanEnd) {
        int everyDays = List.of(1, 1, 1, 2, 3, 7).get(random.nextInt(6));
        LocalDateTime aim = aimAtASwitch(random, zone, spanStart, spanEnd);
        LocalTime at = aim != null ? aim.toLocalTime() : randomTime(random);
        LocalDate startDate = random.nextInt(3) == 0 ? LocalDate.ofInstant(spanStart, zone).plusDays(random.nextInt(60)) : null;
        Range range = randomRange(random, spanStart, spanEnd);
        DailySchedule.Builder daily = DailySchedule.newBuilder().setEveryDays(everyDays).setAt(Schedules.time(at));
        if (startDate != null) {
            daily.setStartDate(Schedules.date(startDate));
        }
        LocalDate anchor = anchorDay(startDate, range.from(), zone);
        Predicate<LocalDateTime> matches = local -> local.toLocalTime().equals(at)
                && (startDate == null || !local.toLocalDate().isBefore(startDate))
                && Math.floorMod(ChronoUnit.DAYS.between(anchor, local.toLocalDate()), everyDays) == 0;
        return finish(random, "daily every " + everyDays + " days at " + at + " from " + startDate,
                Schedule.newBuilder().setDaily(daily), zone, range, wallClock(zone, matches));
    }

    private static Case weekly(Random random, ZoneId zone, Instant spanStart, Instant spanEnd) {
        int everyWeeks = 1 + random.nextInt(3);
        LocalDateTime aim = aimAtASwitch(random, zone, spanStart, spanEnd);
        Set<DayOfWeek> days = new TreeSet<>();
        if (aim != null) {
            days.add(aim.getDayOfWeek());
        }
        int count = 1 + random.nextInt(3);
        while (days.size() < count) {
            days.add(DayOfWeek.of(1 + random.nextInt(7)));
        }
        LocalTime at = aim != null ? aim.toLocalTime() : randomTime(random);
        LocalDate startDate = random.nextInt(3) == 0 ? LocalDate.ofInstant(spanStart, zone).plusDays(random.nextInt(60)) : null;
        Range range = randomRange(random, spanStart, spanEnd);
        WeeklySchedule.Builder weekly = WeeklySchedule.newBuilder().setEveryWeeks(everyWeeks).setAt(Schedules.time(at));
        days.forEach(day -> weekly.addDaysOfWeek(Weekday.forNumber(day.getValue())));
        if (startDate != null) {
            weekly.setStartDate(Schedules.date(startDate));
        }
        LocalDate monday = anchorDay(startDate, range.from(), zone).with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
        Predicate<LocalDateTime> matches = local -> local.toLocalTime().equals(at)
                && days.contains(local.getDayOfWeek())
                && (startDate == null || !local.toLocalDate().isBefore(startDate))
                && Math.floorMod(Math.floorDiv(ChronoUnit.DAYS.between(monday, local.toLocalDate()), 7), everyWeeks) == 0;
        return finish(random, "weekly every " + everyWeeks + " weeks on " + days + " at " + at + " from " + startDate,
                Schedule.newBuilder().setWeekly(weekly), zone, range, wallClock(zone, matches));
    }

    private static Case monthly(Random random, ZoneId zone, Instant spanStart, Instant spanEnd) {
        LocalDateTime aim = aimAtASwitch(random, zone, spanStart, spanEnd);
        Set<Integer> months = new TreeSet<>();
        if (random.nextBoolean()) {
            if (aim != null) {
                months.add(aim.getMonthValue());
            }
            int count = 1 + random.nextInt(4);
            while (months.size() < count) {
                months.add(1 + random.nextInt(12));
            }
        }
        LocalTime at = aim != null ? aim.toLocalTime() : randomTime(random);
        LocalDate aimedDay = aim == null ? null : aim.toLocalDate();
        MonthlySchedule.Builder monthly = MonthlySchedule.newBuilder().addAllMonths(months).setAt(Schedules.time(at));
        Predicate<LocalDate> day;
        String what;
        switch (random.nextInt(4)) {
            case 0 -> {
                // Biased to the month ends, where the interesting cases are.
                int dom = aimedDay != null ? aimedDay.getDayOfMonth()
                        : random.nextBoolean() ? 28 + random.nextInt(4) : 1 + random.nextInt(31);
                monthly.setDayOfMonth(dom);
                day = date -> date.getDayOfMonth() == dom;
                what = "day " + dom;
            }
            case 1 -> {
                int back = aimedDay != null ? aimedDay.lengthOfMonth() - aimedDay.getDayOfMonth() + 1
                        : random.nextBoolean() ? 1 + random.nextInt(3) : 1 + random.nextInt(31);
                monthly.setDaysFromEnd(back);
                day = date -> date.lengthOfMonth() - date.getDayOfMonth() + 1 == back;
                what = "day " + back + " from the end";
            }
            case 2 -> {
                int nth = aimedDay != null ? Math.min(4, (aimedDay.getDayOfMonth() - 1) / 7 + 1) : 1 + random.nextInt(4);
                DayOfWeek weekday = aimedDay != null ? aimedDay.getDayOfWeek() : DayOfWeek.of(1 + random.nextInt(7));
                monthly.setNthWeekday(NthWeekday.newBuilder().setWeekday(Weekday.forNumber(weekday.getValue()))
                        .setOrdinal(WeekdayOrdinal.forNumber(nth)));
                day = date -> date.getDayOfWeek() == weekday && (date.getDayOfMonth() - 1) / 7 + 1 == nth;
                what = "weekday " + nth + " " + weekday;
            }
            default -> {
                DayOfWeek weekday = aimedDay != null ? aimedDay.getDayOfWeek() : DayOfWeek.of(1 + random.nextInt(7));
                monthly.setNthWeekday(NthWeekday.newBuilder().setWeekday(Weekday.forNumber(weekday.getValue()))
                        .setOrdinal(WeekdayOrdinal.WEEKDAY_ORDINAL_LAST));
                day = date -> date.getDayOfWeek() == weekday && date.getDayOfMonth() + 7 > date.lengthOfMonth();
                what = "last " + weekday;
            }
        }
        Predicate<LocalDate> onDay = day;
        Predicate<LocalDateTime> matches = local -> local.toLocalTime().equals(at)
                && (months.isEmpty() || months.contains(local.getMonthValue()))
                && onDay.test(local.toLocalDate());
        return finish(random, "monthly in " + months + " on " + what + " at " + at,
                Schedule.newBuilder().setMonthly(monthly), zone, randomRange(random, spanStart, spanEnd),
                wallClock(zone, matches));
    }

    private static Case cron(Random random, ZoneId zone, Instant spanStart, Instant spanEnd, boolean withSeconds) {
        LocalDateTime aim = aimAtASwitch(random, zone, spanStart, spanEnd);
        Set<Integer> seconds = withSeconds ? randomSet(random, 0, 59, 1 + random.nextInt(4)) : Set.of(0);
        Set<Integer> minutes = withSeconds && random.nextBoolean() ? null : randomSet(random, 0, 59, 1 + random.nextInt(3));
        // Hours 1 to 3 hold the switches of these zones; favour them. Every hour ("*") only with
        // few fires per day, so the year scan's cron-utils calls stay in the thousands.
        Set<Integer> hours = random.nextInt(4) == 0 && minutes != null && minutes.size() == 1 ? null
                : random.nextBoolean() ? randomSet(random, 1, 3, 1 + random.nextInt(2)) : randomSet(random, 0, 23, 1 + random.nextInt(3));
        Set<Integer> months = random.nextBoolean() ? null : randomSet(random, 1, 12, 1 + random.nextInt(6));
        if (aim != null) {
            minutes = minutes == null ? null : with(minutes, aim.getMinute());
            hours = hours == null ? null : with(hours, aim.getHour());
            months = months == null ? null : with(months, aim.getMonthValue());
        }
        Set<Integer> daysOfMonth = null;
        Set<Integer> daysOfWeek = null;
        switch (random.nextInt(4)) {
            case 0 -> daysOfMonth = randomSet(random, 1, 31, 1 + random.nextInt(8));
            case 1 -> daysOfWeek = randomSet(random, 1, 7, 1 + random.nextInt(4));
            default -> { }
        }
        if (aim != null && daysOfMonth != null) {
            daysOfMonth = with(daysOfMonth, aim.getDayOfMonth());
        }
        if (aim != null && daysOfWeek != null) {
            daysOfWeek = with(daysOfWeek, aim.getDayOfWeek().getValue());
        }
        String expression = String.join(" ", list(seconds), list(minutes), list(hours),
                daysOfMonth == null ? "?" : list(daysOfMonth), list(months),
                daysOfWeek == null ? (daysOfMonth == null ? "*" : "?")
                        : daysOfWeek.stream().map(d -> DayOfWeek.of(d).name().substring(0, 3)).collect(Collectors.joining(",")));
        Set<Integer> dom = daysOfMonth;
        Set<Integer> dow = daysOfWeek;
        Set<Integer> minuteSet = minutes;
        Set<Integer> hourSet = hours;
        Set<Integer> monthSet = months;
        Predicate<LocalDateTime> matches = local -> seconds.contains(local.getSecond())
                && (minuteSet == null || minuteSet.contains(local.getMinute()))
                && (hourSet == null || hourSet.contains(local.getHour()))
                && (monthSet == null || monthSet.contains(local.getMonthValue()))
                && (dom == null || dom.contains(local.getDayOfMonth()))
                && (dow == null || dow.contains(local.getDayOfWeek().getValue()));
        Schedule.Builder schedule = Schedule.newBuilder()
                .setCron(CronSchedule.newBuilder().setExpression(expression).setSyntax(CronSyntax.CRON_SYNTAX_QUARTZ));
        return finish(random, "cron '" + expression + "'", schedule, zone, Range.NONE, wallClock(zone, matches));
    }

    private static Case interval(Random random, ZoneId zone, Instant spanStart, Instant spanEnd, boolean inSeconds) {
        IntervalUnit unit;
        long every;
        long periodSeconds;
        if (inSeconds) {
            unit = IntervalUnit.INTERVAL_UNIT_SECONDS;
            every = 1 + random.nextInt(300);
            periodSeconds = every;
        } else if (random.nextBoolean()) {
            unit = IntervalUnit.INTERVAL_UNIT_MINUTES;
            every = 1 + random.nextInt(180);
            periodSeconds = every * 60;
        } else {
            unit = IntervalUnit.INTERVAL_UNIT_HOURS;
            every = 1 + random.nextInt(30);
            periodSeconds = every * 3600;
        }
        // Anchors are whole minutes for the minute scan, whole seconds for the second scan.
        Range range = randomRange(random, spanStart, spanEnd);
        if (range.from() != null && !inSeconds) {
            range = new Range(range.from().truncatedTo(ChronoUnit.MINUTES), range.until());
        }
        Instant anchor = range.from() != null ? range.from() : REFERENCE_DAY.atStartOfDay(zone).toInstant();
        Predicate<Instant> isFire = t -> Math.floorMod(Duration.between(anchor, t).getSeconds(), periodSeconds) == 0;
        return finish(random, "every " + every + " " + unit, Schedule.newBuilder()
                .setInterval(IntervalSchedule.newBuilder().setEvery(every).setUnit(unit)), zone, range, isFire);
    }

    private static Case once(Random random, ZoneId zone, Instant spanStart, Instant spanEnd) {
        Instant at = randomInstant(random, spanStart, Duration.between(spanStart, spanEnd), 60);
        return finish(random, "once at " + at, Schedule.newBuilder()
                .setOnce(OnceSchedule.newBuilder().setAt(Timestamps.of(at))), zone,
                randomRange(random, spanStart, spanEnd), at::equals);
    }

    // ---- the oracle's building blocks ----

    /**
     * The documented wall-clock rules as a test of one instant: it is a fire if its local time
     * matches and it is that local time's first occurrence, or if it is the end of a spring-forward
     * gap and some local time inside the gap matches.
     */
    private static Predicate<Instant> wallClock(ZoneId zone, Predicate<LocalDateTime> matches) {
        ZoneRules rules = zone.getRules();
        Offsets offsets = new Offsets(rules);
        // The gaps of the scanned years, looked up by the instant that ends them.
        Map<Instant, ZoneOffsetTransition> gaps = new HashMap<>();
        for (ZoneOffsetTransition transition = rules.nextTransition(Instant.parse("2025-01-01T00:00:00Z"));
                transition != null && transition.getInstant().isBefore(Instant.parse("2030-01-01T00:00:00Z"));
                transition = rules.nextTransition(transition.getInstant())) {
            if (transition.isGap()) {
                gaps.put(transition.getInstant(), transition);
            }
        }
        return t -> {
            ZoneOffset offset = offsets.at(t);
            LocalDateTime local = LocalDateTime.ofEpochSecond(t.getEpochSecond(), 0, offset);
            if (matches.test(local) && rules.getValidOffsets(local).get(0).equals(offset)) {
                return true;
            }
            ZoneOffsetTransition gap = gaps.get(t);
            if (gap != null) {
                for (LocalDateTime skipped = gap.getDateTimeBefore(); skipped.isBefore(gap.getDateTimeAfter());
                        skipped = skipped.plusSeconds(1)) {
                    if (matches.test(skipped)) {
                        return true;
                    }
                }
            }
            return false;
        };
    }

    /**
     * The UTC offset at the instants of a scan, recomputed only when the scan passes a clock
     * change: the scan visits millions of instants and a full lookup for each is what made it slow.
     * Single-threaded, like the scan.
     */
    private static final class Offsets {
        private final ZoneRules rules;
        private Instant validFrom = Instant.MAX;
        private Instant validUntil = Instant.MIN;
        private ZoneOffset offset;

        Offsets(ZoneRules rules) {
            this.rules = rules;
        }

        ZoneOffset at(Instant t) {
            if (t.isBefore(validFrom) || !t.isBefore(validUntil)) {
                offset = rules.getOffset(t);
                ZoneOffsetTransition previous = rules.previousTransition(t.plusNanos(1));
                ZoneOffsetTransition next = rules.nextTransition(t);
                validFrom = previous == null ? Instant.MIN : previous.getInstant();
                validUntil = next == null ? Instant.MAX : next.getInstant();
            }
            return offset;
        }
    }

    private record Range(Instant from, Instant until) {
        static final Range NONE = new Range(null, null);

        boolean contains(Instant t) {
            return (from == null || !t.isBefore(from)) && (until == null || t.isBefore(until));
        }
    }

    private record Window(LocalTime start, LocalTime end) {
        boolean contains(Instant t, Offsets offsets) {
            LocalTime time = LocalDateTime.ofEpochSecond(t.getEpochSecond(), 0, offsets.at(t)).toLocalTime();
            return start.isBefore(end) ? !time.isBefore(start) && time.isBefore(end)
                    : !time.isBefore(start) || time.isBefore(end);
        }
    }

    /** Adds a random window (a third of the cases) and the range to the schedule and the oracle. */
    private static Case finish(Random random, String description, Schedule.Builder schedule, ZoneId zone, Range range,
            Predicate<Instant> kindFires) {
        schedule.setEnabled(true);
        if (range.from() != null) {
            schedule.setActiveFrom(Timestamps.of(range.from()));
        }
        if (range.until() != null) {
            schedule.setActiveUntil(Timestamps.of(range.until()));
        }
        Window window = null;
        if (random.nextInt(3) == 0) {
            LocalTime start = randomTime(random);
            LocalTime end = randomTime(random);
            if (!start.equals(end)) {
                window = new Window(start, end);
                schedule.setWindow(DailyWindow.newBuilder().setStart(Schedules.time(start)).setEnd(Schedules.time(end)));
            }
        }
        Window chosen = window;
        Offsets offsets = new Offsets(zone.getRules());
        Predicate<Instant> isFire = t -> range.contains(t) && (chosen == null || chosen.contains(t, offsets))
                && kindFires.test(t);
        return new Case(description + (window == null ? "" : " in window " + window) + " active " + range,
                schedule.build(), zone, isFire);
    }

    private static LocalDate anchorDay(LocalDate startDate, Instant from, ZoneId zone) {
        return startDate != null ? startDate : from != null ? LocalDate.ofInstant(from, zone) : REFERENCE_DAY;
    }

    private static Range randomRange(Random random, Instant spanStart, Instant spanEnd) {
        Duration span = Duration.between(spanStart, spanEnd);
        Instant from = random.nextInt(4) == 0 ? randomInstant(random, spanStart.minus(span), span, 1) : null;
        Instant until = random.nextInt(4) == 0 ? randomInstant(random, spanStart.plus(span.dividedBy(2)), span, 1) : null;
        if (from != null && until != null && !from.isBefore(until)) {
            return new Range(from, null);
        }
        return new Range(from, until);
    }

    /**
     * Half of the time, when the zone changes its clocks within the span, a local date-time on a
     * whole minute inside one of those gaps or overlaps, for the generators to aim at; else null.
     * Left to chance, too few cases would hit a switch.
     */
    private static LocalDateTime aimAtASwitch(Random random, ZoneId zone, Instant spanStart, Instant spanEnd) {
        List<ZoneOffsetTransition> switches = new ArrayList<>();
        for (ZoneOffsetTransition transition = zone.getRules().nextTransition(spanStart);
                transition != null && transition.getInstant().isBefore(spanEnd);
                transition = zone.getRules().nextTransition(transition.getInstant())) {
            switches.add(transition);
        }
        if (switches.isEmpty() || random.nextBoolean()) {
            return null;
        }
        ZoneOffsetTransition chosen = switches.get(random.nextInt(switches.size()));
        LocalDateTime first = chosen.isGap() ? chosen.getDateTimeBefore() : chosen.getDateTimeAfter();
        return first.plusMinutes(random.nextInt((int) chosen.getDuration().abs().toMinutes()));
    }

    /** A time of day on a whole minute, with a bias to 01:00-02:59 where the switches are. */
    private static LocalTime randomTime(Random random) {
        int hour = random.nextBoolean() ? 1 + random.nextInt(2) : random.nextInt(24);
        int minute = random.nextBoolean() ? 15 * random.nextInt(4) : random.nextInt(60);
        return LocalTime.of(hour, minute);
    }

    private static Instant randomInstant(Random random, Instant from, Duration span, long granularitySeconds) {
        long steps = span.getSeconds() / granularitySeconds;
        return from.plusSeconds(granularitySeconds * Math.floorMod(random.nextLong(), steps));
    }

    private static Set<Integer> randomSet(Random random, int min, int max, int size) {
        Set<Integer> set = new TreeSet<>();
        while (set.size() < Math.min(size, max - min + 1)) {
            set.add(min + random.nextInt(max - min + 1));
        }
        return set;
    }

    private static Set<Integer> with(Set<Integer> values, int value) {
        Set<Integer> result = new TreeSet<>(values);
        result.add(value);
        return result;
    }

    private static String list(Set<Integer> values) {
        return values == null ? "*" : values.stream().map(String::valueOf).collect(Collectors.joining(","));
    }
}
