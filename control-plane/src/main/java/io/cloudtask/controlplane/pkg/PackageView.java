package io.cloudtask.controlplane.pkg;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;

/**
 * A package version as the REST API shows it. {@code revertedFrom} names the version this one
 * restored (null for an upload); {@code current} says whether the task runs it now.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PackageView(long version, String sha256, long sizeBytes, String fileName, String format,
        Instant uploadedAt, @Nullable Long revertedFrom, boolean current) {

    static PackageView of(PackageVersion version, boolean current) {
        return new PackageView(version.version(), version.sha256(), version.sizeBytes(), version.fileName(),
                version.format().name(), version.uploadedAt(), version.revertedFrom(), current);
    }
}
