package io.cloudtask.controlplane.cluster;

/**
 * Told after an agent's cordon or drain flags were committed, so the allocation leader (on any
 * replica) republishes. Called on the request thread; must not block for long and must not throw.
 */
public interface AgentFlagsListener {
    void agentFlagsChanged(String cluster);
}
