package io.cloudtask.controlplane.cluster;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import java.time.Instant;

/**
 * A join token as shown by the API. {@code token} is the secret itself, present only in the
 * response that created it: it is not stored and cannot be shown again.
 */
@Serdeable
@JsonInclude(JsonInclude.Include.ALWAYS)
record JoinTokenView(String id, String cluster, String prefix, String description, Instant createdAt,
        @Nullable Instant expiresAt, @Nullable Instant lastUsedAt, @Nullable Instant revokedAt, boolean revoked,
        @JsonInclude(JsonInclude.Include.NON_NULL) @Nullable String token) {
    JoinTokenView withToken(String secret) {
        return new JoinTokenView(id, cluster, prefix, description, createdAt, expiresAt, lastUsedAt, revokedAt, revoked,
                secret);
    }
}
