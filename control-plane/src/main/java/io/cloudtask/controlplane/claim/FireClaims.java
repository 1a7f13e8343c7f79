package io.cloudtask.controlplane.claim;

import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.FireClaim;
import io.cloudtask.schedule.Timestamps;
import io.micronaut.context.annotation.Value;
import io.micronaut.scheduling.annotation.Scheduled;
import io.micronaut.transaction.TransactionOperations;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Strict delivery: grants each fire of a strict task to one agent, once, by inserting a row whose
 * primary key is the fire ({@code fire_claims}). A claim the inserting agent already holds is
 * granted again (its answer may have been lost); any other claim of a held fire is denied, naming
 * the holder. A batch of claims is decided in one transaction. Thread-safe.
 */
@Singleton
public class FireClaims {
    private static final Logger log = LoggerFactory.getLogger(FireClaims.class);
    private static final int DELETE_BATCH = 5000;

    private static final String INSERT = "INSERT INTO fire_claims (task_id, fire_time, scope, agent_id, spec_version,"
            + " claimed_at) SELECT c.task_id, c.fire_time, c.scope, ?, c.spec_version, ?"
            + " FROM unnest(?::uuid[], ?::timestamptz[], ?::text[], ?::bigint[]) AS c(task_id, fire_time, scope, spec_version)"
            + " ON CONFLICT DO NOTHING RETURNING task_id, fire_time, scope";
    private static final String HOLDERS = "SELECT f.task_id, f.fire_time, f.scope, f.agent_id FROM fire_claims f"
            + " JOIN unnest(?::uuid[], ?::timestamptz[], ?::text[]) AS c(task_id, fire_time, scope)"
            + " ON f.task_id = c.task_id AND f.fire_time = c.fire_time AND f.scope = c.scope";
    private static final String LIVE_TASKS = "SELECT id FROM tasks WHERE id = ANY (?) AND cluster = ? AND deleted_at IS NULL";

    private final TransactionOperations<Connection> transactions;
    private final Clock clock;
    private final Duration retention;

    FireClaims(TransactionOperations<Connection> transactions, Clock clock,
            @Value("${cloudtask.claims.retention:30d}") Duration retention) {
        this.transactions = transactions;
        this.clock = clock;
        this.retention = retention;
    }

    /** A fire as the table keys it (PostgreSQL keeps microseconds: so does the key). */
    private record Fire(UUID taskId, Instant fireTime, String scope) {}

    /**
     * Decides a batch of one agent's claims, in one transaction; answers in the claims' order.
     * Malformed claims and claims of tasks that are deleted or not in the agent's cluster are
     * denied with the reason.
     */
    public List<ClaimAnswer> claim(String agentId, String cluster, List<FireClaim> claims) {
        Map<Integer, String> refused = new HashMap<>();
        List<Fire> fires = new ArrayList<>(claims.size());
        for (int i = 0; i < claims.size(); i++) {
            FireClaim claim = claims.get(i);
            Fire fire = null;
            try {
                if (!claim.hasFireTime()) {
                    refused.put(i, "fire_claim.fire_time is missing");
                } else {
                    fire = new Fire(UUID.fromString(claim.getTaskId()),
                            Timestamps.toInstant(claim.getFireTime()).truncatedTo(ChronoUnit.MICROS),
                            claim.getBroadcast() ? agentId : "");
                }
            } catch (IllegalArgumentException e) {
                refused.put(i, "fire_claim.task_id '" + claim.getTaskId() + "' is not a task id");
            }
            fires.add(fire);
        }
        Map<Fire, String> holders = transactions.executeWrite(status -> {
            Connection connection = status.getConnection();
            Set<UUID> live = liveTasks(connection, cluster, fires);
            for (int i = 0; i < fires.size(); i++) {
                Fire fire = fires.get(i);
                if (fire != null && !live.contains(fire.taskId())) {
                    refused.put(i, "task " + fire.taskId() + " is deleted or not in cluster '" + cluster + "'");
                    fires.set(i, null);
                }
            }
            List<Fire> wanted = fires.stream().filter(f -> f != null).distinct().toList();
            Map<Fire, String> held = new HashMap<>();
            if (!wanted.isEmpty()) {
                Map<Fire, Long> versions = new HashMap<>();
                for (int i = 0; i < fires.size(); i++) {
                    if (fires.get(i) != null) {
                        versions.put(fires.get(i), claims.get(i).getSpecVersion());
                    }
                }
                for (Fire granted : insert(connection, agentId, wanted, versions)) {
                    held.put(granted, agentId);
                }
                List<Fire> contested = wanted.stream().filter(f -> !held.containsKey(f)).toList();
                held.putAll(holders(connection, contested));
            }
            return held;
        });
        List<ClaimAnswer> answers = new ArrayList<>(claims.size());
        for (int i = 0; i < claims.size(); i++) {
            ClaimAnswer.Builder answer = ClaimAnswer.newBuilder().setClaimId(claims.get(i).getClaimId());
            String reason = refused.get(i);
            Fire fire = fires.get(i);
            if (reason != null || fire == null) {
                answer.setGranted(false).setReason(reason == null ? "malformed claim" : reason);
            } else {
                String holder = holders.get(fire);
                if (agentId.equals(holder)) {
                    answer.setGranted(true).setHolderAgentId(agentId);
                } else {
                    answer.setGranted(false).setHolderAgentId(holder == null ? "" : holder)
                            .setReason("fire " + fire.fireTime() + " of task " + fire.taskId() + " is claimed by agent "
                                    + holder);
                }
            }
            answers.add(answer.build());
        }
        return answers;
    }

