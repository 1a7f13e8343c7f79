package io.cloudtask.agent.run;

import java.util.concurrent.CompletableFuture;

/**
 * A run submitted to {@link ProcessRunner}: lets a policy kill it. Thread-safe; {@link #kill} never
 * blocks (the run's supervisor thread kills the process tree).
 */
public final class RunHandle {
    private final RunRequest request;
    final CompletableFuture<String> killRequest = new CompletableFuture<>();

    RunHandle(RunRequest request) {
        this.request = request;
    }

    public RunRequest request() {
        return request;
    }

    /**
     * Asks for the run's process tree to be killed; the run then ends KILLED with {@code error}. The
     * first request wins; a run that already ended is unaffected.
     */
    public void kill(String error) {
        killRequest.complete(error);
    }
}
