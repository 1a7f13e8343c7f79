package io.cloudtask.controlplane.task;

/** A live task's identity and current spec version: what allocation needs. */
public record TaskRef(String taskId, long version) {}
