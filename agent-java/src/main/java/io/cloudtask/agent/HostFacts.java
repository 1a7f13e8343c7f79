package io.cloudtask.agent;

import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.schedule.Timestamps;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Facts about the host the agent reports in its {@link AgentInfo}. Stateless and thread-safe. */
public final class HostFacts {
    /** The protocol version this agent speaks. */
    public static final int PROTOCOL_VERSION = 1;

    private static final Logger log = LoggerFactory.getLogger(HostFacts.class);

    private HostFacts() {}

    /** Builds the agent's AgentInfo; looks up host name and interface addresses. */
    public static AgentInfo agentInfo(AgentConfig config, Instant startedAt) {
        return AgentInfo.newBuilder()
                .setAgentId(config.agentId())
                .setCluster(config.cluster())
                .setHostname(hostname())
                .addAllAddresses(addresses())
                .setOs(os(System.getProperty("os.name", "")))
                .setArch(System.getProperty("os.arch", ""))
                .putAllLabels(config.labels())
                .setCapacity(config.capacity())
                .setAgentVersion(version())
                .setProtocolVersion(PROTOCOL_VERSION)
                .setStartedAt(Timestamps.of(startedAt))
                .build();
    }

    /** The host name, falling back to the environment when the resolver cannot tell. */
    public static String hostname() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            String fromEnv = System.getenv("HOSTNAME");
            if (fromEnv == null) {
                fromEnv = System.getenv("COMPUTERNAME");
            }
            log.warn("cannot resolve the local host name ({}); using '{}'", e.getMessage(), fromEnv);
            return fromEnv == null ? "localhost" : fromEnv;
        }
    }

    /** "linux", "windows", "mac" or the JVM's os.name lower-cased. */
    static String os(String osName) {
        String lower = osName.toLowerCase(Locale.ROOT);
        if (lower.startsWith("windows")) {
            return "windows";
        }
        if (lower.startsWith("mac")) {
            return "mac";
        }
        return lower.replace(' ', '-');
    }

    static String version() {
        String version = HostFacts.class.getPackage().getImplementationVersion();
        return version == null ? "dev" : version;
    }

    private static List<String> addresses() {
        List<String> result = new ArrayList<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nic.isUp() || nic.isLoopback()) {
                    continue;
                }
                for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                    if (!address.isLinkLocalAddress()) {
                        result.add(address.getHostAddress());
                    }
                }
            }
        } catch (SocketException e) {
            log.warn("cannot list network interfaces ({}); reporting no addresses", e.getMessage());
        }
        return result;
    }
}
