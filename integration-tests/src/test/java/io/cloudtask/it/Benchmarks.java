package io.cloudtask.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.OutputStream;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.Trigger;
import io.cloudtask.protocol.RunIds;
import io.cloudtask.protocol.ZkLayout;
import io.cloudtask.schedule.Timestamps;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;

/**
 * The benchmark runner: starts real components (PostgreSQL, a ZooKeeper server, control-plane
 * replicas and agents as separate processes), measures, and prints one Markdown table per
 * measure (docs/BENCHMARKS.md records them). Not a test: it asserts nothing.
 *
 * <p>{@code quick} finishes in a few minutes; {@code full} uses larger sizes and longer windows.
 */
public final class Benchmarks {
    private final boolean full;
    private final Set<String> only;
    private final Path workDir;
    private final StringBuilder report = new StringBuilder();
    private final PrintStream out = System.out;
    private ManagedProcess firstAgent;
    /** The agent that survives the agent failover; it knows only the first replica's address. */
    private ManagedProcess failoverSurvivor;

    private Benchmarks(boolean full, Set<String> only, Path workDir) {
        this.full = full;
        this.only = only;
        this.workDir = workDir;
    }

    /**
     * Arguments: {@code quick} or {@code full}, then optionally the measures to run (footprint,
     * lateness, commands, claims, ingestion, connections, failover; lateness-N for the lateness
     * cases of N tasks only); all by default.
     */
    public static void main(String[] args) throws Exception {
        boolean full = args.length > 0 && args[0].equalsIgnoreCase("full");
        Set<String> only = new HashSet<>();
        for (int i = 1; i < args.length; i++) {
            for (String name : args[i].split(",")) {
                if (!name.isBlank()) {
                    only.add(name.trim().toLowerCase(Locale.ROOT));
                }
            }
        }
        // Commits as a production database makes them (flushed to disk), unlike the tests' database.
        System.setProperty(io.cloudtask.controlplane.testing.TestDatabase.DURABLE, "true");
        Path workDir = Files.createTempDirectory("cloudtask-bench");
        new Benchmarks(full, only, workDir).run();
    }

    private boolean selected(String measure) {
        return only.isEmpty() || only.contains(measure);
    }

