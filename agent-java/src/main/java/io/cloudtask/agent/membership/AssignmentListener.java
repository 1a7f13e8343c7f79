package io.cloudtask.agent.membership;

import io.cloudtask.proto.v1.Assignment;

/**
 * Receives the agent's allocation node as ZooKeeper reports it. Called on Curator's cache thread;
 * implementations hand the work off. Epoch filtering is the receiver's job, because the same
 * decision must cover watch events and the full re-read after a reconnect.
 */
public interface AssignmentListener {
    /** The allocation node holds this assignment (created or changed). */
    void onAssignment(Assignment assignment);

    /** The allocation node does not exist (never published, or deleted). */
    void onAssignmentMissing();
}
