package io.cloudtask.agent.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.OutputChunk;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InMemoryRunEventOutboxTest {
    private final InMemoryRunEventOutbox outbox = new InMemoryRunEventOutbox(10);

    @Test
    void assignsStrictlyIncreasingJournalSequences() {
        assertThat(outbox.append(chunk(0)).getJournalSequence()).isEqualTo(10);
        assertThat(outbox.append(chunk(1)).getJournalSequence()).isEqualTo(11);
        assertThat(outbox.after(0, 10)).extracting(AgentMessage::getJournalSequence).containsExactly(10L, 11L);
        assertThat(outbox.after(10, 10)).extracting(AgentMessage::getJournalSequence).containsExactly(11L);
        assertThat(outbox.after(0, 1)).hasSize(1);
    }

    @Test
    void anAckDropsEveryEventUpToItsSequence() throws Exception {
        for (int i = 0; i < 5; i++) {
            outbox.append(chunk(i));
        }

        outbox.acknowledge(12);

        assertThat(outbox.after(0, 10)).extracting(AgentMessage::getJournalSequence).containsExactly(13L, 14L);
        assertThat(outbox.awaitAcknowledged(Duration.ofMillis(10))).isFalse();
        outbox.acknowledge(14);
        assertThat(outbox.size()).isZero();
        assertThat(outbox.awaitAcknowledged(Duration.ofMillis(10))).isTrue();
    }

    @Test
    void notifiesListenersOnAppendAndRefusesNonRunEvents() {
        AtomicInteger appends = new AtomicInteger();
        outbox.addAppendListener(appends::incrementAndGet);

        outbox.append(chunk(0));

        assertThat(appends).hasValue(1);
        assertThatThrownBy(() -> outbox.append(AgentMessage.newBuilder().setHello(Hello.getDefaultInstance()).build()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sequencesOfALaterProcessStartAboveThoseOfAnEarlierOne() {
        Instant now = Instant.parse("2030-01-01T00:00:00Z");
        long earlier = InMemoryRunEventOutbox.startingAt(now).append(chunk(0)).getJournalSequence();
        long later = InMemoryRunEventOutbox.startingAt(now.plusMillis(1)).append(chunk(0)).getJournalSequence();

        assertThat(later).isGreaterThan(earlier);
    }

    private static AgentMessage chunk(long sequence) {
        return AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder().setRunId("r").setSequence(sequence)).build();
    }
}
