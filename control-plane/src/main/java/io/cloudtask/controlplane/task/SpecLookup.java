package io.cloudtask.controlplane.task;

import io.cloudtask.proto.v1.TaskSpec;
import java.util.List;

/** The specs found for a set of task ids, and the ids that name no live task. */
public record SpecLookup(List<TaskSpec> specs, List<String> missingTaskIds) {}
