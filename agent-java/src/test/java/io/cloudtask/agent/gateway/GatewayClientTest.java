package io.cloudtask.agent.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cloudtask.agent.FakeGateway;
import com.google.protobuf.ByteString;
import io.cloudtask.agent.TestSpecs;
import io.cloudtask.agent.outbox.DiskRunEventOutbox;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.CommandAck;
import io.cloudtask.proto.v1.FireClaim;
import io.cloudtask.proto.v1.CommandOutcome;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.Hello;
import io.cloudtask.proto.v1.KillRun;
import io.cloudtask.proto.v1.RunNow;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.TaskSpecs;
import io.cloudtask.proto.v1.Welcome;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GatewayClientTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final AgentInfo INFO = AgentInfo.newBuilder().setAgentId("agent-1").setCluster("blue")
            .setHostname("host-1").setProtocolVersion(1).build();

    @TempDir
    Path spoolDir;

    private DiskRunEventOutbox outbox;
    private final List<TaskSpecs> receivedSpecs = new CopyOnWriteArrayList<>();
    private final List<Welcome> welcomes = new CopyOnWriteArrayList<>();
    private final List<String> commands = new CopyOnWriteArrayList<>();
    private FakeGateway gateway;
    private GatewayClient client;

    @BeforeEach
    void startGateway() throws Exception {
        outbox = new DiskRunEventOutbox(spoolDir, DiskRunEventOutbox.Options.forMaxBytes(64L << 20), Clock.systemUTC());
        outbox.open();
        gateway = new FakeGateway("gateway-client-test-" + System.nanoTime()).start();
    }

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        gateway.close();
        outbox.close();
    }

    @Test
    void sendsHelloFirstWithTheAgentsIdentity() {
        startClient(gateway.channels(), List.of("cp:9090"));

        await().atMost(WAIT).until(client::isConnected);

        AgentMessage first = gateway.current().received.get(0);
        assertThat(first.hasHello()).isTrue();
        Hello hello = first.getHello();
        assertThat(hello.getAgentId()).isEqualTo("agent-1");
        assertThat(hello.getCluster()).isEqualTo("blue");
        assertThat(hello.getJoinToken()).isEqualTo("token-1");
        assertThat(hello.getProtocolVersion()).isEqualTo(1);
        assertThat(hello.getInfo()).isEqualTo(INFO);
        assertThat(welcomes).hasSize(1);
    }

    @Test
    void sendsRunEventsInJournalOrderAndTrimsTheOutboxAfterAnAck() {
        startClient(gateway.channels(), List.of("cp:9090"));
        await().atMost(WAIT).until(client::isConnected);

        long first = append(0);
        long second = append(1);
        long third = append(2);
        await().atMost(WAIT).until(() -> gateway.current().runEvents().size() == 3);
        assertThat(gateway.current().runEvents()).extracting(AgentMessage::getJournalSequence)
                .containsExactly(first, second, third);

        gateway.current().ack(second);

        await().atMost(WAIT).until(() -> outbox.acknowledgedSequence() == second);
        assertThat(outbox.read(0, 10, Long.MAX_VALUE)).extracting(AgentMessage::getJournalSequence).containsExactly(third);
    }

    @Test
    void handsCommandsAndClaimAnswersToTheListenerAndSendsAnswersAndClaims() {
        startClient(gateway.channels(), List.of("cp:9090"));
        await().atMost(WAIT).until(client::isConnected);

        gateway.current().send(ControlMessage.newBuilder().setRunNow(RunNow.newBuilder().setCommandId("c-1")).build());
        gateway.current().send(ControlMessage.newBuilder().setKillRun(KillRun.newBuilder().setCommandId("c-2")).build());
        gateway.current().send(ControlMessage.newBuilder().setClaimAnswer(ClaimAnswer.newBuilder().setClaimId(7)).build());
        await().atMost(WAIT).until(() -> commands.size() == 3);
        assertThat(commands).containsExactly("c-1", "c-2", "claim-7");
        client.sendFireClaim(FireClaim.newBuilder().setClaimId(8).build());
        await().atMost(WAIT).until(() -> gateway.current().received.stream().anyMatch(AgentMessage::hasFireClaim));

        client.sendCommandAck(CommandAck.newBuilder().setCommandId("c-1")
                .setOutcome(CommandOutcome.COMMAND_OUTCOME_ACCEPTED).build());
        await().atMost(WAIT).until(() -> gateway.current().received.stream().anyMatch(AgentMessage::hasCommandAck));
        assertThat(gateway.current().received.stream().filter(AgentMessage::hasCommandAck).findFirst().orElseThrow()
                .getCommandAck().getCommandId()).isEqualTo("c-1");
    }

    @Test
    void eventsAppendedBeforeTheStreamExistsAreSentAfterWelcome() {
        long first = append(0);
        long second = append(1);

        startClient(gateway.channels(), List.of("cp:9090"));

        // The stream opens asynchronously: there may be none yet at the first poll.
        await().atMost(WAIT).until(() -> !gateway.streams.isEmpty() && gateway.current().received.size() == 3);
        assertThat(gateway.current().received.get(0).hasHello()).isTrue();
        assertThat(gateway.current().runEvents()).extracting(AgentMessage::getJournalSequence).containsExactly(first, second);
    }

    @Test
    void reconnectsAfterTheServerDropsTheStreamAndResendsEveryUnacknowledgedEvent() {
        startClient(gateway.channels(), List.of("cp:9090"));
        await().atMost(WAIT).until(client::isConnected);
        long first = append(0);
        long second = append(1);
        long third = append(2);
        await().atMost(WAIT).until(() -> gateway.current().runEvents().size() == 3);
        gateway.current().ack(first);
        await().atMost(WAIT).until(() -> outbox.acknowledgedSequence() == first);

        gateway.current().fail(Status.UNAVAILABLE.withDescription("replica restarting"));

        await().atMost(WAIT).until(() -> gateway.streams.size() == 2 && gateway.current().runEvents().size() == 2);
        FakeGateway.Stream replay = gateway.current();
        assertThat(replay.received.get(0).hasHello()).isTrue();
        assertThat(replay.runEvents()).extracting(AgentMessage::getJournalSequence).containsExactly(second, third);
        assertThat(welcomes).hasSize(2);
    }

    @Test
    void sendsOnlyWhileTheStreamIsReady() {
        // The server grants two messages (Hello and one event) and no more until it asks.
        gateway.initialCredit = 2;
        startClient(gateway.channels(), List.of("cp:9090"));
        await().atMost(WAIT).until(client::isConnected);

        long first = append(0);
        for (int i = 1; i < 5; i++) {
            append(i);
        }

        // The client itself holds the rest back (they stay unsent in the outbox, not queued in gRPC).
        await().during(Duration.ofMillis(300)).atMost(WAIT)
                .until(() -> client.lastSentJournalSequence() == first && gateway.current().received.size() == 2);
        gateway.current().request(10);
        await().atMost(WAIT).until(() -> gateway.current().runEvents().size() == 5);
        assertThat(client.lastSentJournalSequence()).isEqualTo(first + 4);
    }

    @Test
    void sendsABacklogLargerThanOneReadBatchOnceAndInOrder() {
        // 40 KiB each: far more than one bounded read from the spool, in count and in bytes.
        ByteString data = ByteString.copyFrom(new byte[40 * 1024]);
        List<Long> appended = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            appended.add(outbox.append(AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder()
                    .setRunId("run-1").setSequence(i).setData(data)).build()));
        }

        startClient(gateway.channels(), List.of("cp:9090"));

        await().atMost(WAIT).until(() -> !gateway.streams.isEmpty() && gateway.current().runEvents().size() >= 300);
        assertThat(gateway.current().runEvents()).extracting(AgentMessage::getJournalSequence).isEqualTo(appended);
    }

    @Test
    void requestsSpecsAndHandsTheAnswerToTheListener() {
        gateway.specs = request -> TaskSpecs.newBuilder()
                .addSpecs(TestSpecs.cron(request.getTaskIds(0), 4, TestSpecs.EVERY_SECOND))
                .addMissingTaskIds("gone").build();
        startClient(gateway.channels(), List.of("cp:9090"));
        await().atMost(WAIT).until(client::isConnected);

        client.requestSpecs(List.of("task-a", "gone"));

        await().atMost(WAIT).until(() -> receivedSpecs.size() == 1);
        assertThat(gateway.current().received.get(1).getSpecRequest().getTaskIdsList()).containsExactly("task-a", "gone");
        assertThat(receivedSpecs.get(0).getSpecs(0).getTaskId()).isEqualTo("task-a");
        assertThat(receivedSpecs.get(0).getMissingTaskIdsList()).containsExactly("gone");
    }

    @Test
    void rotatesThroughTheControlPlaneAddressesOnReconnect() throws Exception {
        try (FakeGateway other = new FakeGateway("gateway-client-test-other-" + System.nanoTime()).start()) {
            gateway.refuseWith = Status.UNAVAILABLE.withDescription("draining");
            ChannelFactory byHost = address -> InProcessChannelBuilder
                    .forName(address.startsWith("first") ? gateway.name : other.name).directExecutor().build();

            startClient(byHost, List.of("first:9090", "second:9090"));

            await().atMost(WAIT).until(client::isConnected);
            assertThat(gateway.streams).hasSize(1);
            assertThat(other.streams).hasSize(1);
            assertThat(other.current().received.get(0).hasHello()).isTrue();
        }
    }

    @Test
    void retriesARefusedStreamOnlyAtTheMaximumBackoff() {
        gateway.refuseWith = Status.FAILED_PRECONDITION.withDescription("protocol version 1 is not supported");
        startClient(gateway.channels(), List.of("cp:9090"));

        await().atMost(WAIT).until(() -> gateway.streams.size() >= 3);

        for (int i = 1; i < 3; i++) {
            long gap = gateway.streams.get(i).openedAtNanos - gateway.streams.get(i - 1).openedAtNanos;
            assertThat(TimeUnit.NANOSECONDS.toMillis(gap)).as("gap before attempt %d", i + 1).isGreaterThanOrEqualTo(190);
        }
        assertThat(client.isConnected()).isFalse();
    }

    private long append(int sequence) {
        return outbox.append(AgentMessage.newBuilder()
                .setOutputChunk(OutputChunk.newBuilder().setRunId("run-1").setSequence(sequence)).build());
    }

    private void startClient(ChannelFactory channels, List<String> addresses) {
        client = new GatewayClient(
                new GatewayClient.Settings("agent-1", "blue", "token-1", addresses,
                        new Backoff(Duration.ofMillis(10), Duration.ofMillis(200)), Duration.ofMillis(200)),
                () -> INFO, outbox, new GatewayListener() {
                    @Override
                    public void onWelcome(Welcome welcome) {
                        welcomes.add(welcome);
                    }

                    @Override
                    public void onTaskSpecs(TaskSpecs specs) {
                        receivedSpecs.add(specs);
                    }

                    @Override
                    public void onRunNow(RunNow command) {
                        commands.add(command.getCommandId());
                    }

                    @Override
                    public void onKillRun(KillRun command) {
                        commands.add(command.getCommandId());
                    }

                    @Override
                    public void onClaimAnswer(ClaimAnswer answer) {
                        commands.add("claim-" + answer.getClaimId());
                    }
                }, channels, new SplittableRandom(7));
        client.start();
    }
}
