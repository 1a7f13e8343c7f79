package io.cloudtask.agent.pkg;

import io.cloudtask.proto.v1.TaskPackage;
import java.io.IOException;
import java.nio.file.Path;

/** Where a run finds its task's unpacked package. Implementations are thread-safe. */
public interface PackageDirectories {
    /**
     * The unpacked package, fetched first if the agent does not hold it yet (blocking). The
     * directory stays until the lease is closed, whatever clean-up runs meanwhile.
     *
     * @throws IOException when the package cannot be had; the message says why, for the run's error
     */
    Lease acquire(TaskPackage taskPackage) throws IOException;

    /** A package directory held for one run. */
    interface Lease extends AutoCloseable {
        Path directory();

        /** Releases the directory (idempotent). */
        @Override
        void close();
    }
}
