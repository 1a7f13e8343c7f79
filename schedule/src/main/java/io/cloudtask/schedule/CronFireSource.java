package io.cloudtask.schedule;

import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import io.cloudtask.proto.v1.CronSyntax;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/** Fire times of a cron expression (Quartz with seconds, or Unix 5-field) in one time zone. */
final class CronFireSource implements FireSource {
    private static final CronParser QUARTZ =
            new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.QUARTZ));
    private static final CronParser UNIX =
            new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));

    private final ExecutionTime executionTime;
    private final ZoneId zone;

    private CronFireSource(ExecutionTime executionTime, ZoneId zone) {
        this.executionTime = executionTime;
        this.zone = zone;
    }

    static CronFireSource parse(String field, String expression, CronSyntax syntax, ZoneId zone)
            throws InvalidScheduleException {
        if (expression == null || expression.isBlank()) {
            throw new InvalidScheduleException(field, "cron expression is empty: give one such as '"
                    + (syntax == CronSyntax.CRON_SYNTAX_UNIX ? "*/5 * * * *" : "*/5 * * * * ?") + "'");
        }
        boolean unix = syntax == CronSyntax.CRON_SYNTAX_UNIX;
        Cron cron;
        try {
            cron = (unix ? UNIX : QUARTZ).parse(expression.trim()).validate();
        } catch (IllegalArgumentException e) {
            throw new InvalidScheduleException(field, "cron expression '" + expression + "' is not valid "
                    + (unix ? "Unix (minute hour day-of-month month day-of-week)"
                            : "Quartz (second minute hour day-of-month month day-of-week [year])")
                    + " syntax: " + e.getMessage());
        }
        return new CronFireSource(ExecutionTime.forCron(cron), zone);
    }

    @Override
    public Optional<Instant> nextAfter(Instant after) {
        // cron-utils keeps the sub-second part of its input in the result; cron fires on whole
        // seconds, and the next whole second after a truncated instant is still strictly later.
        Instant wholeSecond = after.truncatedTo(ChronoUnit.SECONDS);
        return executionTime.nextExecution(ZonedDateTime.ofInstant(wholeSecond, zone)).map(ZonedDateTime::toInstant);
    }
}
