package io.cloudtask.controlplane.cluster;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * Decides whether an agent may join a cluster. Pure: no database, no clock, no framework; the
 * caller supplies the cluster's policy, its join tokens and {@code now}.
 *
 * <p>Rules, in order: (1) if the cluster requires a join token, the presented token's SHA-256 must
 * equal the hash of one of the cluster's tokens (compared in constant time, against every token,
 * so timing says nothing about which one nearly matched), and that token must be neither revoked
 * nor expired; (2) if the cluster lists allowed hosts, one entry must admit the agent's reported
 * host name or the address its stream comes from.
 */
final class AdmissionPolicy {
    private AdmissionPolicy() {}

    /** A cluster's admission settings. */
    record Policy(boolean requireJoinToken, List<HostPattern> allowedHosts) {
        Policy {
            allowedHosts = List.copyOf(allowedHosts);
        }
    }

    /** A stored token: its id, hash and lifetime. */
    record StoredToken(String id, byte[] hash, Instant expiresAt, Instant revokedAt) {}

    /** What the agent presents. {@code remote} is null when the transport did not say. */
    record Candidate(String agentId, String presentedToken, String hostname, InetAddress remote) {}

    /** The outcome: admitted (with the token used, if any) or refused with a message for the agent. */
    record Decision(boolean admitted, String tokenId, String refusal) {
        static Decision admit(String tokenId) {
            return new Decision(true, tokenId, null);
        }

        static Decision refuse(String message) {
            return new Decision(false, null, message);
        }
    }

    static Decision decide(String cluster, Policy policy, List<StoredToken> tokens, Candidate candidate, Instant now) {
        String tokenId = null;
        if (policy.requireJoinToken()) {
            String presented = Objects.requireNonNullElse(candidate.presentedToken(), "");
            if (presented.isEmpty()) {
                return Decision.refuse("cluster '" + cluster + "' requires a join token: create one with POST"
                        + " /api/v1/clusters/" + cluster + "/join-tokens and set it in the agent's"
                        + " cloudtask.agent.join-token");
            }
            byte[] hash = hash(presented);
            StoredToken match = null;
            for (StoredToken token : tokens) {
                // No early exit: every comparison runs, whatever matched.
                if (MessageDigest.isEqual(hash, token.hash())) {
                    match = token;
                }
            }
            if (match == null) {
                return Decision.refuse("the join token is not valid for cluster '" + cluster + "': check the agent's"
                        + " cloudtask.agent.join-token, or create a new token for this cluster");
            }
            if (match.revokedAt() != null) {
                return Decision.refuse("the join token (id " + match.id() + ") of cluster '" + cluster
                        + "' was revoked: give the agent a new token");
            }
            if (match.expiresAt() != null && !now.isBefore(match.expiresAt())) {
                return Decision.refuse("the join token (id " + match.id() + ") of cluster '" + cluster
                        + "' expired at " + match.expiresAt() + ": give the agent a new token");
            }
            tokenId = match.id();
        }
        if (!policy.allowedHosts().isEmpty()) {
            boolean allowed = policy.allowedHosts().stream()
                    .anyMatch(pattern -> pattern.admits(candidate.hostname(), candidate.remote()));
            if (!allowed) {
                return Decision.refuse("host '" + candidate.hostname() + "' (address "
                        + (candidate.remote() == null ? "unknown" : candidate.remote().getHostAddress())
                        + ") is not in the allowed hosts of cluster '" + cluster + "' " + policy.allowedHosts()
                        + ": run the agent on an allowed host or add it to the cluster's allowedHosts");
            }
        }
        return Decision.admit(tokenId);
    }

    /** SHA-256 of the token's UTF-8 bytes: what is stored and compared. */
    static byte[] hash(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime provides SHA-256", e);
        }
    }
}
