package io.cloudtask.agent.pkg;

import static io.cloudtask.agent.pkg.TestArchives.archive;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.proto.v1.PackageFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@EnabledOnOs({OS.LINUX, OS.MAC})
class SafeUnpackerTest {
    private static final long PLENTY = 10L << 20;

    @TempDir
    Path temp;

    Path target;
    Path outside;

    @BeforeEach
    void directories() throws IOException {
        // The package directory sits inside "sandbox", so anything escaping by one level is visible there.
        target = Files.createDirectories(temp.resolve("sandbox").resolve("package"));
        outside = temp.resolve("sandbox");
    }

    /** Both archive formats, built from the same entries. */
    enum Format {
        TAR_GZ(PackageFormat.PACKAGE_FORMAT_TAR_GZ, TestArchives::tarGz),
        ZIP(PackageFormat.PACKAGE_FORMAT_ZIP, TestArchives::zip);

        final PackageFormat proto;
        final Function<TestArchives, byte[]> build;

        Format(PackageFormat proto, Function<TestArchives, byte[]> build) {
            this.proto = proto;
            this.build = build;
        }
    }

    private void unpack(Format format, TestArchives archive) throws IOException {
        unpack(format.proto, format.build.apply(archive), PLENTY);
    }

    private void unpack(PackageFormat format, byte[] bytes, long maxBytes) throws IOException {
        Path file = temp.resolve("archive-" + System.nanoTime());
        Files.write(file, bytes);
        SafeUnpacker.unpack(file, format, target, maxBytes);
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void unpacksFilesDirectoriesAndInsideLinksKeepingTheExecutableBit(Format format) throws IOException {
        unpack(format, archive()
                .directory("bin")
                .file("bin/run.sh", "#!/bin/sh\necho hi\n", 0755)
                .file("conf/app.properties", "a=1\n", 0644)
                .symlink("run", "bin/run.sh")
                .symlink("conf/up", "../bin"));

        assertThat(target.resolve("bin/run.sh")).hasContent("#!/bin/sh\necho hi\n");
        assertThat(Files.getPosixFilePermissions(target.resolve("bin/run.sh")))
                .contains(PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OTHERS_EXECUTE);
        assertThat(Files.getPosixFilePermissions(target.resolve("conf/app.properties")))
                .doesNotContain(PosixFilePermission.OWNER_EXECUTE);
        assertThat(Files.readSymbolicLink(target.resolve("run"))).isEqualTo(Path.of("bin/run.sh"));
        assertThat(target.resolve("conf/up/run.sh")).hasContent("#!/bin/sh\necho hi\n");
    }

    @Test
    void copiesHardLinksInsideATar() throws IOException {
        unpack(Format.TAR_GZ, archive().file("a.txt", "same", 0644).hardLink("b.txt", "a.txt"));

        assertThat(target.resolve("b.txt")).hasContent("same");
    }

    @Test
    void aZipWithoutUnixModesGetsReadableFiles() throws IOException {
        unpack(PackageFormat.PACKAGE_FORMAT_ZIP, archive().file("dir/a.txt", "a", 0).plainZip(), PLENTY);

        assertThat(target.resolve("dir/a.txt")).hasContent("a");
        assertThat(Files.getPosixFilePermissions(target.resolve("dir/a.txt")))
                .contains(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void refusesAnEntryClimbingOutWithDotDot(Format format) {
        assertRefused(format, archive().file("ok.txt", "ok", 0644).file("../escaped.txt", "x", 0644),
                "'../escaped.txt'", "climbs out");
        assertThat(outside.resolve("escaped.txt")).doesNotExist();
    }

    @Test
    void acceptsDotDotThatStaysInside() throws IOException {
        unpack(Format.TAR_GZ, archive().file("a/../b.txt", "b", 0644));

        assertThat(target.resolve("b.txt")).hasContent("b");
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void refusesAnAbsolutePath(Format format) {
        assertRefused(format, archive().file("/tmp/absolute.txt", "x", 0644), "'/tmp/absolute.txt'", "absolute");
    }

    @Test
    void refusesWindowsDriveAndBackslashPaths() {
        assertRefused(Format.ZIP, archive().file("C:\\Windows\\evil.dll", "x", 0644), "Windows drive");
        assertRefused(Format.ZIP, archive().file("..\\escaped.txt", "x", 0644), "climbs out");
        assertRefused(Format.ZIP, archive().file("\\\\server\\share\\x", "x", 0644), "absolute");
        assertThat(outside.resolve("escaped.txt")).doesNotExist();
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void refusesALinkPointingOutside(Format format) {
        assertRefused(format, archive().symlink("etc", "../../etc"), "'etc'", "outside the package");
        assertRefused(format, archive().symlink("passwd", "/etc/passwd"), "'passwd'", "absolute path");
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void refusesALinkThatEscapesThroughAnotherLink(Format format) {
        // Each link alone stays inside; "m" makes "l" lead one level up.
        assertRefused(format, archive().symlink("l", "m/../outside.txt").symlink("m", "."),
                "'l'", "through other links");
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void refusesWritingThroughALink(Format format) {
        assertRefused(format, archive().file("real.txt", "r", 0644).symlink("alias", "real.txt")
                .file("alias", "overwritten", 0644), "'alias'", "through a link");
    }

    @Test
    void refusesAHardLinkToOutside() {
        assertRefused(Format.TAR_GZ, archive().hardLink("passwd", "../../../etc/passwd"), "climbs out");
    }

    @Test
    void refusesSpecialFiles() {
        assertRefused(Format.TAR_GZ, archive().fifo("pipe"), "'pipe'", "special entry");
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void refusesAnArchiveThatUnpacksBeyondTheLimit(Format format) throws IOException {
        byte[] zeros = new byte[3 << 20];
        byte[] bomb = format.build.apply(archive().file("zeros.bin", zeros, 0644));
        assertThat(bomb.length).as("compression makes it small").isLessThan(1 << 20);

        assertThatThrownBy(() -> unpack(format.proto, bomb, 1 << 20))
                .isInstanceOf(UnsafeArchiveException.class)
                .hasMessageContaining("'zeros.bin'")
                .hasMessageContaining("cloudtask.agent.packages.max-unpacked-size");
    }

    @Test
    void aCorruptArchiveIsAnErrorNotARefusal() throws IOException {
        Path file = temp.resolve("corrupt.tar.gz");
        Files.write(file, new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2, 3});

        assertThatThrownBy(() -> SafeUnpacker.unpack(file, PackageFormat.PACKAGE_FORMAT_TAR_GZ, target, PLENTY))
                .isInstanceOf(IOException.class);
    }

    private void assertRefused(Format format, TestArchives archive, String... messageParts) {
        assertThatThrownBy(() -> unpack(format, archive))
                .isInstanceOf(UnsafeArchiveException.class)
                .satisfies(e -> assertThat(e.getMessage()).contains(messageParts));
        try (Stream<Path> siblings = Files.list(outside)) {
            assertThat(siblings).as("nothing written beside the package directory").containsExactly(target);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
