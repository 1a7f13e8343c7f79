package io.cloudtask.controlplane.pkg;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.task.TaskService;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.cloudtask.proto.v1.PackageFormat;
import io.cloudtask.proto.v1.TaskSpec;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

@MicronautTest(environments = "test", transactional = false)
class PackageApiTest extends ControlPlaneTest {
    /** Small enough to test the limit cheaply, large enough for packages of several 1 MiB chunks. */
    static final long MAX_SIZE = 3L * 1024 * 1024;
    static final int KEEP_VERSIONS = 3;

    @Inject
    EmbeddedServer server;

    @Inject
    TaskService taskService;

    RestClient rest;

    @Override
    protected Map<String, String> extraProperties() {
        return Map.of("cloudtask.packages.max-size", "3MB", "cloudtask.packages.keep-versions",
                Integer.toString(KEEP_VERSIONS));
    }

    @BeforeEach
    void client() {
        rest = new RestClient(server.getURI());
    }

    private String createTask(String name) {
        RestClient.Response created = rest.post("/api/v1/tasks", "{\"name\": \"" + name + "\", \"command\": \"./run.sh\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created.json().get("id").asText();
    }

    private JsonNode upload(String taskId, String fileName, byte[] content) {
        RestClient.Response response = rest.postFile("/api/v1/tasks/" + taskId + "/package", "file", fileName, content);
        assertThat(response.status()).as(response.body()).isEqualTo(201);
        return response.json();
    }

    @Test
    void uploadMakesTheArchiveTheTasksCurrentPackageAsItsNextSpecVersion() {
        String id = createTask("with-package");
        byte[] zip = Archives.zip(2_500_000, 1);

        JsonNode uploaded = upload(id, "program.zip", zip);
        assertThat(uploaded.get("version").asLong()).isEqualTo(1);
        assertThat(uploaded.get("sha256").asText()).isEqualTo(Archives.sha256(zip));
        assertThat(uploaded.get("sizeBytes").asLong()).isEqualTo(zip.length);
        assertThat(uploaded.get("format").asText()).isEqualTo("ZIP");
        assertThat(uploaded.get("current").asBoolean()).isTrue();

        JsonNode task = rest.get("/api/v1/tasks/" + id).json();
        assertThat(task.get("version").asLong()).as("a new package is a new spec version").isEqualTo(2);
        JsonNode pkg = task.get("package");
        assertThat(pkg.get("version").asLong()).isEqualTo(1);
        assertThat(pkg.get("sha256").asText()).isEqualTo(Archives.sha256(zip));
        assertThat(pkg.get("sizeBytes").asLong()).isEqualTo(zip.length);
        assertThat(pkg.get("fileName").asText()).isEqualTo("program.zip");

        TaskSpec spec = taskService.specs(List.of(id)).specs().get(0);
        assertThat(spec.getVersion()).isEqualTo(2);
        assertThat(spec.getPackage().getSha256()).isEqualTo(Archives.sha256(zip));
        assertThat(spec.getPackage().getSizeBytes()).isEqualTo(zip.length);
        assertThat(spec.getPackage().getFormat()).isEqualTo(PackageFormat.PACKAGE_FORMAT_ZIP);
        assertThat(spec.getPackage().getVersion()).isEqualTo(1);

        assertThat(rest.get("/api/v1/tasks").json().get("tasks").findValues("package"))
                .anySatisfy(p -> assertThat(p.path("sha256").asText()).isEqualTo(Archives.sha256(zip)));
    }

    @Test
    void downloadReturnsTheExactBytesOfEachVersion() {
        String id = createTask("download");
        byte[] first = Archives.zip(2_200_000, 2);
        byte[] second = Archives.gzip("second version");
        upload(id, "first.zip", first);
        upload(id, "second.tar.gz", second);

        RestClient.BytesResponse one = rest.getWithBytes("/api/v1/tasks/" + id + "/packages/1/content");
        assertThat(one.status()).isEqualTo(200);
        assertThat(one.body()).isEqualTo(first);
        assertThat(one.headers().firstValue("Content-Type")).hasValue("application/zip");
        assertThat(one.headers().firstValue("Content-Disposition").orElseThrow()).contains("first.zip");
        RestClient.BytesResponse two = rest.getWithBytes("/api/v1/tasks/" + id + "/packages/2/content");
        assertThat(two.body()).isEqualTo(second);
        assertThat(two.headers().firstValue("Content-Type")).hasValue("application/gzip");

        assertThat(rest.get("/api/v1/tasks/" + id + "/packages/9/content").status()).isEqualTo(404);
    }

    @Test
    void listsVersionsNewestFirstAndMarksTheCurrentOne() {
        String id = createTask("listed");
        upload(id, "a.zip", Archives.zip(10, 3));
        upload(id, "b.tgz", Archives.gzip("b"));

        JsonNode list = rest.get("/api/v1/tasks/" + id + "/packages").json();
        assertThat(list.get("currentVersion").asLong()).isEqualTo(2);
        assertThat(list.get("versions").findValuesAsText("fileName")).containsExactly("b.tgz", "a.zip");
        assertThat(list.get("versions").get(0).get("current").asBoolean()).isTrue();
        assertThat(list.get("versions").get(1).get("current").asBoolean()).isFalse();
        assertThat(list.get("versions").get(0).get("format").asText()).isEqualTo("TAR_GZ");
    }

    @Test
    void sameContentIsStoredOnceWhateverTaskUploadsIt() throws SQLException {
        byte[] zip = Archives.zip(1_100_000, 4);
        String sha = Archives.sha256(zip);
        upload(createTask("dedupe-1"), "same.zip", zip);
        upload(createTask("dedupe-2"), "same-again.zip", zip);

        assertThat(count("SELECT count(*) FROM package_blobs WHERE sha256 = '" + sha + "'")).isEqualTo(1);
        assertThat(count("SELECT count(*) FROM package_blob_chunks WHERE sha256 = '" + sha + "'"))
                .as("1.1 MB in 1 MiB chunks").isEqualTo(2);
        assertThat(count("SELECT count(*) FROM task_packages WHERE sha256 = '" + sha + "'")).isEqualTo(2);
    }

    @Test
    void revertMakesAnOlderVersionCurrentAsANewVersion() {
        String id = createTask("reverted");
        byte[] first = Archives.zip(100, 5);
        upload(id, "v1.zip", first);
        upload(id, "v2.zip", Archives.zip(100, 6));
        long versionBefore = rest.get("/api/v1/tasks/" + id).json().get("version").asLong();

        RestClient.Response reverted = rest.post("/api/v1/tasks/" + id + "/packages/1/revert", "");
        assertThat(reverted.status()).as(reverted.body()).isEqualTo(200);
        assertThat(reverted.json().get("version").asLong()).isEqualTo(3);
        assertThat(reverted.json().get("revertedFrom").asLong()).isEqualTo(1);
        assertThat(reverted.json().get("sha256").asText()).isEqualTo(Archives.sha256(first));

        JsonNode task = rest.get("/api/v1/tasks/" + id).json();
        assertThat(task.get("version").asLong()).isEqualTo(versionBefore + 1);
        assertThat(task.get("package").get("version").asLong()).isEqualTo(3);
        assertThat(task.get("package").get("sha256").asText()).isEqualTo(Archives.sha256(first));
        assertThat(task.get("package").get("fileName").asText()).isEqualTo("v1.zip");

        RestClient.Response again = rest.post("/api/v1/tasks/" + id + "/packages/3/revert", "");
        assertThat(again.json().get("version").asLong()).as("the current version: nothing changes").isEqualTo(3);
        assertThat(rest.get("/api/v1/tasks/" + id).json().get("version").asLong()).isEqualTo(versionBefore + 1);

        RestClient.Response unknown = rest.post("/api/v1/tasks/" + id + "/packages/42/revert", "");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.json().get("message").asText()).contains("no package version 42");
    }

