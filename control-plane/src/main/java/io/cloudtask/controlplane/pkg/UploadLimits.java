package io.cloudtask.controlplane.pkg;

import io.micronaut.context.event.BeanCreatedEvent;
import io.micronaut.context.event.BeanCreatedEventListener;
import io.micronaut.http.server.HttpServerConfiguration;
import jakarta.inject.Singleton;

/**
 * Lets a package upload through the HTTP server's own limits, so that the one setting
 * {@code cloudtask.packages.max-size} decides, and an upload over it gets our 413 naming that
 * setting rather than the framework's. The request limit is raised to the package limit plus room
 * for the multipart envelope; bodies the server buffers in memory (JSON) stay bounded by
 * {@code micronaut.server.max-request-buffer-size}, which this leaves alone.
 */
@Singleton
class UploadLimits implements BeanCreatedEventListener<HttpServerConfiguration> {
    /** Multipart headers and boundaries around the file. */
    static final long ENVELOPE_BYTES = 64 * 1024;

    private final PackageSettings settings;

    UploadLimits(PackageSettings settings) {
        this.settings = settings;
    }

    @Override
    public HttpServerConfiguration onCreated(BeanCreatedEvent<HttpServerConfiguration> event) {
        HttpServerConfiguration server = event.getBean();
        // One byte over the package limit must still reach the upload code, which reports it.
        long needed = settings.getMaxSize() + 1 + ENVELOPE_BYTES;
        if (server.getMaxRequestSize() < needed) {
            server.setMaxRequestSize(needed);
        }
        if (server.getMultipart().getMaxFileSize() < needed) {
            server.getMultipart().setMaxFileSize(needed);
        }
        return server;
    }
}
