package io.cloudtask.agent.pkg;

import java.io.IOException;

/** A package archive the agent refuses to unpack; the message names the entry and the reason. */
public final class UnsafeArchiveException extends IOException {
    public UnsafeArchiveException(String message) {
        super(message);
    }
}
