package io.cloudtask.agent;

import static io.cloudtask.agent.pkg.TestArchives.archive;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.cloudtask.agent.pkg.TestArchives;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.Command;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.PackageFormat;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TaskPackage;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.TaskSpecs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** Tasks with packages on a whole agent: real ZooKeeper, a fake gateway serving packages, real processes. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class AgentPackagesTest {
    private static final String TASK = "5d0c7a4e-2f6b-4c1a-9e3d-7b8a6f5e4d21";
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path workDir;

    private TestZooKeeper zk;
    private FakeGateway gateway;

    @BeforeEach
    void start() throws Exception {
        zk = new TestZooKeeper();
        gateway = new FakeGateway("agent-packages-" + System.nanoTime()).start();
        gateway.autoAck = true;
    }

    @AfterEach
    void stop() throws Exception {
        gateway.close();
        zk.close();
    }

    @Test
    void runsAScriptFromThePackageInThePackageDirectoryFetchingItOnce() throws Exception {
        byte[] tarGz = archive()
                .file("run.sh", "#!/bin/sh\necho \"from-package $(cat data/greeting.txt)\"\npwd -P\n", 0755)
                .file("data/greeting.txt", "hello", 0644)
                .tarGz();
        TaskPackage pkg = serve(tarGz, PackageFormat.PACKAGE_FORMAT_TAR_GZ);
        serveSpec(TestSpecs.cron(TASK, 2, TestSpecs.EVERY_SECOND).setCommand(Command.newBuilder().setShell("./run.sh"))
                .setPackage(pkg).build());

        try (Agent agent = new Agent(TestAgents.config(workDir, zk.connectString()), Clock.systemUTC(), gateway.channels())) {
            agent.start();
            zk.publish("default", "agent-1", 1, TASK);

            await().atMost(WAIT).until(() -> finished(RunStatus.RUN_STATUS_SUCCEEDED).size() >= 2);
            Path packageDir = workDir.resolve("packages").resolve(pkg.getSha256()).toRealPath();
            for (RunFinished run : finished(RunStatus.RUN_STATUS_SUCCEEDED)) {
                assertThat(output(run.getRunId())).isEqualTo("from-package hello\n" + packageDir + "\n");
            }
            assertThat(gateway.fetchRequests).as("fetched once, then run from the cache").hasSize(1);
            assertThat(agent.packages().holds(pkg.getSha256())).isTrue();

            zk.publish("default", "agent-1", 2);

            await().atMost(WAIT).until(() -> !agent.packages().holds(pkg.getSha256()));
        }
    }

    @Test
    void aRelativeWorkingDirectoryResolvesInsideThePackage() throws Exception {
        byte[] zip = archive().file("bin/tool.sh", "#!/bin/sh\necho tool in $(basename \"$(pwd -P)\")\n", 0755)
                .directory("work").zip();
        TaskPackage pkg = serve(zip, PackageFormat.PACKAGE_FORMAT_ZIP);
        serveSpec(TestSpecs.cron(TASK, 1, TestSpecs.EVERY_SECOND)
                .setCommand(Command.newBuilder().setShell("../bin/tool.sh").setWorkingDirectory("work"))
                .setPackage(pkg).build());

        try (Agent agent = new Agent(TestAgents.config(workDir, zk.connectString()), Clock.systemUTC(), gateway.channels())) {
            agent.start();
            zk.publish("default", "agent-1", 1, TASK);

            await().atMost(WAIT).until(() -> !finished(RunStatus.RUN_STATUS_SUCCEEDED).isEmpty());
            assertThat(output(finished(RunStatus.RUN_STATUS_SUCCEEDED).get(0).getRunId())).isEqualTo("tool in work\n");
        }
    }

    @Test
    void aPackageThatCannotBeHadFailsTheRunSayingWhy() throws Exception {
        TaskPackage missing = TaskPackage.newBuilder().setSha256("c".repeat(64)).setSizeBytes(100).setVersion(3)
                .setFormat(PackageFormat.PACKAGE_FORMAT_ZIP).build();
        serveSpec(TestSpecs.cron(TASK, 1, TestSpecs.EVERY_SECOND).setCommand(Command.newBuilder().setShell("./run.sh"))
                .setPackage(missing).build());

        try (Agent agent = new Agent(TestAgents.config(workDir, zk.connectString()), Clock.systemUTC(), gateway.channels())) {
            agent.start();
            zk.publish("default", "agent-1", 1, TASK);

            await().atMost(WAIT).until(() -> !finished(RunStatus.RUN_STATUS_FAILED).isEmpty());
            RunFinished failed = finished(RunStatus.RUN_STATUS_FAILED).get(0);
            assertThat(failed.getHasExitCode()).isFalse();
            assertThat(failed.getError()).contains("package").contains("NOT_FOUND").contains("c".repeat(64));
        }
    }

    @Test
    void anUnsafePackageFailsTheRunNamingTheEntry() throws Exception {
        byte[] hostile = archive().file("run.sh", "#!/bin/sh\necho x\n", 0755).symlink("escape", "../../../..").tarGz();
        TaskPackage pkg = serve(hostile, PackageFormat.PACKAGE_FORMAT_TAR_GZ);
        serveSpec(TestSpecs.cron(TASK, 1, TestSpecs.EVERY_SECOND).setCommand(Command.newBuilder().setShell("./run.sh"))
                .setPackage(pkg).build());

        try (Agent agent = new Agent(TestAgents.config(workDir, zk.connectString()), Clock.systemUTC(), gateway.channels())) {
            agent.start();
            zk.publish("default", "agent-1", 1, TASK);

            await().atMost(WAIT).until(() -> !finished(RunStatus.RUN_STATUS_FAILED).isEmpty());
            assertThat(finished(RunStatus.RUN_STATUS_FAILED).get(0).getError())
                    .contains("'escape'").contains("outside the package");
            assertThat(agent.packages().holds(pkg.getSha256())).isFalse();
        }
    }

    private TaskPackage serve(byte[] archive, PackageFormat format) {
        String sha256 = TestArchives.sha256(archive);
        gateway.packages.put(sha256, archive);
        return TaskPackage.newBuilder().setSha256(sha256).setSizeBytes(archive.length).setFormat(format).setVersion(1)
                .build();
    }

    private void serveSpec(TaskSpec spec) {
        gateway.specs = request -> {
            TaskSpecs.Builder answer = TaskSpecs.newBuilder();
            for (String id : request.getTaskIdsList()) {
                if (id.equals(spec.getTaskId())) {
                    answer.addSpecs(spec);
                } else {
                    answer.addMissingTaskIds(id);
                }
            }
            return answer.build();
        };
    }

    private List<RunFinished> finished(RunStatus status) {
        return gateway.runEvents().stream().filter(AgentMessage::hasRunFinished).map(AgentMessage::getRunFinished)
                .filter(f -> f.getStatus() == status).distinct().toList();
    }

    private String output(String runId) {
        return gateway.runEvents().stream().filter(AgentMessage::hasOutputChunk).map(AgentMessage::getOutputChunk)
                .filter(c -> c.getRunId().equals(runId)).distinct().map(OutputChunk::getData)
                .reduce(ByteString.EMPTY, ByteString::concat).toString(StandardCharsets.UTF_8);
    }
}
