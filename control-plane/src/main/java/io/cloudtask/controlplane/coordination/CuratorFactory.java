package io.cloudtask.controlplane.coordination;

import io.micronaut.context.annotation.Bean;
import io.micronaut.context.annotation.Factory;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import java.time.Duration;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

/** The control plane's one ZooKeeper client; closed last, after every recipe that uses it. */
@Factory
class CuratorFactory {
    @Singleton
    @Bean(preDestroy = "close")
    CuratorFramework curator(
            @Value("${cloudtask.zookeeper.connect-string}") String connectString,
            @Value("${cloudtask.zookeeper.session-timeout:6s}") Duration sessionTimeout,
            @Value("${cloudtask.zookeeper.connection-timeout:5s}") Duration connectionTimeout) {
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(connectString)
                .sessionTimeoutMs((int) sessionTimeout.toMillis())
                .connectionTimeoutMs((int) connectionTimeout.toMillis())
                .retryPolicy(new ExponentialBackoffRetry(100, 10, 5_000))
                .build();
        // Starting only opens the connection in the background; it does not block start-up.
        client.start();
        return client;
    }
}
