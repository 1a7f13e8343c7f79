package io.cloudtask.agent.outbox;

import io.cloudtask.proto.v1.AgentMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link RunEventOutbox} held in memory. <strong>It does not survive a restart:</strong> events not
 * acknowledged when the agent stops are lost (a later issue replaces it with an on-disk spool). It
 * is also unbounded: while the control plane is unreachable it grows with the output of every run.
 *
 * <p>Thread-safe (one monitor). Journal sequences start at the value given to the constructor so
 * that a restarted agent does not reuse the sequences of its previous life (see {@link #startingAt}).
 */
public final class InMemoryRunEventOutbox implements RunEventOutbox {
    private final NavigableMap<Long, AgentMessage> events = new TreeMap<>();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private long lastSequence;

    /** @param firstSequence the journal sequence of the first appended event (at least 1) */
    public InMemoryRunEventOutbox(long firstSequence) {
        if (firstSequence < 1) {
            throw new IllegalArgumentException("firstSequence must be at least 1, was " + firstSequence);
        }
        this.lastSequence = firstSequence - 1;
    }

    /**
     * An outbox whose sequences start at the given wall-clock time in microseconds. Without a disk
     * spool there is no persisted counter, and a counter restarting at 1 would reuse sequences of
     * events the control plane saw before a restart; microseconds since the epoch only repeat if the
     * clock steps back or the agent appends a million events per second.
     */
    public static InMemoryRunEventOutbox startingAt(java.time.Instant now) {
        long micros = Math.multiplyExact(now.getEpochSecond(), 1_000_000L) + now.getNano() / 1_000;
        return new InMemoryRunEventOutbox(Math.max(1, micros));
    }

    @Override
    public AgentMessage append(AgentMessage event) {
        if (event.getBodyCase() != AgentMessage.BodyCase.RUN_STARTED
                && event.getBodyCase() != AgentMessage.BodyCase.OUTPUT_CHUNK
                && event.getBodyCase() != AgentMessage.BodyCase.RUN_FINISHED) {
            throw new IllegalArgumentException("only run events are journaled, not " + event.getBodyCase());
        }
        AgentMessage stored;
        synchronized (this) {
            stored = event.toBuilder().setJournalSequence(++lastSequence).build();
            events.put(stored.getJournalSequence(), stored);
        }
        for (Runnable listener : listeners) {
            listener.run();
        }
        return stored;
    }

    @Override
    public synchronized List<AgentMessage> after(long journalSequence, int max) {
        List<AgentMessage> result = new ArrayList<>(Math.min(max, events.size()));
        for (AgentMessage event : events.tailMap(journalSequence, false).values()) {
            if (result.size() >= max) {
                break;
            }
            result.add(event);
        }
        return result;
    }

    @Override
    public synchronized void acknowledge(long journalSequence) {
        events.headMap(journalSequence, true).clear();
        if (events.isEmpty()) {
            notifyAll();
        }
    }

    @Override
    public synchronized int size() {
        return events.size();
    }

    @Override
    public void addAppendListener(Runnable listener) {
        listeners.add(listener);
    }

    @Override
    public synchronized boolean awaitAcknowledged(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!events.isEmpty()) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                return false;
            }
            wait(Math.max(1, remaining / 1_000_000));
        }
        return true;
    }
}
