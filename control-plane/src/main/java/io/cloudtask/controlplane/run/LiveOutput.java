package io.cloudtask.controlplane.run;

import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.sse.Event;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Schedulers;

/**
 * Follows a run's stored output as it grows, for live tails. It reads from PostgreSQL, so it
 * works on any replica whichever replica ingests the run. Each subscriber polls on Reactor's
 * bounded-elastic scheduler; a disconnect cancels the poll.
 */
@Singleton
class LiveOutput {
    private static final long MAX_BYTES_PER_POLL = 1024 * 1024;

    private final RunService runs;
    private final Duration pollInterval;

    LiveOutput(RunService runs, @Value("${cloudtask.runs.live-poll-interval:250ms}") Duration pollInterval) {
        this.runs = runs;
        this.pollInterval = pollInterval;
    }

    /** One live-output event: a piece of output, or (with {@code status}) the end of the run. */
    @Serdeable
    record Message(long sequence, @Nullable String stream, @Nullable String text, @Nullable String base64,
            @Nullable String status) {}

    Publisher<Event<Message>> follow(UUID runId, long afterSequence) {
        runs.isFinished(runId);
        AtomicLong cursor = new AtomicLong(afterSequence);
        AtomicBoolean ended = new AtomicBoolean();
        return Flux.interval(Duration.ZERO, pollInterval, Schedulers.boundedElastic())
                .onBackpressureDrop()
                .concatMapIterable(tick -> poll(runId, cursor, ended))
                .takeUntil(event -> "end".equals(event.getName()));
    }

    private List<Event<Message>> poll(UUID runId, AtomicLong cursor, AtomicBoolean ended) {
        List<Event<Message>> events = new ArrayList<>();
        if (ended.get()) {
            return events;
        }
        // Read "finished" before the output: a finish is stored after all of the run's chunks,
        // so once it is seen, one more read returns everything that is left.
        boolean finished = runs.isFinished(runId);
        List<RunService.OutputPiece> pieces = runs.outputAfter(runId, cursor.get(), MAX_BYTES_PER_POLL);
        for (RunService.OutputPiece piece : pieces) {
            events.add(Event.of(new Message(piece.sequence(), piece.stream(),
                            new String(piece.data(), StandardCharsets.UTF_8),
                            Base64.getEncoder().encodeToString(piece.data()), null))
                    .id(Long.toString(piece.sequence())).name("output"));
            cursor.set(Math.max(cursor.get(), piece.sequence()));
        }
        if (finished && pieces.isEmpty()) {
            ended.set(true);
            events.add(Event.of(new Message(cursor.get(), null, null, null, runs.status(runId))).name("end"));
        }
        return events;
    }
}
