package io.cloudtask.controlplane.run;

import com.google.protobuf.ByteString;
import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.api.GrpcErrors;
import io.cloudtask.proto.v1.GetRunRequest;
import io.cloudtask.proto.v1.OutputStream;
import io.cloudtask.proto.v1.Run;
import io.cloudtask.proto.v1.RunEnded;
import io.cloudtask.proto.v1.RunOutputChunk;
import io.cloudtask.proto.v1.RunOutputEvent;
import io.cloudtask.proto.v1.RunServiceGrpc;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TailRunOutputRequest;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.schedule.Timestamps;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC {@code RunService}: a thin adapter over {@link RunService}, with the semantics of the
 * REST run endpoints. {@code TailRunOutput} follows stored output like the SSE live tail (it reads
 * PostgreSQL, so any replica serves it) and honours the caller's flow control: it reads the next
 * batch only after the previous one was sent, and sends only while the call is ready. Database
 * reads run on a small pool of its own, never on gRPC's transport threads. Thread-safe.
 */
@Singleton
class RunGrpcService extends RunServiceGrpc.RunServiceImplBase {
    private static final Logger log = LoggerFactory.getLogger(RunGrpcService.class);
    /** Output read per database round trip of one tail. */
    private static final long BATCH_BYTES = 1024 * 1024;

    private final RunService runs;
    private final Duration pollInterval;
    private final ScheduledExecutorService executor;

    RunGrpcService(RunService runs, @Value("${cloudtask.runs.live-poll-interval:250ms}") Duration pollInterval) {
        this.runs = runs;
        this.pollInterval = pollInterval;
        AtomicInteger threads = new AtomicInteger();
        this.executor = Executors.newScheduledThreadPool(4, runnable -> {
            Thread thread = new Thread(runnable, "run-tail-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    @Override
    public void getRun(GetRunRequest request, StreamObserver<Run> responses) {
        try {
            responses.onNext(toProto(runs.summary(runId(request.getRunId()))));
            responses.onCompleted();
        } catch (RuntimeException e) {
            responses.onError(GrpcErrors.toStatus(e).asRuntimeException());
        }
    }

    @Override
    public void tailRunOutput(TailRunOutputRequest request, StreamObserver<RunOutputEvent> responses) {
        ServerCallStreamObserver<RunOutputEvent> out = (ServerCallStreamObserver<RunOutputEvent>) responses;
        UUID runId;
        try {
            runId = runId(request.getRunId());
            // Fails NOT_FOUND now rather than after the first poll.
            runs.isFinished(runId);
        } catch (RuntimeException e) {
            out.onError(GrpcErrors.toStatus(e).asRuntimeException());
            return;
        }
        Tail tail = new Tail(runId, (long) request.getFromSequence() - 1, out);
        out.setOnCancelHandler(tail::cancel);
        out.setOnReadyHandler(tail::wake);
        tail.wake();
    }

    @PreDestroy
    void stop() {
        executor.shutdownNow();
    }

    private static UUID runId(String value) {
        try {
            return UUID.fromString(value);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("run_id", "run_id '" + value + "' is not a run id (a UUID)");
        }
    }

    static Run toProto(RunView view) {
        Run.Builder run = Run.newBuilder()
                .setRunId(view.id().toString())
                .setTaskId(view.taskId().toString())
                .setCluster(view.cluster())
                .setAgentId(view.agentId())
                .setFireTime(Timestamps.of(view.fireTime()))
                .setAttempt(view.attempt())
                .setTrigger(Trigger.valueOf("TRIGGER_" + view.trigger()))
                .setStatus(RunStatus.valueOf("RUN_STATUS_" + view.status()))
                .setSpecVersion(view.specVersion())
                .setOutputBytes(view.outputBytes())
                .setOutputCutBytes(view.outputCutBytes());
        if (view.startedAt() != null) {
            run.setStartedAt(Timestamps.of(view.startedAt()));
        }
        if (view.finishedAt() != null) {
            run.setFinishedAt(Timestamps.of(view.finishedAt()));
        }
        if (view.exitCode() != null) {
            run.setExitCode(view.exitCode()).setHasExitCode(true);
        }
        if (view.error() != null) {
            run.setError(view.error());
        }
        if (view.commandId() != null) {
            run.setCommandId(view.commandId().toString());
        }
        return run.build();
    }

    /** One caller's tail. Every step holds the monitor: gRPC and timer wake-ups never interleave. */
    private final class Tail {
        private final UUID runId;
        private final ServerCallStreamObserver<RunOutputEvent> out;
        private final Queue<RunOutputEvent> pending = new ArrayDeque<>();
        private long cursor;
        private boolean done;
        private ScheduledFuture<?> nextPoll;

        Tail(UUID runId, long afterSequence, ServerCallStreamObserver<RunOutputEvent> out) {
            this.runId = runId;
            this.cursor = afterSequence;
            this.out = out;
        }

        void wake() {
            try {
                executor.execute(this::step);
            } catch (RejectedExecutionException e) {
                cancel();
            }
        }

        synchronized void cancel() {
            done = true;
            if (nextPoll != null) {
                nextPoll.cancel(false);
            }
        }

        private synchronized void step() {
            if (done) {
                return;
            }
            try {
                while (!pending.isEmpty() && out.isReady()) {
                    out.onNext(pending.poll());
                }
                if (!pending.isEmpty()) {
                    // The caller is slow: onReady wakes us when it can take more.
                    return;
                }
                // "Finished" is read before the output: a finish is stored after all of a run's
                // chunks, so once it is seen, one more read returns everything that is left.
                boolean finished = runs.isFinished(runId);
                List<RunService.OutputPiece> pieces = runs.outputAfter(runId, cursor, BATCH_BYTES);
                for (RunService.OutputPiece piece : pieces) {
                    pending.add(RunOutputEvent.newBuilder().setChunk(RunOutputChunk.newBuilder()
                            .setSequence(piece.sequence()).setStream(stream(piece.stream()))
                            .setData(ByteString.copyFrom(piece.data()))).build());
                    cursor = Math.max(cursor, piece.sequence());
                }
                if (finished && pieces.isEmpty()) {
                    done = true;
                    out.onNext(RunOutputEvent.newBuilder().setEnded(RunEnded.newBuilder()
                            .setStatus(RunStatus.valueOf("RUN_STATUS_" + runs.status(runId)))).build());
                    out.onCompleted();
                    return;
                }
                if (!pieces.isEmpty()) {
                    executor.execute(this::step);
                } else if (nextPoll == null || nextPoll.isDone()) {
                    nextPoll = executor.schedule(this::step, pollInterval.toNanos(), TimeUnit.NANOSECONDS);
                }
            } catch (RejectedExecutionException e) {
                done = true;
            } catch (RuntimeException e) {
                done = true;
                log.warn("tail of run {} failed: {}", runId, e.toString());
                out.onError(GrpcErrors.toStatus(e).asRuntimeException());
            }
        }

        private OutputStream stream(String name) {
            return switch (name) {
                case "stdout" -> OutputStream.OUTPUT_STREAM_STDOUT;
                case "stderr" -> OutputStream.OUTPUT_STREAM_STDERR;
                default -> OutputStream.OUTPUT_STREAM_UNSPECIFIED;
            };
        }
    }
}
