package io.cloudtask.controlplane.task;

import com.google.protobuf.Timestamp;
import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.proto.v1.CronSchedule;
import io.cloudtask.proto.v1.CronSyntax;
import io.cloudtask.proto.v1.Schedule;
import io.cloudtask.protocol.ZkLayout;
import io.cloudtask.schedule.InvalidScheduleException;
import io.cloudtask.schedule.TaskSchedule;
import io.cloudtask.schedule.Timestamps;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Validates a {@link TaskRequest} at the edge and normalises it. Pure: no database, no clock.
 * Every rejection names the field and says what a valid value looks like.
 */
final class TaskValidator {
    static final int MAX_COMMAND_BYTES = 64 * 1024;
    static final int MAX_ENVIRONMENT_BYTES = 64 * 1024;
    static final int MAX_NAME_LENGTH = 200;
    static final int MAX_SCHEDULES = 50;
    static final long MAX_TIMEOUT_SECONDS = 30L * 24 * 3600;
    static final String DEFAULT_CLUSTER = "default";

    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private TaskValidator() {}

    static TaskDefinition validate(TaskRequest request) {
        if (request == null) {
            throw ApiException.invalid(null, "request body is missing: send a JSON task such as"
                    + " {\"name\": \"hello\", \"command\": \"echo hello\", \"schedules\": [{\"type\": \"cron\","
                    + " \"expression\": \"*/2 * * * * ?\"}]}");
        }
        String name = validateName(request.name());
        String cluster = request.cluster() == null ? DEFAULT_CLUSTER : request.cluster();
        if (!ZkLayout.isValidSegment(cluster)) {
            throw ApiException.invalid("cluster", "cluster '" + cluster
                    + "' is not a valid cluster name (1-63 letters, digits, '.', '_' or '-')");
        }
        String shellCommand = null;
        List<String> argv = null;
        if (request.command() != null && request.argv() != null) {
            throw ApiException.invalid("command", "give either 'command' (a shell command line) or 'argv'"
                    + " (a program and its arguments), not both");
        }
        if (request.argv() != null) {
            argv = validateArgv(request.argv());
        } else {
            shellCommand = validateCommand(request.command());
        }
        String workingDirectory = request.workingDirectory();
        if (workingDirectory != null && (workingDirectory.isBlank() || workingDirectory.length() > 4096
                || workingDirectory.indexOf('\0') >= 0)) {
            throw ApiException.invalid("workingDirectory", "workingDirectory must be a non-empty path of at"
                    + " most 4096 characters, or omitted to use the agent's per-task directory");
        }
        String timeZone = request.timeZone() == null ? "UTC" : request.timeZone();
        List<ScheduleRequest> schedules = normaliseSchedules(request.schedules());
        List<Schedule> protoSchedules = toProto(schedules);
        try {
            TaskSchedule.of(protoSchedules, timeZone);
        } catch (InvalidScheduleException e) {
            throw ApiException.invalid(e.field(), e.getMessage());
        }
        Map<String, String> environment = validateEnvironment(request.environment());
        long timeoutSeconds = request.timeoutSeconds() == null ? 0 : request.timeoutSeconds();
        if (timeoutSeconds < 0 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
            throw ApiException.invalid("timeoutSeconds", "timeoutSeconds is " + timeoutSeconds
                    + "; use 0 for no limit or a value up to " + MAX_TIMEOUT_SECONDS + " (30 days)");
        }
        boolean paused = Boolean.TRUE.equals(request.paused());
        return new TaskDefinition(name, cluster, shellCommand, argv, workingDirectory, schedules,
                protoSchedules, timeZone, environment, timeoutSeconds, paused);
    }

    private static String validateName(String name) {
        if (name == null || name.isBlank()) {
            throw ApiException.invalid("name", "name is required: give the task a short name such as 'nightly-backup'");
        }
        String trimmed = name.strip();
        if (trimmed.length() > MAX_NAME_LENGTH) {
            throw ApiException.invalid("name", "name is " + trimmed.length() + " characters; the limit is "
                    + MAX_NAME_LENGTH);
        }
        if (trimmed.chars().anyMatch(Character::isISOControl)) {
            throw ApiException.invalid("name", "name must not contain control characters");
        }
        return trimmed;
    }

