package io.cloudtask.agent;

import io.cloudtask.agent.pkg.PackageDirectories;
import java.io.IOException;

/** Package directories for tests whose tasks have no package. */
public final class TestPackages {
    /** Refuses every package: a test that reaches it gave a task a package by mistake. */
    public static final PackageDirectories NONE = taskPackage -> {
        throw new IOException("this test provides no packages");
    };

    private TestPackages() {}
}