    private void run() throws Exception {
        section("CloudTask benchmarks (" + (full ? "full" : "quick") + " mode)");
        line("Machine: " + Runtime.getRuntime().availableProcessors() + " cores, "
                + (((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                        .getTotalMemorySize() >> 20) + " MiB memory, Java " + Runtime.version() + ", "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch") + "; run at " + Instant.now());
        try (CloudTaskSystem system = new CloudTaskSystem(workDir)) {
            system.startZooKeeper().startControlPlane();
            // The first agent is needed by every measure that runs tasks.
            boolean anyLateness = selected("lateness") || only.stream().anyMatch(name -> name.startsWith("lateness-"));
            if (selected("footprint") || anyLateness || selected("failover")) {
                footprint(system);
            }
            if (anyLateness) {
                Duration window = Duration.ofSeconds(full ? 60 : 10);
                // Spread fires show the timer's precision below saturation; aligned ones the burst.
                for (int tasks : full ? new int[] {100, 1_000, 10_000} : new int[] {100, 1_000}) {
                    if (selected("lateness") || only.contains("lateness-" + tasks)) {
                        lateness(system, tasks, false, window);
                        lateness(system, tasks, true, window);
                    }
                }
            }
            if (selected("commands")) {
                if (firstAgent == null) {
                    footprint(system);
                }
                editsAndCommands(system, full ? 200 : 50);
            }
            if (selected("claims")) {
                claims(system, full ? 10_000 : 2_000, full ? 100_000 : 20_000);
            }
            if (selected("ingestion")) {
                ingestion(system);
            }
            if (selected("connections")) {
                connections(system, full ? 2_000 : 1_000);
            }
            if (selected("failover")) {
                agentFailover(system);
                leaderFailover(system);
            }
        }
        Path results = Path.of(System.getProperty("cloudtask.it.logDir", "target"), "..", "bench-results.md").normalize();
        Files.writeString(results, report.toString(), StandardCharsets.UTF_8);
        out.println("\nResults written to " + results);
    }

    private void footprint(CloudTaskSystem system) throws Exception {
        section("Footprint");
        long cpPid = system.controlPlane().pid();
        double startupSeconds;
        // The watching client connects before the clock starts: its own start (class loading, a
        // TLS context that ZooKeeper's client configuration builds) is not the agent's start-up.
        try (CuratorFramework zk = zk(system)) {
            zk.blockUntilConnected();
            long start = System.nanoTime();
            firstAgent = system.startAgent("bench-agent-1");
            while (zk.checkExists().forPath(ZkLayout.agent("default", "bench-agent-1")) == null) {
                TimeUnit.MILLISECONDS.sleep(5);
            }
            startupSeconds = (System.nanoTime() - start) / 1e9;
        }
        ManagedProcess agent = firstAgent;
        // "At rest": sample after a quiet period, the way an operator would look at it.
        TimeUnit.SECONDS.sleep(10);
        table(List.of("measure", "figure", "target"),
                List.of("agent start-up (process start → registered in ZooKeeper)", fmt(startupSeconds) + " s", "≤ 1.5 s"),
                List.of("agent idle RSS", fmt(ProcStats.rssMiB(agent.pid())) + " MiB", "≤ 80 MiB"),
                List.of("control plane RSS at rest (-Xmx512m)", fmt(ProcStats.rssMiB(cpPid)) + " MiB", "—"));
    }

    /**
     * @param spread false: every task on cron {@code * * * * * ?}, so all fire at the same instant
     *     each second; true: every task on an interval of 1 s anchored {@code i * 1000 / taskCount}
     *     ms into the second, so the same number of fires per second arrive evenly spread
     */
    private void lateness(CloudTaskSystem system, int taskCount, boolean spread, Duration window) throws Exception {
        section("Fire lateness and throughput: " + taskCount + " tasks firing every second on one agent, "
                + (spread ? "spread over the second (interval 1 s, phases " + fmt(1000.0 / taskCount) + " ms apart)"
                        : "all at the same instant (cron * * * * * ?)"));
        Api api = system.api();
        long createStart = System.nanoTime();
        // Operators' automation creates tasks concurrently; so does the benchmark (8 clients).
        List<String> taskIds = parallel(taskCount, i -> api.createTask(latenessTask(taskCount, i, spread))
                .get("id").asText());
        double createSeconds = (System.nanoTime() - createStart) / 1e9;
        // Measure from a whole second after all tasks exist plus a warm-up of 5 s.
        Instant from = Instant.now().plusSeconds(5).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        Instant to = from.plus(window);
        TimeUnit.MILLISECONDS.sleep(Duration.between(Instant.now(), to).toMillis() + 3_000);
        parallel(taskIds.size(), i -> {
            api.deleteTask(taskIds.get(i));
            return taskIds.get(i);
        });
        // Let runs of the window finish and be stored.
        TimeUnit.SECONDS.sleep(5);
        List<JsonNode> runs = api.queryRuns("cluster=default&from=" + from + "&to=" + to);
        Set<String> ours = new HashSet<>(taskIds);
        List<Long> latenessMicros = new ArrayList<>();
        long finished = 0;
        for (JsonNode run : runs) {
            if (!ours.contains(run.get("taskId").asText()) || run.get("startedAt").isNull()) {
                continue;
            }
            Instant fire = Instant.parse(run.get("fireTime").asText());
            Instant started = Instant.parse(run.get("startedAt").asText());
            latenessMicros.add(Duration.between(fire, started).toNanos() / 1_000);
            if (!run.get("finishedAt").isNull()) {
                finished++;
            }
        }
        long expected = (long) taskCount * window.toSeconds();
        long[] sorted = latenessMicros.stream().mapToLong(Long::longValue).sorted().toArray();
        table(List.of("measure", "figure", "target"),
                List.of("tasks created over REST (8 concurrent clients)", taskCount + " in " + fmt(createSeconds) + " s", "—"),
                List.of("fires expected in the " + window.toSeconds() + " s window", Long.toString(expected), "—"),
                List.of("runs recorded / finished", sorted.length + " / " + finished, "= expected"),
                List.of("lateness p50", ms(percentile(sorted, 50)), taskCount == 1000 ? "≤ 2 ms" : "—"),
                List.of("lateness p90", ms(percentile(sorted, 90)), "—"),
                List.of("lateness p99", ms(percentile(sorted, 99)), taskCount == 1000 ? "≤ 10 ms" : "—"),
                List.of("lateness max", ms(sorted.length == 0 ? 0 : sorted[sorted.length - 1]), "—"),
                List.of("end-to-end throughput (finished runs stored / s)", fmt(finished / (double) window.toSeconds()),
                        "≥ 1,000/s at saturation"));
    }

    private static String latenessTask(int taskCount, int index, boolean spread) {
        if (!spread) {
            return """
                    {"name": "bench-%d-%d", "command": "true", "schedules": [{"expression": "* * * * * ?"}]}"""
                    .formatted(taskCount, index);
        }
        Instant anchor = Instant.parse("2026-01-01T00:00:00Z").plusNanos(index * 1_000_000_000L / taskCount);
        return """
                {"name": "bench-spread-%d-%d", "command": "true",
                 "schedules": [{"type": "interval", "every": 1, "unit": "seconds", "activeFrom": "%s"}]}"""
                .formatted(taskCount, index, anchor);
    }

    /**
     * How fast an edit reaches the agent (REST PUT → the agent's spec cache holds the new version,
     * read from its file every 2 ms) and how fast a run-now is answered and started.
     */
    private void editsAndCommands(CloudTaskSystem system, int count) throws Exception {
        section("Edits and commands reaching the agent (" + count + " of each, one at a time)");
        Api api = system.api();
        String taskId = api.createTask("{\"name\": \"bench-edits\", \"command\": \"true\", \"schedules\": []}")
                .get("id").asText();
        Path specFile = workDir.resolve("agent-bench-agent-1").resolve("specs").resolve(taskId + ".pb");
        long[] propagation = new long[count];
        awaitSpecVersion(specFile, 1, Duration.ofSeconds(60));
        for (int i = 0; i < count; i++) {
            long start = System.nanoTime();
            api.put("/api/v1/tasks/" + taskId, "{\"name\": \"bench-edits\", \"command\": \"true # edit " + (i + 1)
                    + "\", \"schedules\": [], \"version\": " + (i + 1) + "}");
            awaitSpecVersion(specFile, i + 2, Duration.ofSeconds(30));
            propagation[i] = (System.nanoTime() - start) / 1_000;
        }
        Arrays.sort(propagation);

        long[] answered = new long[count];
        List<String> runIds = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long start = System.nanoTime();
            Api.Answer answer = api.post("/api/v1/tasks/" + taskId + "/runs?wait=10", "");
            answered[i] = (System.nanoTime() - start) / 1_000;
            if (answer.status() != 202 || !answer.body().get("state").asText().equals("ACCEPTED")) {
                throw new IllegalStateException("run now answered " + answer.status() + ": " + answer.body());
            }
            runIds.add(answer.body().get("runId").asText());
        }
        Arrays.sort(answered);
        long[] started = new long[count];
        for (int i = 0; i < count; i++) {
            JsonNode run = awaitRun(api, runIds.get(i));
            started[i] = Duration.between(Instant.parse(run.get("fireTime").asText()),
                    Instant.parse(run.get("startedAt").asText())).toNanos() / 1_000;
        }
        Arrays.sort(started);
        table(List.of("measure", "p50", "p99", "max", "target"),
                List.of("edit saved (PUT sent) → agent holds the new spec", ms(percentile(propagation, 50)),
                        ms(percentile(propagation, 99)), ms(propagation[count - 1]), "≤ 1 s"),
                List.of("run now: request → agent's answer (202 ACCEPTED)", ms(percentile(answered, 50)),
                        ms(percentile(answered, 99)), ms(answered[count - 1]), "—"),
                List.of("run now: request → process started", ms(percentile(started, 50)), ms(percentile(started, 99)),
                        ms(started[count - 1]), "≤ 1 s"));
        api.deleteTask(taskId);
    }

    private static void awaitSpecVersion(Path specFile, long version, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (io.cloudtask.proto.v1.TaskSpec.parseFrom(Files.readAllBytes(specFile)).getVersion() >= version) {
                    return;
                }
            } catch (java.nio.file.NoSuchFileException e) {
                // Not cached yet: keep polling.
            }
            TimeUnit.MILLISECONDS.sleep(2);
        }
        throw new IllegalStateException("the agent did not get version " + version + " of " + specFile + " in " + timeout);
    }

