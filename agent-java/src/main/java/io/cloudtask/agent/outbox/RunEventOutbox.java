package io.cloudtask.agent.outbox;

import io.cloudtask.proto.v1.AgentMessage;
import java.time.Duration;
import java.util.List;

/**
 * The agent's journal of run events (RunStarted, OutputChunk, RunFinished) waiting for the control
 * plane's acknowledgement. Producers (process runners) only append, so reading a process's output
 * never waits for the network; the gateway client reads in bounded batches from its own cursor and
 * sends while the stream is ready, and trims on {@code Ack}. After a reconnect the gateway replays
 * everything still held, starting again from cursor 0.
 *
 * <p>Implementations are thread-safe. Append listeners run on the appending thread and must only
 * schedule work.
 */
public interface RunEventOutbox {
    /** What {@link #append} returns for an output chunk the outbox refused because it is full. */
    long DROPPED = 0;

    /**
     * Appends a run event and assigns it the next journal sequence (strictly increasing, never
     * reused for another event). Never waits for the network.
     *
     * @return the event's journal sequence, or {@link #DROPPED} when an output chunk was not kept
     *     because the outbox is full (only output chunks are ever refused)
     */
    long append(AgentMessage event);

    /**
     * Appends events in order, as {@link #append} would one by one, but waits for the disk once:
     * when it returns every RunFinished among them is as durable as {@link #append} makes one.
     * Output chunks the outbox refuses are dropped as {@link #append} drops them.
     */
    default void appendAll(List<AgentMessage> events) {
        events.forEach(this::append);
    }

    /**
     * Unacknowledged events with a journal sequence above {@code afterSequence}, oldest first: at
     * most {@code maxCount} events and, except for a first event that is larger on its own, at most
     * {@code maxBytes} of serialized messages. An empty list means there is nothing more to send.
     */
    List<AgentMessage> read(long afterSequence, int maxCount, long maxBytes);

    /** Forgets every event with a journal sequence up to and including {@code journalSequence}. */
    void acknowledge(long journalSequence);

    /** The journal sequence of the last appended event (0 before any). */
    long lastSequence();

    /** The highest acknowledged journal sequence (0 before any). */
    long acknowledgedSequence();

    /**
     * Whether the outbox holds an event that is not acknowledged yet. (Not the same as
     * {@code acknowledgedSequence() < lastSequence()}: the last events may have been dropped.)
     */
    boolean hasUnacknowledged();

    /** Registers a callback run (on the appending thread) after every append. */
    void addAppendListener(Runnable listener);

    /**
     * Waits until every event appended so far is acknowledged.
     *
     * @return whether that happened before the timeout
     */
    boolean awaitAcknowledged(Duration timeout) throws InterruptedException;
}
