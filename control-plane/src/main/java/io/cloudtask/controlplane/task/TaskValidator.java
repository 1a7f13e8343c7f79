package io.cloudtask.controlplane.task;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.protocol.ZkLayout;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Validates a {@link TaskRequest} at the edge and normalises it. Pure: no database, no clock.
 * Every rejection names the field and says what a valid value looks like.
 */
public final class TaskValidator {
    static final int MAX_COMMAND_BYTES = 64 * 1024;
    static final int MAX_ENVIRONMENT_BYTES = 64 * 1024;
    static final int MAX_NAME_LENGTH = 200;
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
        ScheduleValidator.Validated schedules = ScheduleValidator.validate(request.schedules(), timeZone);
        Map<String, String> environment = validateEnvironment(request.environment());
        long timeoutSeconds = request.timeoutSeconds() == null ? 0 : request.timeoutSeconds();
        if (timeoutSeconds < 0 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
            throw ApiException.invalid("timeoutSeconds", "timeoutSeconds is " + timeoutSeconds
                    + "; use 0 for no limit or a value up to " + MAX_TIMEOUT_SECONDS + " (30 days)");
        }
        boolean paused = Boolean.TRUE.equals(request.paused());
        RunPolicies.Stored policies = RunPolicyValidator.validate(request.overlap(), request.misfire(), request.retry(),
                request.delivery());
        long killGraceSeconds = RunPolicyValidator.killGraceSeconds(request.killGraceSeconds());
        PlacementRequest placement = PlacementValidator.validate(request.placement());
        return new TaskDefinition(name, cluster, shellCommand, argv, workingDirectory, schedules.schedules(),
                schedules.protos(), timeZone, environment, timeoutSeconds, paused, policies, killGraceSeconds,
                placement);
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

    /**
     * Checks environment variables as a task's {@code environment} field: names, reserved prefix,
     * values without NUL, 64 KiB in all. Also used for a manual run's environment overrides.
     */
    public static Map<String, String> validateEnvironment(Map<String, String> environment) {
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