    private static JsonNode awaitRun(Api api, String runId) throws InterruptedException {
        for (int i = 0; i < 3000; i++) {
            Api.Answer answer = api.getAnswer("/api/v1/runs/" + runId);
            if (answer.status() == 200 && !answer.body().get("startedAt").isNull()) {
                return answer.body();
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
        throw new IllegalStateException("run " + runId + " was never reported started");
    }

    /**
     * Strict delivery's claim round trip over the real protocol: a simulated agent claims fires of
     * a strict task one at a time (latency), then with up to 256 claims in flight (throughput).
     */
    private void claims(CloudTaskSystem system, int sequential, int pipelined) throws Exception {
        section("Strict-claim round trip (one replica, loopback)");
        Api api = system.api();
        String taskId = api.createTask("{\"name\": \"bench-strict\", \"command\": \"true\", \"schedules\": [],"
                + " \"delivery\": {\"policy\": \"STRICT\"}}").get("id").asText();
        ManagedChannel channel = channel(system.grpcPort());
        try {
            SimulatedAgent agent = new SimulatedAgent("bench-claims");
            java.util.concurrent.ConcurrentMap<Long, java.util.concurrent.CompletableFuture<io.cloudtask.proto.v1.ClaimAnswer>>
                    waiting = new java.util.concurrent.ConcurrentHashMap<>();
            agent.onClaimAnswers(answer -> {
                var future = waiting.remove(answer.getClaimId());
                if (future != null) {
                    future.complete(answer);
                }
            });
            agent.connect(channel);
            if (!agent.awaitWelcome(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("simulated agent not welcomed");
            }
            Instant base = Instant.parse("2030-01-01T00:00:00Z");
            long claimId = 0;
            // Warm-up: connection pool, prepared statements, and enough calls for the JIT's optimizing
            // compiler to have compiled the path (its compilations otherwise land in the measured tail).
            for (int i = 0; i < CLAIM_WARM_UP; i++) {
                claimOne(agent, waiting, ++claimId, taskId, base.plusSeconds(claimId));
            }
            long[] micros = new long[sequential];
            for (int i = 0; i < sequential; i++) {
                long start = System.nanoTime();
                claimOne(agent, waiting, ++claimId, taskId, base.plusSeconds(claimId));
                micros[i] = (System.nanoTime() - start) / 1_000;
            }
            Arrays.sort(micros);
            java.util.concurrent.Semaphore window = new java.util.concurrent.Semaphore(256);
            List<java.util.concurrent.CompletableFuture<io.cloudtask.proto.v1.ClaimAnswer>> all = new ArrayList<>();
            long start = System.nanoTime();
            for (int i = 0; i < pipelined; i++) {
                window.acquire();
                long id = ++claimId;
                var future = new java.util.concurrent.CompletableFuture<io.cloudtask.proto.v1.ClaimAnswer>();
                future.whenComplete((answer, failure) -> window.release());
                waiting.put(id, future);
                all.add(future);
                agent.sendUnjournaled(AgentMessage.newBuilder().setFireClaim(io.cloudtask.proto.v1.FireClaim.newBuilder()
                        .setClaimId(id).setTaskId(taskId).setFireTime(Timestamps.of(base.plusSeconds(id))).setSpecVersion(1))
                        .build());
            }
            long granted = 0;
            for (var future : all) {
                granted += future.get(60, TimeUnit.SECONDS).getGranted() ? 1 : 0;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            table(List.of("measure", "figure", "target"),
                    List.of("claim round trip, one at a time (" + sequential + " claims after " + CLAIM_WARM_UP
                            + " to warm up)", "p50 " + ms(percentile(micros, 50))
                            + ", p90 " + ms(percentile(micros, 90)) + ", p99 " + ms(percentile(micros, 99))
                            + ", max " + ms(micros[sequential - 1]), "p99 ≤ 5 ms"),
                    List.of("claims decided, 256 in flight (" + pipelined + " claims, " + granted + " granted)",
                            fmt(pipelined / seconds) + " claims/s", "—"));
            agent.close();
        } finally {
            channel.shutdownNow();
        }
        api.deleteTask(taskId);
    }

    private static final int CLAIM_WARM_UP = 3_000;

    private static void claimOne(SimulatedAgent agent,
            java.util.concurrent.ConcurrentMap<Long, java.util.concurrent.CompletableFuture<io.cloudtask.proto.v1.ClaimAnswer>>
                    waiting, long claimId, String taskId, Instant fire) throws Exception {
        var future = new java.util.concurrent.CompletableFuture<io.cloudtask.proto.v1.ClaimAnswer>();
        waiting.put(claimId, future);
        agent.sendUnjournaled(AgentMessage.newBuilder().setFireClaim(io.cloudtask.proto.v1.FireClaim.newBuilder()
                .setClaimId(claimId).setTaskId(taskId).setFireTime(Timestamps.of(fire)).setSpecVersion(1)).build());
        if (!future.get(30, TimeUnit.SECONDS).getGranted()) {
            throw new IllegalStateException("claim " + claimId + " denied");
        }
    }

    private void ingestion(CloudTaskSystem system) throws Exception {
        section("Ingestion (simulated agent over the real gRPC stream, one replica)");
        ManagedChannel channel = channel(system.grpcPort());
        try {
            SimulatedAgent agent = new SimulatedAgent("bench-ingest");
            agent.connect(channel);
            agent.awaitWelcome(30, TimeUnit.SECONDS);
            String taskId = UUID.randomUUID().toString();

            int megabytes = full ? 500 : 200;
            byte[] data = new byte[32 * 1024];
            Arrays.fill(data, (byte) 'x');
            Instant fire = Instant.now();
            String runId = RunIds.runId(taskId, fire, 1);
            long start = System.nanoTime();
            agent.send(started(runId, taskId, fire));
            int chunks = megabytes * 32;
            for (int i = 0; i < chunks; i++) {
                agent.send(AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder().setRunId(runId)
                        .setSequence(i).setStream(OutputStream.OUTPUT_STREAM_STDOUT)
                        .setData(ByteString.copyFrom(data))).build());
                awaitBacklog(agent, 2_000);
            }
            long last = agent.send(finished(runId, taskId, fire, chunks, (long) chunks * data.length));
            awaitAck(agent, last);
            double outputSeconds = (System.nanoTime() - start) / 1e9;

            int shortRuns = full ? 50_000 : 20_000;
            start = System.nanoTime();
            long lastSequence = 0;
            Instant base = Instant.now();
            for (int i = 0; i < shortRuns; i++) {
                Instant shortFire = base.plusMillis(i);
                String id = RunIds.runId(taskId, shortFire, 1);
                agent.send(started(id, taskId, shortFire));
                agent.send(AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder().setRunId(id)
                        .setSequence(0).setStream(OutputStream.OUTPUT_STREAM_STDOUT)
                        .setData(ByteString.copyFromUtf8("ok\n"))).build());
                lastSequence = agent.send(finished(id, taskId, shortFire, 1, 3));
                awaitBacklog(agent, 6_000);
            }
            awaitAck(agent, lastSequence);
            double runsSeconds = (System.nanoTime() - start) / 1e9;
            agent.close();
            table(List.of("measure", "figure", "target"),
                    List.of("one run's output into PostgreSQL (" + megabytes + " MiB, 32 KiB chunks, 16 MiB cap)",
                            fmt(megabytes / outputSeconds) + " MiB/s", "≥ 50 MB/s"),
                    List.of("finished short runs ingested (" + shortRuns + " runs, 3 events each)",
                            fmt(shortRuns / runsSeconds) + " runs/s", "≥ 5,000/s"));
        } finally {
            channel.shutdownNow();
        }
    }

    private void connections(CloudTaskSystem system, int count) throws Exception {
        section("Connections: " + count + " simulated agents on one control-plane replica");
        long pid = system.controlPlane().pid();
        ManagedChannel channel = channel(system.grpcPort());
        List<SimulatedAgent> agents = new ArrayList<>();
        try {
            long start = System.nanoTime();
            for (int i = 0; i < count; i++) {
                SimulatedAgent agent = new SimulatedAgent("sim-" + i);
                agent.connect(channel);
                agents.add(agent);
            }
            int welcomed = 0;
            for (SimulatedAgent agent : agents) {
                if (agent.awaitWelcome(60, TimeUnit.SECONDS) && agent.failure() == null) {
                    welcomed++;
                }
            }
            double registerSeconds = (System.nanoTime() - start) / 1e9;
            TimeUnit.SECONDS.sleep(3);
            long cpuBefore = ProcStats.cpuMillis(pid);
            TimeUnit.SECONDS.sleep(10);
            long cpuAtRest = ProcStats.cpuMillis(pid) - cpuBefore;
            table(List.of("measure", "figure", "target"),
                    List.of("streams welcomed", welcomed + " of " + count, "all"),
                    List.of("time to register all", fmt(registerSeconds) + " s", "—"),
                    List.of("control plane RSS with the streams open (-Xmx512m: heap ≤ 512 MiB)",
                            fmt(ProcStats.rssMiB(pid)) + " MiB", "heap ≤ 512 MiB"),
                    List.of("control plane CPU at rest (10 s window)", fmt(cpuAtRest / 100.0) + " % of one core", "—"));
        } finally {
            agents.forEach(SimulatedAgent::close);
            channel.shutdownNow();
        }
    }

    private void agentFailover(CloudTaskSystem system) throws Exception {
        section("Failover: kill -9 of an agent (ZooKeeper session timeout 6 s)");
        Api api = system.api();
        failoverSurvivor = system.startAgent("bench-agent-2");
        List<String> taskIds = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            taskIds.add(api.createTask("""
                    {"name": "failover-%d", "command": "true", "schedules": [{"expression": "* * * * * ?"}]}"""
                    .formatted(i)).get("id").asText());
        }
        TimeUnit.SECONDS.sleep(8);
        Set<String> onFirst = new HashSet<>();
        for (JsonNode run : api.queryRuns("agentId=bench-agent-1&from=" + Instant.now().minusSeconds(3))) {
            onFirst.add(run.get("taskId").asText());
        }
        onFirst.retainAll(taskIds);
        Instant killed = Instant.now();
        firstAgent.kill();
        TimeUnit.SECONDS.sleep(12);
        Instant firstMovedStart = null;
        for (JsonNode run : api.queryRuns("agentId=bench-agent-2&from=" + killed.minusSeconds(1))) {
            // Runs that never started (the hand-over gap's MISSED records) have no start.
            if (onFirst.contains(run.get("taskId").asText()) && !run.get("startedAt").isNull()) {
                Instant started = Instant.parse(run.get("startedAt").asText());
                if (firstMovedStart == null || started.isBefore(firstMovedStart)) {
                    firstMovedStart = started;
                }
            }
        }
        for (String taskId : taskIds) {
            api.deleteTask(taskId);
        }
        table(List.of("measure", "figure", "target"),
                List.of("tasks on the killed agent", Integer.toString(onFirst.size()), "—"),
                List.of("kill -9 → first run of one of its tasks on the other agent",
                        firstMovedStart == null ? "not observed within 12 s"
                                : fmt(Duration.between(killed, firstMovedStart).toMillis() / 1000.0) + " s",
                        "≤ session timeout + 1 s = 7 s"));
    }

    private void leaderFailover(CloudTaskSystem system) throws Exception {
        section("Failover: kill -9 of the control-plane leader");
        CloudTaskSystem.ReplicaHandle second = system.startExtraReplica("replica-2");
        if (failoverSurvivor != null) {
            // Agents must be given every replica's address; this one was started before the second
            // replica existed, so it could not fetch the task's spec once the leader is gone. Stopped
            // cleanly (its ZooKeeper node goes at once), it leaves the task to the agent below.
            failoverSurvivor.close();
        }
        system.startAgent("bench-agent-3");
        TimeUnit.SECONDS.sleep(3);
        Instant killed = Instant.now();
        system.controlPlane().kill();
        String taskId = second.api().createTask("""
                {"name": "after-leader-kill", "command": "true", "schedules": [{"expression": "* * * * * ?"}]}""")
                .get("id").asText();
        Instant published = null;
        Instant firstRun = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (CuratorFramework zk = zk(system)) {
            while ((published == null || firstRun == null) && System.nanoTime() < deadline) {
                if (published == null && assigned(zk, taskId)) {
                    published = Instant.now();
                }
                for (JsonNode run : second.api().runs(taskId)) {
                    Instant started = Instant.parse(run.get("startedAt").asText());
                    firstRun = firstRun == null || started.isBefore(firstRun) ? started : firstRun;
                }
                TimeUnit.MILLISECONDS.sleep(50);
            }
        }
        table(List.of("measure", "figure", "target"),
                List.of("kill -9 of the leader → the new leader publishes a task created on the other replica",
                        published == null ? "not observed within 30 s"
                                : fmt(Duration.between(killed, published).toMillis() / 1000.0) + " s",
                        "≤ session timeout + 1 s = 7 s"),
                List.of("kill -9 of the leader → that task's first run (adds the next whole second and the"
                                + " agent's reconnect to the surviving replica)",
                        firstRun == null ? "not observed within 30 s"
                                : fmt(Duration.between(killed, firstRun).toMillis() / 1000.0) + " s", "—"));
    }

    private static boolean assigned(CuratorFramework zk, String taskId) throws Exception {
        if (zk.checkExists().forPath(ZkLayout.allocations("default")) == null) {
            return false;
        }
        for (String agentId : zk.getChildren().forPath(ZkLayout.allocations("default"))) {
            // Large assignments are split into parts: read them the way an agent does.
            var assignment = io.cloudtask.protocol.AssignmentReader.read(path -> {
                try {
                    return zk.getData().forPath(path);
                } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
                    return null;
                }
            }, "default", agentId, 5);
            if (assignment.isPresent()
                    && assignment.get().getTasksList().stream().anyMatch(t -> t.getTaskId().equals(taskId))) {
                return true;
            }
        }
        return false;
    }

