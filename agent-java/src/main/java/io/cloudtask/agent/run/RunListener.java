package io.cloudtask.agent.run;

import io.cloudtask.proto.v1.RunStatus;

/** Told when a submitted run has ended and its RunFinished is journaled. */
@FunctionalInterface
public interface RunListener {
    /** Called on the run's supervisor thread ({@code cloudtask-run-*}); must not block. */
    void finished(RunRequest request, RunStatus status);

    RunListener NONE = (request, status) -> {};
}
