package io.cloudtask.controlplane.run;

import com.google.protobuf.ByteString;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.OutputStream;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.schedule.Timestamps;
import java.time.Instant;

/** Builds the run events an agent would send, for one fire of one task. */
record RunEvents(String taskId, Instant fireTime) {
    String runId() {
        return RunIds.runId(taskId, fireTime, 1);
    }

    AgentMessage started() {
        return AgentMessage.newBuilder().setRunStarted(RunStarted.newBuilder().setRunId(runId()).setTaskId(taskId)
                .setFireTime(Timestamps.of(fireTime)).setAttempt(1).setTrigger(Trigger.TRIGGER_SCHEDULE)
                .setSpecVersion(1).setStartedAt(Timestamps.of(fireTime.plusMillis(1)))).build();
    }

    AgentMessage chunk(long sequence, byte[] data) {
        return AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder().setRunId(runId())
                .setSequence(sequence).setStream(OutputStream.OUTPUT_STREAM_STDOUT)
                .setData(ByteString.copyFrom(data))).build();
    }

    AgentMessage finished(RunStatus status) {
        return AgentMessage.newBuilder().setRunFinished(RunFinished.newBuilder().setRunId(runId()).setTaskId(taskId)
                .setFireTime(Timestamps.of(fireTime)).setAttempt(1).setTrigger(Trigger.TRIGGER_SCHEDULE)
                .setSpecVersion(1).setStartedAt(Timestamps.of(fireTime.plusMillis(1)))
                .setFinishedAt(Timestamps.of(fireTime.plusMillis(50))).setStatus(status)
                .setHasExitCode(status == RunStatus.RUN_STATUS_SUCCEEDED || status == RunStatus.RUN_STATUS_FAILED)
                .setExitCode(status == RunStatus.RUN_STATUS_FAILED ? 1 : 0)).build();
    }
}
