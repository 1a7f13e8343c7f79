package io.cloudtask.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdmissionPolicyTest {
    private static final Instant NOW = Instant.parse("2026-06-01T12:00:00Z");
    private static final AdmissionPolicy.Policy TOKEN_REQUIRED = new AdmissionPolicy.Policy(true, List.of());

    private static AdmissionPolicy.StoredToken token(String id, String secret, Instant expiresAt, Instant revokedAt) {
        return new AdmissionPolicy.StoredToken(id, AdmissionPolicy.hash(secret), expiresAt, revokedAt);
    }

    private static AdmissionPolicy.Decision decide(AdmissionPolicy.Policy policy, List<AdmissionPolicy.StoredToken> tokens,
            String presented, String hostname, String remote) throws Exception {
        return AdmissionPolicy.decide("batch", policy, tokens, new AdmissionPolicy.Candidate("agent-1", presented,
                hostname, remote == null ? null : InetAddress.getByName(remote)), NOW);
    }

    @Test
    void admitsALiveMatchingTokenAndNamesIt() throws Exception {
        List<AdmissionPolicy.StoredToken> tokens = List.of(token("t1", "other", null, null),
                token("t2", "secret", NOW.plusSeconds(60), null));
        AdmissionPolicy.Decision decision = decide(TOKEN_REQUIRED, tokens, "secret", "h", null);
        assertThat(decision.admitted()).isTrue();
        assertThat(decision.tokenId()).isEqualTo("t2");
    }

    @Test
    void refusesAMissingUnknownRevokedOrExpiredTokenSayingWhatToDo() throws Exception {
        List<AdmissionPolicy.StoredToken> tokens = List.of(token("revoked", "r", null, NOW.minusSeconds(1)),
                token("expired", "e", NOW, null));
        assertThat(decide(TOKEN_REQUIRED, tokens, "", "h", null).refusal()).contains("requires a join token");
        assertThat(decide(TOKEN_REQUIRED, tokens, "guess", "h", null).refusal()).contains("not valid for cluster 'batch'");
        assertThat(decide(TOKEN_REQUIRED, tokens, "r", "h", null).refusal()).contains("was revoked");
        assertThat(decide(TOKEN_REQUIRED, tokens, "e", "h", null).refusal()).contains("expired at " + NOW);
    }

    @Test
    void anOpenClusterAdmitsWithoutATokenAndIgnoresOne() throws Exception {
        AdmissionPolicy.Policy open = new AdmissionPolicy.Policy(false, List.of());
        assertThat(decide(open, List.of(), "", "h", null).admitted()).isTrue();
        assertThat(decide(open, List.of(), "whatever", "h", null).tokenId()).isNull();
    }

    @Test
    void allowedHostsAdmitByHostNameOrRemoteAddress() throws Exception {
        AdmissionPolicy.Policy hosts = new AdmissionPolicy.Policy(false,
                List.of(HostPattern.parse("build-*.example.com"), HostPattern.parse("10.0.0.0/8")));
        assertThat(decide(hosts, List.of(), "", "build-7.example.com", "192.0.2.1").admitted()).isTrue();
        assertThat(decide(hosts, List.of(), "", "laptop", "10.9.8.7").admitted()).isTrue();
        AdmissionPolicy.Decision refused = decide(hosts, List.of(), "", "laptop", "192.0.2.1");
        assertThat(refused.admitted()).isFalse();
        assertThat(refused.refusal()).contains("host 'laptop' (address 192.0.2.1) is not in the allowed hosts");
    }

    @Test
    void aGoodTokenFromAHostNotAllowedIsStillRefused() throws Exception {
        AdmissionPolicy.Policy both = new AdmissionPolicy.Policy(true, List.of(HostPattern.parse("10.0.0.0/8")));
        AdmissionPolicy.Decision decision = decide(both, List.of(token("t", "s", null, null)), "s", "h", "127.0.0.1");
        assertThat(decision.admitted()).isFalse();
        assertThat(decision.refusal()).contains("allowed hosts");
    }
}
