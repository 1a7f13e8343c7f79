package io.cloudtask.controlplane.task;

import io.cloudtask.proto.v1.Schedule;
import java.util.List;
import java.util.Map;

/**
 * A validated, normalised task as the operator defined it (everything but identity and
 * bookkeeping). Produced only by {@link TaskValidator}.
 */
record TaskDefinition(
        String name,
        String cluster,
        String shellCommand,
        List<String> argv,
        String workingDirectory,
        List<ScheduleRequest> schedules,
        List<Schedule> protoSchedules,
        String timeZone,
        Map<String, String> environment,
        long timeoutSeconds,
        boolean paused,
        RunPolicies.Stored policies,
        long killGraceSeconds,
        PlacementRequest placement) {}
