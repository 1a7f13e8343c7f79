package io.cloudtask.controlplane.task;

import io.cloudtask.proto.v1.PackageFormat;
import io.cloudtask.proto.v1.TaskPackage;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;

/**
 * A task's current package as task views show it ({@code "package"} in the task JSON).
 *
 * @param format {@code ZIP} or {@code TAR_GZ}
 */
@Serdeable
public record CurrentPackage(long version, String sha256, long sizeBytes, String format, String fileName,
        Instant uploadedAt) {

    /** The package as agents see it in {@code TaskSpec.package}. */
    TaskPackage toProto() {
        return TaskPackage.newBuilder()
                .setVersion(version)
                .setSha256(sha256)
                .setSizeBytes(sizeBytes)
                .setFormat(PackageFormat.valueOf("PACKAGE_FORMAT_" + format))
                .build();
    }
}
