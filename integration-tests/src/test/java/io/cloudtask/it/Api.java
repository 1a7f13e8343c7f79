package io.cloudtask.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The control plane's REST API as the integration tests use it. */
final class Api {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final URI base;

    Api(URI base) {
        this.base = base;
    }

    boolean isHealthy() {
        try {
            return send(HttpRequest.newBuilder(base.resolve("/health")).GET()).statusCode() == 200;
        } catch (UncheckedIOException e) {
            return false;
        }
    }

    JsonNode createTask(String json) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve("/api/v1/tasks"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)));
        if (response.statusCode() != 201) {
            throw new AssertionError("create task answered " + response.statusCode() + ": " + response.body());
        }
        return parse(response.body());
    }

    void pauseTask(JsonNode task) {
        com.fasterxml.jackson.databind.node.ObjectNode paused = task.deepCopy();
        paused.put("paused", true);
        paused.remove(List.of("id", "createdAt", "updatedAt", "nextFireTimes", "version"));
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve("/api/v1/tasks/" + task.get("id").asText()))
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(paused.toString())));
        if (response.statusCode() != 200) {
            throw new AssertionError("pause task answered " + response.statusCode() + ": " + response.body());
        }
    }

    /** The exact output bytes of a run. */
    byte[] output(String runId) {
        try {
            HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(base.resolve("/api/v1/runs/" + runId + "/output"))
                    .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200) {
                throw new AssertionError("output of " + runId + " answered " + response.statusCode());
            }
            return response.body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    void deleteTask(String taskId) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve("/api/v1/tasks/" + taskId)).DELETE());
        if (response.statusCode() != 204) {
            throw new AssertionError("delete task answered " + response.statusCode() + ": " + response.body());
        }
    }

    /** All runs of a task, newest first, following pages. */
    List<JsonNode> runs(String taskId) {
        List<JsonNode> runs = new ArrayList<>();
        String token = "";
        while (token != null) {
            JsonNode page = get("/api/v1/tasks/" + taskId + "/runs?limit=500&pageToken=" + token);
            page.get("runs").forEach(runs::add);
            token = page.get("nextPageToken").isNull() ? null : page.get("nextPageToken").asText();
        }
        return runs;
    }

    /** All runs matching a /api/v1/runs query string (without limit and pageToken). */
    List<JsonNode> queryRuns(String query) {
        List<JsonNode> runs = new ArrayList<>();
        String token = "";
        while (token != null) {
            JsonNode page = get("/api/v1/runs?" + query + "&limit=1000&pageToken=" + token);
            page.get("runs").forEach(runs::add);
            token = page.get("nextPageToken").isNull() ? null : page.get("nextPageToken").asText();
        }
        return runs;
    }

    /** A POST with a JSON body (or none); the status code and the parsed body. */
    Answer post(String path, String json) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve(path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)));
        return new Answer(response.statusCode(), response.body().isEmpty() ? null : parse(response.body()));
    }

    /** A PUT with a JSON body that must answer 200. */
    JsonNode put(String path, String json) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve(path))
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(json)));
        if (response.statusCode() != 200) {
            throw new AssertionError("PUT " + path + " answered " + response.statusCode() + ": " + response.body());
        }
        return parse(response.body());
    }

    /** Uploads a file as the multipart part {@code file}; the status code and the parsed body. */
    Answer upload(String path, String fileName, byte[] content) {
        String boundary = "cloudtask-it-" + System.nanoTime();
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
        body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + fileName
                + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        body.writeBytes(content);
        body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve(path))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())));
        return new Answer(response.statusCode(), response.body().isEmpty() ? null : parse(response.body()));
    }

    /** A GET whatever its status; the status code and the parsed body. */
    Answer getAnswer(String path) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve(path)).GET());
        return new Answer(response.statusCode(), response.body().isEmpty() ? null : parse(response.body()));
    }

    /** A response's status and JSON body. */
    record Answer(int status, JsonNode body) {}

    JsonNode run(String runId) {
        return get("/api/v1/runs/" + runId);
    }

    JsonNode get(String path) {
        HttpResponse<String> response = send(HttpRequest.newBuilder(base.resolve(path)).GET());
        if (response.statusCode() != 200) {
            throw new AssertionError("GET " + path + " answered " + response.statusCode() + ": " + response.body());
        }
        return parse(response.body());
    }

    private static JsonNode parse(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + body, e);
        }
    }

    private HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return client.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
