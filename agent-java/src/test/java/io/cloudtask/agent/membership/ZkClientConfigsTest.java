package io.cloudtask.agent.membership;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ZKConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ZkClientConfigsTest {
    /** Every key ZooKeeper 3.9's client configuration copies from the system properties, TLS keys aside. */
    private static final List<String> PLAINTEXT_KEYS = List.of("jute.maxbuffer", "zookeeper.kinit",
            "sun.security.jgss.native", "zookeeper.sasl.client.username", "zookeeper.sasl.client.canonicalize.hostname",
            "zookeeper.sasl.clientconfig", "zookeeper.sasl.client", "zookeeper.server.realm",
            "zookeeper.disableAutoWatchReset", "zookeeper.clientCnxnSocket", "zookeeper.request.timeout",
            "zookeeper.server.principal");

    private final Map<String, String> saved = new HashMap<>();

    @AfterEach
    void restoreSystemProperties() {
        saved.forEach((key, value) -> {
            if (value == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, value);
            }
        });
    }

    private void set(String key, String value) {
        saved.putIfAbsent(key, System.getProperty(key));
        System.setProperty(key, value);
    }

    @Test
    void holdsTheSameSettingsAsZooKeepersOwnConfigWithoutTls() throws Exception {
        for (String key : PLAINTEXT_KEYS) {
            set(key, "value of " + key);
        }

        ZKClientConfig config = ZkClientConfigs.fromSystemProperties();

        assertThat(config.getClass()).isNotEqualTo(ZKClientConfig.class);
        // All of them, so a ZooKeeper upgrade that copies one more property fails here.
        assertThat(settings(config)).isEqualTo(settings(new ZKClientConfig())).containsKeys(PLAINTEXT_KEYS.toArray(String[]::new));
    }

    @Test
    void isZooKeepersOwnConfigWhenAZooKeeperTlsSettingIsPresent() {
        set("zookeeper.ssl.trustStore.location", "/etc/zk/truststore.p12");

        ZKClientConfig config = ZkClientConfigs.fromSystemProperties();

        assertThat(config.getClass()).isEqualTo(ZKClientConfig.class);
        assertThat(config.getProperty("zookeeper.ssl.trustStore.location")).isEqualTo("/etc/zk/truststore.p12");
    }

    @Test
    void isZooKeepersOwnConfigForASecureClient() {
        set(ZKClientConfig.SECURE_CLIENT, "true");

        assertThat(ZkClientConfigs.fromSystemProperties().getClass()).isEqualTo(ZKClientConfig.class);
    }

    /** The configuration's non-null entries (ZooKeeper stores unset system properties as nulls). */
    private static Map<String, String> settings(ZKConfig config) throws ReflectiveOperationException {
        Field field = ZKConfig.class.getDeclaredField("properties");
        field.setAccessible(true);
        Map<String, String> result = new HashMap<>();
        ((Map<?, ?>) field.get(config)).forEach((key, value) -> {
            if (value != null) {
                result.put((String) key, Objects.toString(value));
            }
        });
        return result;
    }
}
