package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.protocol.RunIds;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@MicronautTest(environments = "test", transactional = false)
class RunQueryTest extends ControlPlaneTest {
    @Inject
    EmbeddedServer server;

    @Inject
    RunIngestion ingestion;

    @Inject
    RunRetention retention;

    RestClient rest;

    @Override
    protected Map<String, String> extraProperties() {
        return Map.of("cloudtask.runs.live-poll-interval", "50ms", "cloudtask.runs.retention.max-age", "3650d",
                "cloudtask.runs.retention.max-runs-per-task", "3", "cloudtask.runs.retention.batch-size", "2");
    }

    @BeforeEach
    void client() {
        rest = new RestClient(server.getURI());
    }

    private void finishedRun(String agent, String taskId, Instant fire, RunStatus status) {
        RunEvents events = new RunEvents(taskId, fire);
        ingestion.ingest(agent, "default", List.of(events.started(), events.chunk(0, "out".getBytes()),
                events.finished(status)));
    }

    /** One agent's copy of a broadcast fire, as the agent reports it. */
    private static List<AgentMessage> broadcastRun(String agent, String taskId, Instant fire) {
        RunEvents events = new RunEvents(taskId, fire);
        String runId = RunIds.broadcastRunId(taskId, fire, 1, agent);
        AgentMessage started = events.started();
        AgentMessage finished = events.finished(RunStatus.RUN_STATUS_SUCCEEDED);
        return List.of(started.toBuilder().setRunStarted(started.getRunStarted().toBuilder().setRunId(runId)
                        .setBroadcast(true)).build(),
                finished.toBuilder().setRunFinished(finished.getRunFinished().toBuilder().setRunId(runId)
                        .setBroadcast(true)).build());
    }

    @Test
    void aBroadcastFireKeepsOneRunPerAgentWhileOtherFiresKeepOneRunInAll() {
        String broadcastTask = UUID.randomUUID().toString();
        Instant fire = Instant.parse("2026-08-01T00:00:00Z");
        for (String agent : List.of("agent-b1", "agent-b2", "agent-b3")) {
            ingestion.ingest(agent, "default", broadcastRun(agent, broadcastTask, fire));
        }
        // A replay stores nothing twice.
        ingestion.ingest("agent-b1", "default", broadcastRun("agent-b1", broadcastTask, fire));
        JsonNode runs = rest.get("/api/v1/runs?taskId=" + broadcastTask).json().get("runs");
        assertThat(runs).extracting(run -> run.get("agentId").asText())
                .containsExactlyInAnyOrder("agent-b1", "agent-b2", "agent-b3");
        assertThat(runs).allSatisfy(run -> assertThat(run.get("fireTime").asText()).isEqualTo(fire.toString()));
        assertThat(rest.get("/api/v1/runs?taskId=" + broadcastTask + "&agentId=agent-b2").json().get("runs")).hasSize(1);

        // A single-agent fire stays one run, even when a second agent reports it under another id.
        String singleTask = UUID.randomUUID().toString();
        finishedRun("agent-s1", singleTask, fire, RunStatus.RUN_STATUS_SUCCEEDED);
        AgentMessage foreign = new RunEvents(singleTask, fire).started();
        ingestion.ingest("agent-s2", "default", List.of(foreign.toBuilder().setRunStarted(foreign.getRunStarted()
                .toBuilder().setRunId(UUID.randomUUID().toString())).build()));
        assertThat(rest.get("/api/v1/runs?taskId=" + singleTask).json().get("runs"))
                .singleElement().satisfies(run -> assertThat(run.get("agentId").asText()).isEqualTo("agent-s1"));
    }

