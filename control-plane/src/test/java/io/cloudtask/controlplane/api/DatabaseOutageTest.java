package io.cloudtask.controlplane.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.RestClient;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.util.Map;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/** Stops a real PostgreSQL under a running control plane: the API answers 503, not a stack trace. */
class DatabaseOutageTest {
    @Test
    void answersServiceUnavailableWhileTheDatabaseIsDown() throws Exception {
        try (TestingServer zookeeper = new TestingServer(true)) {
            EmbeddedPostgres postgres = EmbeddedPostgres.builder().setServerConfig("listen_addresses", "127.0.0.1").start();
            try (ApplicationContext context = ApplicationContext.run(Map.of(
                    "datasources.default.url", postgres.getJdbcUrl("postgres", "postgres"),
                    "datasources.default.username", "postgres",
                    "datasources.default.password", "postgres",
                    "cloudtask.zookeeper.connect-string", zookeeper.getConnectString()), "test")) {
                EmbeddedServer server = context.getBean(EmbeddedServer.class).start();
                RestClient rest = new RestClient(server.getURI());
                assertThat(rest.post("/api/v1/tasks", "{\"name\": \"before\", \"command\": \"true\"}").status())
                        .isEqualTo(201);

                postgres.close();

                RestClient.Response list = rest.get("/api/v1/tasks");
                assertThat(list.status()).isEqualTo(503);
                JsonNode error = list.json();
                assertThat(error.get("code").asText()).isEqualTo("UNAVAILABLE");
                assertThat(error.get("retryable").asBoolean()).isTrue();
                assertThat(error.get("message").asText()).contains("database is unavailable");
                assertThat(list.body()).doesNotContain("Exception").doesNotContain("at io.");

                RestClient.Response create = rest.post("/api/v1/tasks", "{\"name\": \"during\", \"command\": \"true\"}");
                assertThat(create.status()).isEqualTo(503);
            }
        }
    }
}