    @Test
    void keepsTheNewestVersionsAndDeletesBlobsNoVersionUses() throws SQLException {
        String id = createTask("pruned");
        List<String> shas = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            byte[] zip = Archives.zip(1000 + i, 100 + i);
            shas.add(Archives.sha256(zip));
            upload(id, "v" + (i + 1) + ".zip", zip);
        }

        JsonNode list = rest.get("/api/v1/tasks/" + id + "/packages").json();
        assertThat(list.get("versions").findValues("version")).extracting(JsonNode::asLong).containsExactly(5L, 4L, 3L);
        assertThat(count("SELECT count(*) FROM package_blobs WHERE sha256 IN ('" + shas.get(0) + "', '"
                + shas.get(1) + "')")).as("blobs of pruned versions").isZero();
        assertThat(count("SELECT count(*) FROM package_blob_chunks WHERE sha256 = '" + shas.get(0) + "'")).isZero();
        assertThat(count("SELECT count(*) FROM package_blobs WHERE sha256 = '" + shas.get(4) + "'")).isEqualTo(1);
        assertThat(rest.post("/api/v1/tasks/" + id + "/packages/1/revert", "").status()).isEqualTo(404);

        // Reverting to 3 makes version 6; 3 then falls out of the newest three, but its blob is still used by 6.
        rest.post("/api/v1/tasks/" + id + "/packages/3/revert", "");
        JsonNode after = rest.get("/api/v1/tasks/" + id + "/packages").json();
        assertThat(after.get("versions").findValues("version")).extracting(JsonNode::asLong).containsExactly(6L, 5L, 4L);
        assertThat(count("SELECT count(*) FROM package_blobs WHERE sha256 = '" + shas.get(2) + "'")).isEqualTo(1);
    }

    @Test
    void versionNumbersKeepGrowingThroughRemoveAndRevert() {
        String id = createTask("current-kept");
        upload(id, "v1.zip", Archives.zip(10, 200));
        assertThat(rest.delete("/api/v1/tasks/" + id + "/package").status()).isEqualTo(204);
        upload(id, "v2.zip", Archives.zip(10, 201));
        upload(id, "v3.zip", Archives.zip(10, 202));
        rest.post("/api/v1/tasks/" + id + "/packages/1/revert", "");
        upload(id, "v5.zip", Archives.zip(10, 203));
        // Versions 1..5 (4 restores 1); the newest three are kept and the current one is the newest.
        JsonNode list = rest.get("/api/v1/tasks/" + id + "/packages").json();
        assertThat(list.get("currentVersion").asLong()).isEqualTo(5);
        assertThat(list.get("versions").findValues("version")).extracting(JsonNode::asLong).containsExactly(5L, 4L, 3L);
    }

    @Test
    void removingThePackageIsANewSpecVersionWithoutOne() {
        String id = createTask("removed");
        upload(id, "v1.zip", Archives.zip(10, 7));
        long before = rest.get("/api/v1/tasks/" + id).json().get("version").asLong();

        assertThat(rest.delete("/api/v1/tasks/" + id + "/package").status()).isEqualTo(204);
        JsonNode task = rest.get("/api/v1/tasks/" + id).json();
        assertThat(task.get("package").isNull()).isTrue();
        assertThat(task.get("version").asLong()).isEqualTo(before + 1);
        assertThat(taskService.specs(List.of(id)).specs().get(0).hasPackage()).isFalse();
        assertThat(rest.get("/api/v1/tasks/" + id + "/packages").json().get("currentVersion").isNull()).isTrue();

        assertThat(rest.delete("/api/v1/tasks/" + id + "/package").status()).as("again: nothing to do").isEqualTo(204);
        assertThat(rest.get("/api/v1/tasks/" + id).json().get("version").asLong()).isEqualTo(before + 1);
        assertThat(rest.post("/api/v1/tasks/" + id + "/packages/1/revert", "").status()).isEqualTo(200);
        assertThat(rest.get("/api/v1/tasks/" + id).json().get("package").get("version").asLong()).isEqualTo(2);
    }

    @Test
    void aCloneSharesTheCurrentPackageAsItsFirstVersion() {
        String id = createTask("clone-source");
        byte[] zip = Archives.zip(10, 8);
        upload(id, "old.zip", Archives.zip(10, 9));
        upload(id, "current.zip", zip);

        JsonNode clone = rest.post("/api/v1/tasks/" + id + "/clone", "").json();
        assertThat(clone.get("version").asLong()).isEqualTo(1);
        assertThat(clone.get("package").get("version").asLong()).isEqualTo(1);
        assertThat(clone.get("package").get("sha256").asText()).isEqualTo(Archives.sha256(zip));
        assertThat(clone.get("package").get("fileName").asText()).isEqualTo("current.zip");
        assertThat(rest.get("/api/v1/tasks/" + clone.get("id").asText() + "/packages").json().get("versions").size())
                .isEqualTo(1);

        JsonNode plain = rest.post("/api/v1/tasks/" + createTask("no-package") + "/clone", "").json();
        assertThat(plain.get("package").isNull()).isTrue();
    }

    @Test
    void editingATaskKeepsItsPackage() {
        String id = createTask("edited");
        byte[] zip = Archives.zip(10, 10);
        upload(id, "kept.zip", zip);
        JsonNode task = rest.get("/api/v1/tasks/" + id).json();

        RestClient.Response replaced = rest.put("/api/v1/tasks/" + id, task.toString().replace("./run.sh", "./other.sh"));
        assertThat(replaced.status()).as(replaced.body()).isEqualTo(200);
        assertThat(replaced.json().get("package").get("sha256").asText()).isEqualTo(Archives.sha256(zip));
        assertThat(replaced.json().get("version").asLong()).isEqualTo(task.get("version").asLong() + 1);
    }

    @Test
    void anUploadOverTheLimitIs413NamingTheSettingAndLeavesNothing() throws SQLException {
        String id = createTask("too-big");
        RestClient.Response response = rest.postFile("/api/v1/tasks/" + id + "/package", "file", "big.zip",
                Archives.zip((int) MAX_SIZE, 11));

        assertThat(response.status()).as(response.body()).isEqualTo(413);
        JsonNode error = response.json();
        assertThat(error.get("code").asText()).isEqualTo("PAYLOAD_TOO_LARGE");
        assertThat(error.get("field").asText()).isEqualTo("file");
        assertThat(error.get("message").asText()).contains("cloudtask.packages.max-size").contains(Long.toString(MAX_SIZE));
        assertThat(count("SELECT count(*) FROM task_packages WHERE task_id = '" + id + "'")).isZero();
        assertThat(rest.get("/api/v1/tasks/" + id).json().get("version").asLong()).isEqualTo(1);

        byte[] justFits = Archives.zip((int) MAX_SIZE - 200, 12);
        assertThat(justFits.length).isLessThanOrEqualTo((int) MAX_SIZE);
        upload(id, "fits.zip", justFits);
    }

    @Test
    void badUploadsAre400NamingTheFilePart() {
        String id = createTask("bad-uploads");
        String path = "/api/v1/tasks/" + id + "/package";

        RestClient.Response wrongName = rest.postFile(path, "file", "program.rar", Archives.zip(10, 13));
        assertThat(wrongName.status()).isEqualTo(400);
        assertThat(wrongName.json().get("field").asText()).isEqualTo("file");
        assertThat(wrongName.json().get("message").asText()).contains("program.rar").contains(".zip").contains(".tar.gz");

        RestClient.Response notAZip = rest.postFile(path, "file", "program.zip", Archives.gzip("gzip, not zip"));
        assertThat(notAZip.status()).isEqualTo(400);
        assertThat(notAZip.json().get("field").asText()).isEqualTo("file");
        assertThat(notAZip.json().get("message").asText()).contains("ZIP").contains("signature");

        RestClient.Response notAGzip = rest.postFile(path, "file", "program.tar.gz", "plain text".getBytes());
        assertThat(notAGzip.status()).isEqualTo(400);
        assertThat(notAGzip.json().get("message").asText()).contains("TAR_GZ");

        RestClient.Response empty = rest.postFile(path, "file", "empty.zip", new byte[0]);
        assertThat(empty.status()).isEqualTo(400);
        assertThat(empty.json().get("field").asText()).isEqualTo("file");
        assertThat(empty.json().get("message").asText()).contains("empty");

        RestClient.Response otherPart = rest.postFile(path, "archive", "program.zip", Archives.zip(10, 14));
        assertThat(otherPart.status()).isEqualTo(400);
        assertThat(otherPart.json().get("field").asText()).as(otherPart.body()).isEqualTo("file");
        assertThat(otherPart.json().get("message").asText()).contains("file");

        RestClient.Response json = rest.post(path, "{}");
        assertThat(json.status()).as("not multipart: unsupported media type").isEqualTo(415);
        assertThat(json.json().get("code").asText()).isEqualTo("INVALID_ARGUMENT");

        assertThat(rest.get("/api/v1/tasks/" + id).json().get("version").asLong()).as("nothing changed").isEqualTo(1);
    }

    @Test
    void unknownAndDeletedTasksAre404() {
        String unknown = "/api/v1/tasks/00000000-0000-0000-0000-000000000000";
        assertThat(rest.postFile(unknown + "/package", "file", "a.zip", Archives.zip(10, 15)).status()).isEqualTo(404);
        assertThat(rest.get(unknown + "/packages").status()).isEqualTo(404);
        assertThat(rest.get(unknown + "/packages/1/content").status()).isEqualTo(404);
        assertThat(rest.post(unknown + "/packages/1/revert", "").status()).isEqualTo(404);
        assertThat(rest.delete(unknown + "/package").status()).isEqualTo(404);

        String id = createTask("deleted-with-package");
        upload(id, "a.zip", Archives.zip(10, 16));
        assertThat(rest.delete("/api/v1/tasks/" + id).status()).isEqualTo(204);
        assertThat(rest.get("/api/v1/tasks/" + id + "/packages").status()).isEqualTo(404);
        assertThat(rest.postFile("/api/v1/tasks/" + id + "/package", "file", "b.zip", Archives.zip(10, 17)).status())
                .isEqualTo(404);
    }

    @Test
    void jsonBodiesStayLimitedWhileUploadsMayBeLarger() {
        String huge = "{\"name\": \"huge\", \"command\": \"" + "x".repeat(1_200_000) + "\"}";
        RestClient.Response response = rest.post("/api/v1/tasks", huge);
        assertThat(response.status()).isEqualTo(413);
        assertThat(response.json().get("code").asText()).isEqualTo("PAYLOAD_TOO_LARGE");
    }

    private long count(String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection(database.url(), database.user(), database.password());
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery(sql)) {
            rows.next();
            return rows.getLong(1);
        }
    }
}
