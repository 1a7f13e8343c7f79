package io.cloudtask.agent.run;

import io.cloudtask.proto.v1.ClaimAnswer;
import java.util.concurrent.CompletableFuture;

/**
 * Where a fire of a strict task (TaskSpec.strict) asks for the right to start: the control plane's
 * fire claims, in the agent. The future completes with the answer, or fails when the claim was
 * abandoned without one.
 */
@FunctionalInterface
public interface StrictFireGate {
    CompletableFuture<ClaimAnswer> claim(RunRequest request);
}
