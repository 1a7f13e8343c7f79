package io.cloudtask.agent.schedule;

/**
 * What the fencing policy drives: whether new fires may start. Implementations are thread-safe;
 * when {@link #stopFiring} returns, no new fire starts until {@link #resumeFiring} is called.
 */
public interface FiringSwitch {
    /** Stops starting new fires at once; runs already started continue. */
    void stopFiring(String reason);

    /**
     * Starts firing again from now on. Instants that passed while stopped are not caught up
     * (the misfire policy of a later issue decides that).
     */
    void resumeFiring();
}
