package io.cloudtask.controlplane.cluster;

import io.cloudtask.controlplane.api.ApiException;
import jakarta.inject.Singleton;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/** Issues, lists and revokes a cluster's join tokens. Thread-safe. */
@Singleton
class JoinTokens {
    static final int TOKEN_BYTES = 32;
    /** Characters of the token kept for display: enough to tell tokens apart, far too few to guess the rest. */
    static final int PREFIX_LENGTH = 6;

    private final ClusterService clusters;
    private final JoinTokenStore store;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();

    JoinTokens(ClusterService clusters, JoinTokenStore store, Clock clock) {
        this.clusters = clusters;
        this.store = store;
        this.clock = clock;
    }

    /** Creates a token; the returned view is the only place the secret ever appears. */
    JoinTokenView create(String cluster, JoinTokenRequest request) {
        clusters.require(cluster);
        String description = request == null || request.description() == null ? "" : request.description();
        if (description.length() > 1000) {
            throw ApiException.invalid("description", "description is " + description.length()
                    + " characters; the limit is 1000");
        }
        Instant now = clock.instant();
        Instant expiresAt = request == null ? null : request.expiresAt();
        if (expiresAt != null && !expiresAt.isAfter(now)) {
            throw ApiException.invalid("expiresAt", "expiresAt " + expiresAt + " is not in the future (now is " + now
                    + "); give a later instant, or omit it for a token that does not expire");
        }
        byte[] secret = new byte[TOKEN_BYTES];
        random.nextBytes(secret);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        return store.create(cluster, token.substring(0, PREFIX_LENGTH), AdmissionPolicy.hash(token), description, now,
                expiresAt).withToken(token);
    }

    List<JoinTokenView> list(String cluster) {
        clusters.require(cluster);
        return store.list(cluster);
    }

    JoinTokenView revoke(String cluster, String id) {
        clusters.require(cluster);
        UUID uuid;
        try {
            uuid = UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            throw ApiException.notFound("join token '" + id + "' does not exist in cluster '" + cluster + "'");
        }
        JoinTokenView revoked = store.revoke(cluster, uuid, clock.instant());
        if (revoked == null) {
            throw ApiException.notFound("join token '" + id + "' does not exist in cluster '" + cluster + "'");
        }
        return revoked;
    }
}
