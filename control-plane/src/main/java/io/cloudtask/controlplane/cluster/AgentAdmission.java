package io.cloudtask.controlplane.cluster;

import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.controlplane.api.ErrorKind;
import io.cloudtask.proto.v1.AgentInfo;
import jakarta.inject.Singleton;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits or refuses an agent saying hello: loads the cluster's policy and tokens, asks the pure
 * {@link AdmissionPolicy}, records the token's last use. Thread-safe; called on gateway session
 * threads.
 */
@Singleton
public class AgentAdmission {
    private static final Logger log = LoggerFactory.getLogger(AgentAdmission.class);

    private final ClusterService clusters;
    private final JoinTokenStore tokens;
    private final Clock clock;

    AgentAdmission(ClusterService clusters, JoinTokenStore tokens, Clock clock) {
        this.clusters = clusters;
        this.tokens = tokens;
        this.clock = clock;
    }

    /**
     * Returns if the agent may join {@code cluster}; otherwise throws a PERMISSION_DENIED
     * {@link ApiException} saying what to do. The token never reaches a log line.
     *
     * @param remote the address the agent's stream comes from, or null if unknown
     */
    public void admit(String agentId, String cluster, String joinToken, AgentInfo info, InetAddress remote) {
        ClusterRow row = clusters.require(cluster);
        List<HostPattern> allowed = row.allowedHostList().stream().map(HostPattern::parse).toList();
        AdmissionPolicy.Policy policy = new AdmissionPolicy.Policy(row.requireJoinToken(), allowed);
        List<AdmissionPolicy.StoredToken> stored = row.requireJoinToken() ? tokens.tokensOf(cluster) : List.of();
        Instant now = clock.instant();
        AdmissionPolicy.Decision decision = AdmissionPolicy.decide(cluster, policy, stored,
                new AdmissionPolicy.Candidate(agentId, joinToken, info.getHostname(), remote), now);
        if (!decision.admitted()) {
            log.warn("refused agent {} (host '{}', address {}) in cluster {}: {}", agentId, info.getHostname(),
                    remote == null ? "unknown" : remote.getHostAddress(), cluster, decision.refusal());
            throw new ApiException(ErrorKind.PERMISSION_DENIED, null, decision.refusal());
        }
        if (decision.tokenId() != null) {
            tokens.markUsed(decision.tokenId(), now);
        }
    }
}