    @Test
    void filtersRunsAndPagesNewestFirst() {
        String taskA = UUID.randomUUID().toString();
        String taskB = UUID.randomUUID().toString();
        Instant base = Instant.parse("2026-07-01T00:00:00Z");
        for (int i = 0; i < 5; i++) {
            finishedRun("agent-q1", taskA, base.plusSeconds(i), i % 2 == 0 ? RunStatus.RUN_STATUS_SUCCEEDED
                    : RunStatus.RUN_STATUS_FAILED);
            finishedRun("agent-q2", taskB, base.plusSeconds(i), RunStatus.RUN_STATUS_SUCCEEDED);
        }
        JsonNode failedOfA = rest.get("/api/v1/runs?taskId=" + taskA + "&status=failed").json();
        assertThat(failedOfA.get("runs")).hasSize(2).allSatisfy(run -> assertThat(run.get("status").asText()).isEqualTo("FAILED"));
        assertThat(rest.get("/api/v1/runs?agentId=agent-q2&limit=1000").json().get("runs")).hasSize(5);
        JsonNode window = rest.get("/api/v1/runs?taskId=" + taskA + "&from=" + base.plusSeconds(1) + "&to=" + base.plusSeconds(3)).json();
        assertThat(window.get("runs")).extracting(run -> run.get("fireTime").asText())
                .containsExactly(base.plusSeconds(2).toString(), base.plusSeconds(1).toString());

        Set<String> seen = new HashSet<>();
        String token = "";
        Instant previous = Instant.MAX;
        while (token != null) {
            JsonNode page = rest.get("/api/v1/runs?cluster=default&agentId=agent-q1&limit=2&pageToken=" + token).json();
            for (JsonNode run : page.get("runs")) {
                Instant fire = Instant.parse(run.get("fireTime").asText());
                assertThat(fire).isBeforeOrEqualTo(previous);
                previous = fire;
                seen.add(run.get("id").asText());
            }
            token = page.get("nextPageToken").isNull() ? null : page.get("nextPageToken").asText();
        }
        assertThat(seen).hasSize(5);

        assertThat(rest.get("/api/v1/runs?status=sleeping").json().get("field").asText()).isEqualTo("status");
        assertThat(rest.get("/api/v1/runs?from=yesterday").json().get("field").asText()).isEqualTo("from");
        assertThat(rest.get("/api/v1/runs?from=" + base.plusSeconds(5) + "&to=" + base).json().get("field").asText())
                .isEqualTo("to");
    }

    @Test
    void streamsLiveOutputUntilTheRunEnds() throws Exception {
        String taskId = UUID.randomUUID().toString();
        RunEvents fire = new RunEvents(taskId, Instant.parse("2026-07-02T00:00:00Z"));
        ingestion.ingest("agent-live", "default", List.of(fire.started(), fire.chunk(0, "first\n".getBytes())));

        List<String> lines = new CopyOnWriteArrayList<>();
        HttpRequest request = HttpRequest.newBuilder(URI.create(server.getURI() + "/api/v1/runs/" + fire.runId()
                + "/output/live")).header("Accept", "text/event-stream").build();
        CompletableFuture<HttpResponse<Stream<String>>> response = HttpClient.newHttpClient()
                .sendAsync(request, HttpResponse.BodyHandlers.ofLines());
        CompletableFuture<Void> reading = response.thenAccept(r -> r.body().forEach(lines::add));

        await().atMost(Duration.ofSeconds(10)).until(() -> lines.stream().anyMatch(l -> l.contains("first")));
        ingestion.ingest("agent-live", "default", List.of(fire.chunk(1, "second\n".getBytes())));
        await().atMost(Duration.ofSeconds(10)).until(() -> lines.stream().anyMatch(l -> l.contains("second")));
        ingestion.ingest("agent-live", "default", List.of(fire.finished(RunStatus.RUN_STATUS_SUCCEEDED)));
        reading.get(10, java.util.concurrent.TimeUnit.SECONDS);

        assertThat(lines).contains("event: end", "id: 0", "id: 1");
        assertThat(String.join("\n", lines)).contains("\"status\":\"SUCCEEDED\"");

        // Resuming after sequence 0 sends only what followed.
        HttpResponse<String> resumed = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(server.getURI() + "/api/v1/runs/" + fire.runId() + "/output/live"))
                .header("Last-Event-ID", "0").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(resumed.body()).contains("second").doesNotContain("first").contains("event: end");
        assertThat(rest.get("/api/v1/runs/" + UUID.randomUUID() + "/output/live").status()).isEqualTo(404);
    }

    @Test
    void retentionKeepsTheNewestRunsOfEachTask() {
        String taskId = UUID.randomUUID().toString();
        Instant base = Instant.parse("2026-07-03T00:00:00Z");
        for (int i = 0; i < 7; i++) {
            finishedRun("agent-retain", taskId, base.plusSeconds(i), RunStatus.RUN_STATUS_SUCCEEDED);
        }
        RunEvents running = new RunEvents(taskId, base.minusSeconds(60));
        ingestion.ingest("agent-retain", "default", List.of(running.started()));

        retention.enforce();

        JsonNode left = rest.get("/api/v1/runs?taskId=" + taskId + "&limit=100").json().get("runs");
        assertThat(left).extracting(run -> run.get("fireTime").asText()).containsExactly(
                base.plusSeconds(6).toString(), base.plusSeconds(5).toString(), base.plusSeconds(4).toString(),
                running.fireTime().toString());
        String deletedRun = new RunEvents(taskId, base).runId();
        assertThat(rest.get("/api/v1/runs/" + deletedRun).status()).isEqualTo(404);
        assertThat(rest.get("/api/v1/runs/" + deletedRun + "/output").status()).isEqualTo(404);
    }
}
