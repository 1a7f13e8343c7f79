package io.cloudtask.controlplane.pkg;

import io.micronaut.context.annotation.ConfigurationProperties;
import io.micronaut.core.convert.format.ReadableBytes;

/**
 * {@code cloudtask.packages.*}: the largest package accepted ({@code max-size}, Micronaut's byte
 * notation: {@code 256MB} is 256 × 1024 × 1024 bytes) and how many versions each task keeps
 * ({@code keep-versions}). Read once at start.
 */
@ConfigurationProperties("cloudtask.packages")
public class PackageSettings {
    static final String MAX_SIZE_KEY = "cloudtask.packages.max-size";
    static final String KEEP_VERSIONS_KEY = "cloudtask.packages.keep-versions";

    private long maxSize = 256L * 1024 * 1024;
    private int keepVersions = 30;

    public long getMaxSize() {
        return maxSize;
    }

    public void setMaxSize(@ReadableBytes long maxSize) {
        if (maxSize < 1) {
            throw new IllegalArgumentException(MAX_SIZE_KEY + " must be at least 1 byte, was " + maxSize);
        }
        this.maxSize = maxSize;
    }

    public int getKeepVersions() {
        return keepVersions;
    }

    public void setKeepVersions(int keepVersions) {
        if (keepVersions < 1) {
            throw new IllegalArgumentException(KEEP_VERSIONS_KEY + " must be at least 1 (the current version is"
                    + " always kept), was " + keepVersions);
        }
        this.keepVersions = keepVersions;
    }
}