    private static String validateCommand(String command) {
        if (command == null || command.isBlank()) {
            throw ApiException.invalid("command", "command is required: give a shell command line such as"
                    + " 'echo hello' (or 'argv' to run a program directly)");
        }
        int bytes = command.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_COMMAND_BYTES) {
            throw ApiException.invalid("command", "command is " + bytes + " bytes; the limit is "
                    + MAX_COMMAND_BYTES + " (64 KiB): put a long script in a file or a task package and run that");
        }
        if (command.indexOf('\0') >= 0) {
            throw ApiException.invalid("command", "command must not contain NUL characters");
        }
        return command;
    }

    private static List<String> validateArgv(List<String> argv) {
        if (argv.isEmpty() || argv.get(0) == null || argv.get(0).isBlank()) {
            throw ApiException.invalid("argv", "argv must start with the program to run, for example"
                    + " [\"/usr/bin/python3\", \"job.py\"]");
        }
        int bytes = 0;
        for (int i = 0; i < argv.size(); i++) {
            String arg = argv.get(i);
            if (arg == null || arg.indexOf('\0') >= 0) {
                throw ApiException.invalid("argv[" + i + "]", "argv[" + i + "] must be a string without NUL characters");
            }
            bytes += arg.getBytes(StandardCharsets.UTF_8).length;
        }
        if (bytes > MAX_COMMAND_BYTES) {
            throw ApiException.invalid("argv", "argv is " + bytes + " bytes; the limit is " + MAX_COMMAND_BYTES + " (64 KiB)");
        }
        return List.copyOf(argv);
    }

    private static List<ScheduleRequest> normaliseSchedules(List<ScheduleRequest> schedules) {
        if (schedules == null) {
            return List.of();
        }
        if (schedules.size() > MAX_SCHEDULES) {
            throw ApiException.invalid("schedules", "a task has " + schedules.size()
                    + " schedules; the limit is " + MAX_SCHEDULES);
        }
        List<ScheduleRequest> normalised = new ArrayList<>(schedules.size());
        for (int i = 0; i < schedules.size(); i++) {
            ScheduleRequest schedule = schedules.get(i);
            String field = "schedules[" + i + "]";
            if (schedule == null) {
                throw ApiException.invalid(field, field + " is null: give an object such as"
                        + " {\"type\": \"cron\", \"expression\": \"0 */5 * * * ?\"}");
            }
            String type = schedule.type() == null ? "cron" : schedule.type().toLowerCase(Locale.ROOT);
            if (!type.equals("cron")) {
                throw ApiException.invalid(field + ".type", "schedule type '" + schedule.type()
                        + "' is not supported; use 'cron'");
            }
            String syntax = schedule.syntax() == null ? "quartz" : schedule.syntax().toLowerCase(Locale.ROOT);
            if (!syntax.equals("quartz") && !syntax.equals("unix")) {
                throw ApiException.invalid(field + ".syntax", "cron syntax '" + schedule.syntax()
                        + "' is not supported; use 'quartz' (with seconds) or 'unix' (5 fields)");
            }
            boolean enabled = schedule.enabled() == null || schedule.enabled();
            normalised.add(new ScheduleRequest(type, schedule.expression(), syntax, enabled,
                    schedule.activeFrom(), schedule.activeUntil()));
        }
        return List.copyOf(normalised);
    }

    /** The proto form of normalised schedules (what agents receive). */
    static List<Schedule> toProto(List<ScheduleRequest> schedules) {
        List<Schedule> result = new ArrayList<>(schedules.size());
        for (ScheduleRequest schedule : schedules) {
            Schedule.Builder builder = Schedule.newBuilder()
                    .setEnabled(schedule.enabled() == null || schedule.enabled())
                    .setCron(CronSchedule.newBuilder()
                            .setExpression(schedule.expression() == null ? "" : schedule.expression())
                            .setSyntax("unix".equals(schedule.syntax())
                                    ? CronSyntax.CRON_SYNTAX_UNIX : CronSyntax.CRON_SYNTAX_QUARTZ));
            if (schedule.activeFrom() != null) {
                builder.setActiveFrom(timestamp(schedule.activeFrom()));
            }
            if (schedule.activeUntil() != null) {
                builder.setActiveUntil(timestamp(schedule.activeUntil()));
            }
            result.add(builder.build());
        }
        return result;
    }

    private static Timestamp timestamp(java.time.Instant instant) {
        return Timestamps.of(instant);
    }

    private static Map<String, String> validateEnvironment(Map<String, String> environment) {
        if (environment == null) {
            return Map.of();
        }
        int bytes = 0;
        Map<String, String> result = new LinkedHashMap<>();
        for (Map.Entry<String, String> entry : environment.entrySet()) {
            String key = entry.getKey();
            String field = "environment." + key;
            if (key == null || !ENV_NAME.matcher(key).matches()) {
                throw ApiException.invalid(field, "environment variable name '" + key
                        + "' must be letters, digits and '_', not starting with a digit");
            }
            if (key.startsWith("CLOUDTASK_")) {
                throw ApiException.invalid(field, "environment variable names starting with CLOUDTASK_ are"
                        + " reserved for the values the agent sets itself");
            }
            String value = entry.getValue();
            if (value == null || value.indexOf('\0') >= 0) {
                throw ApiException.invalid(field, "environment variable '" + key
                        + "' needs a string value without NUL characters");
            }
            bytes += key.length() + value.getBytes(StandardCharsets.UTF_8).length;
            result.put(key, value);
        }
        if (bytes > MAX_ENVIRONMENT_BYTES) {
            throw ApiException.invalid("environment", "environment is " + bytes + " bytes; the limit is "
                    + MAX_ENVIRONMENT_BYTES + " (64 KiB)");
        }
        return result;
    }
}
