package io.cloudtask.agent.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class PackageWorkingDirectoryTest {
    private final Path packageDir = Path.of("/var/cloudtask/packages/abc");

    @Test
    void aTaskWithAPackageRunsInItUnlessToldOtherwise() {
        assertThat(ProcessRunner.workDirInPackage(packageDir, "")).isEqualTo(packageDir);
    }

    @Test
    void aRelativeWorkingDirectoryIsInsideThePackage() {
        assertThat(ProcessRunner.workDirInPackage(packageDir, "bin/../work")).isEqualTo(packageDir.resolve("work"));
    }

    @Test
    void anAbsoluteWorkingDirectoryIsKept() {
        assertThat(ProcessRunner.workDirInPackage(packageDir, "/srv/data")).isEqualTo(Path.of("/srv/data"));
    }

    @Test
    void aRelativeWorkingDirectoryMayNotLeaveThePackage() {
        assertThatThrownBy(() -> ProcessRunner.workDirInPackage(packageDir, "../other"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'../other'")
                .hasMessageContaining("leaves the package directory");
    }
}
