package io.cloudtask.agent.membership;

import java.util.List;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ZKConfig;

/**
 * The ZooKeeper client configuration the agent connects with.
 *
 * <p>ZooKeeper 3.9's own {@link ZKClientConfig} creates a {@code ClientX509Util} only to copy the
 * {@code zookeeper.ssl.*} system properties, and the static initialiser of that class calls
 * {@code SSLContext.getDefault()}: the JVM's default TLS context, every certificate of the default
 * trust store parsed and kept, for a client that talks plaintext. On an idle agent that was about
 * 7 MiB of resident memory and 0.2 s of start-up (docs/BENCHMARKS.md, "Agent memory and
 * start-up"). Without ZooKeeper TLS settings among the system properties, the configuration
 * here copies the same system properties as ZooKeeper's but never touches {@code ClientX509Util};
 * with any of them, it is ZooKeeper's own, so TLS to ZooKeeper behaves exactly as documented by
 * ZooKeeper.
 *
 * <p>Thread-safe: a configuration is built once, before the Curator client starts.
 */
public final class ZkClientConfigs {
    /**
     * ZooKeeper's TLS settings all start with this; one of them, {@code zookeeper.client.secure=true}
     * or {@code zookeeper.fips-mode} means TLS to ZooKeeper is configured.
     */
    private static final String TLS_PREFIX = "zookeeper.ssl.";
    private static final String FIPS_MODE = "zookeeper.fips-mode";

    private ZkClientConfigs() {}

    /** A configuration from the current system properties, as {@code new ZKClientConfig()} would read them. */
    public static ZKClientConfig fromSystemProperties() {
        return tlsConfigured() ? new ZKClientConfig() : new Plaintext();
    }

    private static boolean tlsConfigured() {
        return Boolean.getBoolean(ZKClientConfig.SECURE_CLIENT) || System.getProperty(FIPS_MODE) != null
                || System.getProperties().stringPropertyNames().stream().anyMatch(key -> key.startsWith(TLS_PREFIX));
    }

    /**
     * ZooKeeper's client configuration minus the copy of the TLS keys. Those keys are all unset
     * when this class is used, and ZooKeeper would store them as null values, which read the same
     * as absent ones.
     */
    private static final class Plaintext extends ZKClientConfig {
        /** What {@link ZKConfig} and {@link ZKClientConfig} copy from the system properties in 3.9, TLS keys aside. */
        private static final List<String> COPIED = List.of(
                ZKConfig.JUTE_MAXBUFFER,
                ZKConfig.KINIT_COMMAND,
                ZKConfig.JGSS_NATIVE,
                ZKClientConfig.ZK_SASL_CLIENT_USERNAME,
                ZKClientConfig.ZK_SASL_CLIENT_CANONICALIZE_HOSTNAME,
                ZKClientConfig.LOGIN_CONTEXT_NAME_KEY,
                ZKClientConfig.ENABLE_CLIENT_SASL_KEY,
                ZKClientConfig.ZOOKEEPER_SERVER_REALM,
                ZKClientConfig.DISABLE_AUTO_WATCH_RESET,
                ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET,
                ZKClientConfig.SECURE_CLIENT);

        // Called from ZKConfig's constructor: uses no field of this class.
        @Override
        protected void handleBackwardCompatibility() {
            for (String key : COPIED) {
                setProperty(key, System.getProperty(key));
            }
        }
    }
}
