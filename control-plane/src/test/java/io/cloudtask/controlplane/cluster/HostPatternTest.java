package io.cloudtask.controlplane.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class HostPatternTest {
    private static InetAddress address(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }

    @Test
    void aGlobMatchesWithinOneLabelWithoutRegardToCase() {
        HostPattern pattern = HostPattern.parse("build-*.example.com");
        assertThat(pattern.admits("build-01.example.com", null)).isTrue();
        assertThat(pattern.admits("BUILD-x.Example.COM", null)).isTrue();
        assertThat(pattern.admits("build-01.eu.example.com", null)).isFalse();
        assertThat(pattern.admits("web-01.example.com", null)).isFalse();
        assertThat(pattern.admits("", null)).isFalse();
    }

    @Test
    void aCidrBlockMatchesTheRemoteAddressNotTheHostName() throws Exception {
        HostPattern block = HostPattern.parse("10.1.0.0/16");
        assertThat(block.admits("10.1.2.3", address("10.1.200.7"))).isTrue();
        assertThat(block.admits("anything", address("10.2.0.1"))).isFalse();
        assertThat(block.admits("10.1.2.3", null)).isFalse();
        assertThat(block.admits("x", address("::1"))).isFalse();
        assertThat(HostPattern.parse("fd00::/8").admits("x", address("fd12::5"))).isTrue();
        assertThat(HostPattern.parse("127.0.0.1").admits("x", address("127.0.0.1"))).isTrue();
        assertThat(HostPattern.parse("0.0.0.0/0").admits("x", address("192.0.2.1"))).isTrue();
    }

    @Test
    void rejectsMalformedEntriesSayingWhatIsExpected() {
        assertThatThrownBy(() -> HostPattern.parse("10.0.0.0/33")).hasMessageContaining("from 0 to 32");
        assertThatThrownBy(() -> HostPattern.parse("10.0.0/8")).hasMessageContaining("not an IPv4 or IPv6 address");
        assertThatThrownBy(() -> HostPattern.parse("build_*.example.com")).hasMessageContaining("host name glob");
        assertThatThrownBy(() -> HostPattern.parse("a..b")).hasMessageContaining("host name glob");
        assertThatThrownBy(() -> HostPattern.parse(" ")).hasMessageContaining("must not be empty");
    }
}
