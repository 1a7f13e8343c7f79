package io.cloudtask.controlplane.run;

import com.google.protobuf.ByteString;
import io.cloudtask.controlplane.testing.TestDatabase;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.OutputStream;
import io.cloudtask.proto.v1.RunStatus;
import io.micronaut.context.ApplicationContext;
import java.io.PrintStream;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.curator.test.TestingServer;

/**
 * Times {@link RunIngestion#ingest} alone (no gRPC, no agent): the storage side of the system
 * benchmark's short runs. Batches are cut every 256 events as the agent session cuts them (its
 * window), so some runs start in one batch and finish in the next. Each measured round writes into
 * a month of its own that starts empty and without statistics, as the system benchmark's month
 * does. Not a test: run it with the control plane's test classpath and read the figures.
 */
public final class RunIngestionBenchmark {
    private static final PrintStream OUT = System.out;
    private static final int BATCH_EVENTS = 256;
    private static final int RUNS = 20_000;
    private static final int ROUNDS = 3;

    private RunIngestionBenchmark() {}

    public static void main(String[] args) throws Exception {
        try (TestingServer zookeeper = new TestingServer(true)) {
            TestDatabase.Coordinates database = TestDatabase.create();
            try (ApplicationContext context = ApplicationContext.builder().environments("test").properties(Map.of(
                    "datasources.default.url", database.url(),
                    "datasources.default.username", database.user(),
                    "datasources.default.password", database.password(),
                    "cloudtask.zookeeper.connect-string", zookeeper.getConnectString(),
                    "cloudtask.runs.lost-grace", "1h")).start()) {
                RunIngestion ingestion = context.getBean(RunIngestion.class);
                YearMonth month = YearMonth.now(ZoneOffset.UTC).plusYears(10);
                ingest(ingestion, month.minusMonths(1), RUNS);
                OUT.printf("%d short runs (started, one 3-byte chunk, finished) in batches of %d events%n", RUNS,
                        BATCH_EVENTS);
                for (int round = 0; round < ROUNDS; round++) {
                    long start = System.nanoTime();
                    ingest(ingestion, month.plusMonths(round), RUNS);
                    double seconds = (System.nanoTime() - start) / 1e9;
                    OUT.printf("round %d: %.0f runs/s%n", round + 1, RUNS / seconds);
                }
            }
        }
    }

    private static void ingest(RunIngestion ingestion, YearMonth month, int runs) {
        String taskId = UUID.randomUUID().toString();
        Instant base = month.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        List<AgentMessage> batch = new ArrayList<>(BATCH_EVENTS);
        for (int i = 0; i < runs; i++) {
            RunEvents fire = new RunEvents(taskId, base.plusMillis(i));
            for (AgentMessage event : List.of(fire.started(), AgentMessage.newBuilder().setOutputChunk(
                    OutputChunk.newBuilder().setRunId(fire.runId()).setSequence(0)
                            .setStream(OutputStream.OUTPUT_STREAM_STDOUT).setData(ByteString.copyFromUtf8("ok\n")))
                    .build(), fire.finished(RunStatus.RUN_STATUS_SUCCEEDED))) {
                batch.add(event);
                if (batch.size() == BATCH_EVENTS) {
                    ingestion.ingest("bench-ingest", "default", batch);
                    batch = new ArrayList<>(BATCH_EVENTS);
                }
            }
        }
        if (!batch.isEmpty()) {
            ingestion.ingest("bench-ingest", "default", batch);
        }
    }
}
