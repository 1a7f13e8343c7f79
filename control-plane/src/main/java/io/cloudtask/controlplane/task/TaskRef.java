package io.cloudtask.controlplane.task;


import io.cloudtask.proto.v1.Placement;

/** A live task's identity, current spec version and placement: what allocation needs. */
public record TaskRef(String taskId, long version, Placement placement) {}
