package io.cloudtask.controlplane.testing;

import io.micronaut.test.support.TestPropertyProvider;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;

/**
 * Base of component tests that run the whole control plane: a fresh database on a real
 * PostgreSQL, a real in-process ZooKeeper server (Curator's TestingServer), random loopback
 * ports for HTTP and gRPC. Subclasses add {@code @MicronautTest}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class ControlPlaneTest implements TestPropertyProvider {
    protected TestingServer zookeeper;
    protected TestDatabase.Coordinates database;

    @Override
    public Map<String, String> getProperties() {
        try {
            zookeeper = new TestingServer(true);
        } catch (Exception e) {
            throw new IllegalStateException("could not start ZooKeeper", e);
        }
        database = TestDatabase.create();
        Map<String, String> properties = new HashMap<>();
        properties.put("datasources.default.url", database.url());
        properties.put("datasources.default.username", database.user());
        properties.put("datasources.default.password", database.password());
        properties.put("cloudtask.zookeeper.connect-string", zookeeper.getConnectString());
        properties.putAll(extraProperties());
        return properties;
    }

    protected Map<String, String> extraProperties() {
        return Map.of();
    }

    @AfterAll
    void stopZooKeeper() throws IOException {
        if (zookeeper != null) {
            zookeeper.close();
        }
    }
}