    /** Runs {@code count} calls on 8 threads; returns their results in index order. */
    private static List<String> parallel(int count, java.util.function.IntFunction<String> call) throws Exception {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            List<java.util.concurrent.Future<String>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int index = i;
                futures.add(pool.submit(() -> call.apply(index)));
            }
            List<String> results = new ArrayList<>();
            for (java.util.concurrent.Future<String> future : futures) {
                results.add(future.get());
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    private static AgentMessage started(String runId, String taskId, Instant fire) {
        return AgentMessage.newBuilder().setRunStarted(RunStarted.newBuilder().setRunId(runId).setTaskId(taskId)
                .setFireTime(Timestamps.of(fire)).setAttempt(1)
                .setTrigger(Trigger.TRIGGER_SCHEDULE).setSpecVersion(1)
                .setStartedAt(Timestamps.of(fire))).build();
    }

    private static AgentMessage finished(String runId, String taskId, Instant fire, long chunks, long bytes) {
        return AgentMessage.newBuilder().setRunFinished(RunFinished.newBuilder().setRunId(runId).setTaskId(taskId)
                .setFireTime(Timestamps.of(fire)).setAttempt(1)
                .setTrigger(Trigger.TRIGGER_SCHEDULE).setSpecVersion(1)
                .setStartedAt(Timestamps.of(fire))
                .setFinishedAt(Timestamps.of(Instant.now()))
                .setStatus(RunStatus.RUN_STATUS_SUCCEEDED).setHasExitCode(true)
                .setOutputChunkCount(chunks).setOutputBytes(bytes)).build();
    }

    /** Keeps the unacknowledged backlog bounded, as the real agent's flow control does. */
    private static void awaitBacklog(SimulatedAgent agent, long maxUnacknowledged) throws InterruptedException {
        while (agent.failure() == null && agent.sentSequence() - agent.acknowledged() > maxUnacknowledged) {
            TimeUnit.MICROSECONDS.sleep(200);
        }
        if (agent.failure() != null) {
            throw new IllegalStateException("simulated agent stream failed", agent.failure());
        }
    }

    private static void awaitAck(SimulatedAgent agent, long sequence) throws InterruptedException {
        awaitBacklog(agent, agent.sentSequence() - sequence);
    }

    private static ManagedChannel channel(int port) {
        return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    }

    private static CuratorFramework zk(CloudTaskSystem system) {
        CuratorFramework client = CuratorFrameworkFactory.newClient(system.zookeeperConnect(), new RetryOneTime(100));
        client.start();
        return client;
    }

    private static long percentile(long[] sorted, int percentile) {
        if (sorted.length == 0) {
            return 0;
        }
        int index = (int) Math.ceil(percentile / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    private static String ms(long micros) {
        return String.format(Locale.ROOT, "%.2f ms", micros / 1000.0);
    }

    private static String fmt(double value) {
        return String.format(Locale.ROOT, "%.2f", value);
    }

    private void section(String title) {
        line("");
        line("## " + title);
        line("");
    }

    private void line(String text) {
        out.println(text);
        report.append(text).append('\n');
    }

    @SafeVarargs
    private void table(List<String> header, List<String>... rows) {
        line("| " + String.join(" | ", header) + " |");
        line("|" + "---|".repeat(header.size()));
        for (List<String> row : rows) {
            line("| " + String.join(" | ", row) + " |");
        }
    }
}
