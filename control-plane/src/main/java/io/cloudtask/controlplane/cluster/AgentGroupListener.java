package io.cloudtask.controlplane.cluster;

/**
 * Told after a group's selector change was committed, so the allocation leader (on any replica)
 * republishes the cluster: tasks placed on the group follow its new members. Called on the request
 * thread; must not block for long and must not throw.
 */
public interface AgentGroupListener {
    void groupChanged(String cluster);
}
