package io.cloudtask.controlplane.pkg;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.util.List;

/** A task's kept package versions, newest first, and which one is current (null: none). */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
public record PackageList(@Nullable Long currentVersion, List<PackageView> versions) {}
