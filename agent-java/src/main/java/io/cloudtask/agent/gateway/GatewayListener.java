package io.cloudtask.agent.gateway;

import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.KillRun;
import io.cloudtask.proto.v1.RunNow;
import io.cloudtask.proto.v1.TaskSpecs;
import io.cloudtask.proto.v1.Welcome;

/**
 * What the agent does with the control plane's messages. Called on the gateway thread
 * ({@code cloudtask-gateway}), one message at a time; the next message is requested from the
 * stream only when the callback returns, so implementations should hand work off rather than block.
 */
public interface GatewayListener {
    /** The stream is established; spec requests may be sent now. */
    void onWelcome(Welcome welcome);

    /** The answer to a {@code SpecRequest}. */
    void onTaskSpecs(TaskSpecs specs);

    /** A command to run a task now; answer with {@link GatewayClient#sendCommandAck}. */
    void onRunNow(RunNow command);

    /** A command to kill a run; answer with {@link GatewayClient#sendCommandAck}. */
    void onKillRun(KillRun command);

    /** The answer to a fire claim sent with {@link GatewayClient#sendFireClaim}. */
    void onClaimAnswer(ClaimAnswer answer);
}
