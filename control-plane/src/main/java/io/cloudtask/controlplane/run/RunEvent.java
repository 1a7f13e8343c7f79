package io.cloudtask.controlplane.run;

/** What can happen to a run. */
public enum RunEvent {
    /** The agent reported run_started. */
    START,
    SUCCEED,
    FAIL,
    TIME_OUT,
    KILL,
    /** The agent's session expired with the run still RUNNING. */
    LOSE,
    /** The fire was skipped by the overlap policy. */
    SKIP,
    /** The fire was missed and not run, by the misfire policy. */
    MISS
}
