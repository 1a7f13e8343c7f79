package io.cloudtask.controlplane.command;

import io.cloudtask.controlplane.gateway.AgentGatewayService;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Value;
import io.micronaut.scheduling.annotation.Scheduled;
import jakarta.annotation.PreDestroy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gets commands to the replica that holds the addressed agent's stream, whichever replica stored
 * them: every replica LISTENs on the command channels over a connection of its own. A new-command
 * notification makes the replica holding that agent's stream deliver it; an answer notification
 * wakes requests waiting for that answer, on any replica. A periodic sweep delivers what a lost
 * notification (a dropped LISTEN connection) left PENDING, expires commands past their
 * time-to-live and deletes old ones. Thread-safe.
 */
@Context
public class CommandRelay {
    private static final Logger log = LoggerFactory.getLogger(CommandRelay.class);
    private static final int DELETE_BATCH = 1000;

    private final CommandStore store;
    private final AgentGatewayService gateway;
    private final Clock clock;
    private final String url;
    private final String user;
    private final String password;
    private final Duration retention;
    private final ConcurrentMap<UUID, CompletableFuture<Void>> answerWaiters = new ConcurrentHashMap<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread listener;
    private volatile Connection listenConnection;

    CommandRelay(CommandStore store, AgentGatewayService gateway, Clock clock,
            @Value("${datasources.default.url}") String url,
            @Value("${datasources.default.username:}") String user,
            @Value("${datasources.default.password:}") String password,
            @Value("${cloudtask.commands.retention:7d}") Duration retention) {
        this.store = store;
        this.gateway = gateway;
        this.clock = clock;
        this.url = url;
        this.user = user;
        this.password = password;
        this.retention = retention;
        this.listener = new Thread(this::listen, "command-relay");
        this.listener.setDaemon(true);
        this.listener.start();
    }

    /**
     * A future completed when some replica records an answer to the command. Register before
     * reading the command's state, so an answer in between is not missed; {@link #forget} after.
     */
    CompletableFuture<Void> answerSignal(UUID commandId) {
        return answerWaiters.computeIfAbsent(commandId, id -> new CompletableFuture<>());
    }

    void forget(UUID commandId) {
        answerWaiters.remove(commandId);
    }

    @Scheduled(fixedDelay = "${cloudtask.commands.sweep-interval:1s}", initialDelay = "1s")
    void sweep() {
        try {
            Instant now = clock.instant();
            int expired = store.expireOverdue(now);
            if (expired > 0) {
                log.info("{} command(s) expired without an answer", expired);
            }
            for (String agentId : store.agentsWithPending(gateway.connectedAgents(), now)) {
                gateway.deliverCommands(agentId);
            }
            int deleted;
            do {
                deleted = store.deleteCreatedBefore(now.minus(retention), DELETE_BATCH);
            } while (deleted == DELETE_BATCH);
        } catch (RuntimeException e) {
            log.warn("command sweep failed, retrying at the next interval: {}", e.toString());
        }
    }

    @PreDestroy
    void stop() {
        stopped.countDown();
        Connection connection = listenConnection;
        if (connection != null) {
            try {
                // Unblocks getNotifications; the listen loop then sees that it is stopped.
                connection.close();
            } catch (SQLException e) {
                log.debug("closing the LISTEN connection: {}", e.toString());
            }
        }
        listener.interrupt();
    }

    private void listen() {
        int failures = 0;
        while (stopped.getCount() > 0) {
            try (Connection connection = DriverManager.getConnection(url, user, password)) {
                listenConnection = connection;
                try (Statement statement = connection.createStatement()) {
                    statement.execute("LISTEN " + CommandStore.COMMANDS_CHANNEL);
                    statement.execute("LISTEN " + CommandStore.ANSWERS_CHANNEL);
                }
                if (failures > 0) {
                    log.info("listening for commands again");
                }
                failures = 0;
                // Whatever was notified while nobody listened is found by the sweep.
                PGConnection notifications = connection.unwrap(PGConnection.class);
                while (stopped.getCount() > 0) {
                    PGNotification[] batch = notifications.getNotifications(1000);
                    if (batch != null) {
                        for (PGNotification notification : batch) {
                            dispatch(notification);
                        }
                    }
                }
            } catch (SQLException e) {
                if (stopped.getCount() == 0) {
                    return;
                }
                failures++;
                if (failures == 1 || Integer.bitCount(failures) == 1) {
                    log.warn("cannot listen for commands ({}); the sweep delivers them meanwhile. Retrying", e.getMessage());
                }
            } finally {
                listenConnection = null;
            }
            try {
                if (stopped.await(Math.min(10, failures) * 500L, TimeUnit.MILLISECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void dispatch(PGNotification notification) {
        String payload = notification.getParameter();
        if (CommandStore.COMMANDS_CHANNEL.equals(notification.getName())) {
            gateway.deliverCommands(payload);
        } else if (CommandStore.ANSWERS_CHANNEL.equals(notification.getName())) {
            try {
                CompletableFuture<Void> waiter = answerWaiters.get(UUID.fromString(payload));
                if (waiter != null) {
                    waiter.complete(null);
                }
            } catch (IllegalArgumentException e) {
                log.warn("ignoring an answer notification that names no command: '{}'", payload);
            }
        }
    }
}
