package io.cloudtask.controlplane.pkg;

import io.cloudtask.controlplane.api.ApiException;
import jakarta.inject.Singleton;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * Package content for agents (the gateway's {@code FetchPackage}): which packages a cluster may
 * fetch, and their bytes chunk by chunk. Thread-safe; every call is blocking database work.
 */
@Singleton
public class PackageContent {
    /** Bytes per stored chunk; every chunk but the last of a package is exactly this long. */
    public static final int CHUNK_BYTES = PackageStore.CHUNK_BYTES;
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    private final PackageStore store;

    PackageContent(PackageStore store) {
        this.store = store;
    }

    /** Whether {@code value} is a lower-case hex sha256, as packages are addressed. */
    public static boolean isSha256(String value) {
        return SHA256_HEX.matcher(value).matches();
    }

    /**
     * The size of a package that a live task of {@code cluster} uses (any kept version, so an agent
     * whose spec is a moment behind a new upload can still fetch what it runs); empty otherwise.
     */
    public OptionalLong sizeUsedInCluster(String sha256, String cluster) {
        return store.sizeIfUsedInCluster(sha256, cluster);
    }

    /**
     * Chunk {@code seq} of a package.
     *
     * @throws ApiException NOT_FOUND when the package was deleted meanwhile (no version keeps it any more)
     */
    public byte[] chunk(String sha256, int seq) {
        return store.chunk(sha256, seq).orElseThrow(() -> ApiException.notFound("package " + sha256
                + " was deleted while being fetched (no task version uses it any more)"));
    }
}
