package io.cloudtask.agent.outbox;

import io.cloudtask.proto.v1.AgentMessage;
import java.time.Duration;
import java.util.List;

/**
 * The agent's journal of run events (RunStarted, OutputChunk, RunFinished) waiting for the control
 * plane's acknowledgement. Producers (process runners) only append, so reading a process's output
 * never waits for the network; the gateway client reads from a cursor and sends while the stream is
 * ready, and trims on {@code Ack}. After a reconnect the gateway replays everything still held.
 *
 * <p>Implementations are thread-safe. Append listeners run on the appending thread and must only
 * schedule work.
 */
public interface RunEventOutbox {
    /**
     * Appends a run event and assigns it the next journal sequence (strictly increasing, never
     * reused for another event).
     *
     * @return the event as stored, with {@code journal_sequence} set
     */
    AgentMessage append(AgentMessage event);

    /** Up to {@code max} unacknowledged events with a journal sequence above {@code journalSequence}, oldest first. */
    List<AgentMessage> after(long journalSequence, int max);

    /** Forgets every event with a journal sequence up to and including {@code journalSequence}. */
    void acknowledge(long journalSequence);

    /** Number of unacknowledged events. */
    int size();

    /** Registers a callback run (on the appending thread) after every append. */
    void addAppendListener(Runnable listener);

    /**
     * Waits until every event appended so far is acknowledged.
     *
     * @return whether that happened before the timeout
     */
    boolean awaitAcknowledged(Duration timeout) throws InterruptedException;
}