    /** Deletes claims older than the retention, in bounded batches. */
    @Scheduled(fixedDelay = "${cloudtask.claims.retention-interval:1h}", initialDelay = "1m")
    void deleteOld() {
        try {
            OffsetDateTime horizon = utc(clock.instant().minus(retention));
            int deleted;
            long total = 0;
            do {
                deleted = transactions.executeWrite(status -> {
                    try (PreparedStatement delete = status.getConnection().prepareStatement("DELETE FROM fire_claims"
                            + " WHERE ctid IN (SELECT ctid FROM fire_claims WHERE claimed_at < ? LIMIT ?)")) {
                        delete.setObject(1, horizon);
                        delete.setInt(2, DELETE_BATCH);
                        return delete.executeUpdate();
                    }
                });
                total += deleted;
            } while (deleted == DELETE_BATCH);
            if (total > 0) {
                log.info("deleted {} fire claim(s) older than {}", total, retention);
            }
        } catch (RuntimeException e) {
            log.warn("deleting old fire claims failed, retrying at the next interval: {}", e.toString());
        }
    }

    private static Set<UUID> liveTasks(Connection connection, String cluster, List<Fire> fires) throws SQLException {
        Set<UUID> ids = new HashSet<>();
        fires.stream().filter(f -> f != null).forEach(f -> ids.add(f.taskId()));
        Set<UUID> live = new HashSet<>();
        if (ids.isEmpty()) {
            return live;
        }
        try (PreparedStatement select = connection.prepareStatement(LIVE_TASKS)) {
            select.setArray(1, connection.createArrayOf("uuid", ids.toArray()));
            select.setString(2, cluster);
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    live.add(rows.getObject(1, UUID.class));
                }
            }
        }
        return live;
    }

    private List<Fire> insert(Connection connection, String agentId, List<Fire> fires, Map<Fire, Long> versions)
            throws SQLException {
        List<Fire> inserted = new ArrayList<>();
        try (PreparedStatement insert = connection.prepareStatement(INSERT)) {
            insert.setString(1, agentId);
            insert.setObject(2, utc(clock.instant()));
            insert.setArray(3, connection.createArrayOf("uuid", fires.stream().map(Fire::taskId).toArray()));
            insert.setArray(4, connection.createArrayOf("timestamptz", fires.stream().map(f -> utc(f.fireTime()).toString())
                    .toArray()));
            insert.setArray(5, connection.createArrayOf("text", fires.stream().map(Fire::scope).toArray()));
            insert.setArray(6, connection.createArrayOf("int8", fires.stream().map(versions::get).toArray()));
            try (ResultSet rows = insert.executeQuery()) {
                while (rows.next()) {
                    inserted.add(fire(rows));
                }
            }
        }
        return inserted;
    }

    private static Map<Fire, String> holders(Connection connection, List<Fire> fires) throws SQLException {
        Map<Fire, String> holders = new HashMap<>();
        if (fires.isEmpty()) {
            return holders;
        }
        try (PreparedStatement select = connection.prepareStatement(HOLDERS)) {
            select.setArray(1, connection.createArrayOf("uuid", fires.stream().map(Fire::taskId).toArray()));
            select.setArray(2, connection.createArrayOf("timestamptz", fires.stream().map(f -> utc(f.fireTime()).toString())
                    .toArray()));
            select.setArray(3, connection.createArrayOf("text", fires.stream().map(Fire::scope).toArray()));
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    holders.put(fire(rows), rows.getString(4));
                }
            }
        }
        return holders;
    }

    private static Fire fire(ResultSet row) throws SQLException {
        return new Fire(row.getObject(1, UUID.class), row.getObject(2, OffsetDateTime.class).toInstant(), row.getString(3));
    }

    private static OffsetDateTime utc(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }
}
