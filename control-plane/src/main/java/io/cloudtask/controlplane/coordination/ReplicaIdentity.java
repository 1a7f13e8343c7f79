package io.cloudtask.controlplane.coordination;

import io.cloudtask.protocol.ZkLayout;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.UUID;

/** This control-plane replica's id: configured, or the host name plus a random suffix. */
@Singleton
public class ReplicaIdentity {
    private final String id;

    ReplicaIdentity(@Value("${cloudtask.replica-id:}") String configured) {
        if (configured != null && !configured.isBlank()) {
            if (!ZkLayout.isValidSegment(configured)) {
                throw new IllegalArgumentException("cloudtask.replica-id '" + configured
                        + "' must be 1-63 letters, digits, '.', '_' or '-'");
            }
            this.id = configured;
        } else {
            this.id = hostPrefix() + "-" + UUID.randomUUID().toString().substring(0, 8);
        }
    }

    public String id() {
        return id;
    }

    private static String hostPrefix() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "replica";
        }
        String cleaned = host.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9._-]", "-");
        if (cleaned.isEmpty() || !Character.isLetterOrDigit(cleaned.charAt(0))) {
            cleaned = "replica";
        }
        return cleaned.length() > 40 ? cleaned.substring(0, 40) : cleaned;
    }
}
