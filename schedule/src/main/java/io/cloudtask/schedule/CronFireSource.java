package io.cloudtask.schedule;

import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import io.cloudtask.proto.v1.CronSyntax;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Fire times of a cron expression (Quartz with seconds, or Unix 5-field, or a macro such as
 * {@code @daily}). cron-utils is asked for matching local date-times only (it evaluates in UTC,
 * where no clock ever jumps); the daylight saving rules are those of every calendar kind
 * ({@link WallClock}). cron-utils searches no further than the year 2099.
 */
final class CronFireSource extends LocalTimeFireSource {
    private static final CronParser QUARTZ =
            new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.QUARTZ));
    private static final CronParser UNIX =
            new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));
    /** cron-utils 9 supports no macros ("Nicknames not supported"), so they are mapped here, to Quartz. */
    private static final Map<String, String> MACROS = Map.of(
            "@yearly", "0 0 0 1 1 ?",
            "@annually", "0 0 0 1 1 ?",
            "@monthly", "0 0 0 1 * ?",
            "@weekly", "0 0 0 ? * SUN",
            "@daily", "0 0 0 * * ?",
            "@midnight", "0 0 0 * * ?",
            "@hourly", "0 0 * * * ?");

    /**
     * Parsed expressions shared by every task that uses them: thousands of tasks on a handful of
     * expressions hold one parse each, and tasks on the same expression that fire together ask for
     * the same next time, computed once ({@link CompiledCron}). Bounded; evicts the least recently used.
     */
    private static final int SHARED_EXPRESSIONS = 1024;
    private static final Map<String, CompiledCron> COMPILED = Collections.synchronizedMap(
            new LinkedHashMap<>(64, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, CompiledCron> eldest) {
                    return size() > SHARED_EXPRESSIONS;
                }
            });

    private final CompiledCron cron;

    private CronFireSource(CompiledCron cron, ZoneId zone) {
        super(zone);
        this.cron = cron;
    }

    static CronFireSource parse(String field, String expression, CronSyntax syntax, ZoneId zone)
            throws InvalidScheduleException {
        if (expression == null || expression.isBlank()) {
            throw new InvalidScheduleException(field, "cron expression is empty: give one such as '"
                    + (syntax == CronSyntax.CRON_SYNTAX_UNIX ? "*/5 * * * *" : "*/5 * * * * ?") + "'");
        }
        String trimmed = expression.trim();
        boolean unix = syntax == CronSyntax.CRON_SYNTAX_UNIX;
        if (trimmed.startsWith("@")) {
            String mapped = MACROS.get(trimmed.toLowerCase(Locale.ROOT));
            if (mapped == null) {
                throw new InvalidScheduleException(field, "cron macro '" + trimmed + "' is not supported: use one of"
                        + " @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly");
            }
            trimmed = mapped;
            unix = false;
        }
        String key = (unix ? "unix " : "quartz ") + trimmed;
        CompiledCron shared = COMPILED.get(key);
        if (shared == null) {
            Cron cron;
            try {
                cron = (unix ? UNIX : QUARTZ).parse(trimmed).validate();
            } catch (IllegalArgumentException e) {
                throw new InvalidScheduleException(field, "cron expression '" + expression + "' is not valid "
                        + (unix ? "Unix (minute hour day-of-month month day-of-week)"
                                : "Quartz (second minute hour day-of-month month day-of-week [year])")
                        + " syntax: " + e.getMessage());
            }
            shared = new CompiledCron(ExecutionTime.forCron(cron));
            COMPILED.put(key, shared);
        }
        return new CronFireSource(shared, zone);
    }

    @Override
    Optional<LocalDateTime> nextLocalAfter(LocalDateTime local) {
        // cron-utils keeps the sub-second part of its input in the result; cron fires on whole
        // seconds, and the next whole second after a truncated time is still strictly later.
        return cron.nextAfter(local.truncatedTo(ChronoUnit.SECONDS));
    }

    /**
     * One parsed expression and its last answer. Thread-safe: the answer is an immutable pair
     * published through a volatile field; racing callers at worst compute the same answer twice.
     */
    private static final class CompiledCron {
        private final ExecutionTime executionTime;
        private volatile Answer last;

        private record Answer(LocalDateTime after, Optional<LocalDateTime> next) {}

        CompiledCron(ExecutionTime executionTime) {
            this.executionTime = executionTime;
        }

        /** The first match strictly after {@code after} (a whole second), as a UTC-evaluated local time. */
        Optional<LocalDateTime> nextAfter(LocalDateTime after) {
            Answer answer = last;
            if (answer != null && answer.after.equals(after)) {
                return answer.next;
            }
            Optional<LocalDateTime> next = executionTime.nextExecution(after.atZone(ZoneOffset.UTC))
                    .map(ZonedDateTime::toLocalDateTime);
            last = new Answer(after, next);
            return next;
        }
    }
}
