package io.cloudtask.controlplane.run;

/** The states a run can be in, as stored in {@code runs.status} and shown by the API. */
public enum RunState {
    /** No row yet: the run has not been reported. Never stored. */
    NONE,
    RUNNING,
    SUCCEEDED,
    FAILED,
    TIMED_OUT,
    KILLED,
    /** The agent's ZooKeeper session expired while the run was in flight. */
    LOST,
    SKIPPED,
    MISSED;

    public boolean isTerminal() {
        return this != NONE && this != RUNNING;
    }
}
