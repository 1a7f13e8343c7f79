package io.cloudtask.controlplane.command;

/** What a command asks an agent to do. */
public enum CommandKind {
    /** Run a task now, once, outside its schedules (proto RunNow). */
    RUN_NOW,
    /** Kill a run's process tree (proto KillRun). */
    KILL_RUN
}
