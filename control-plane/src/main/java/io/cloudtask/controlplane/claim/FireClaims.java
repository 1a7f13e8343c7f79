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
import java.util.List;
import java.util.Map;
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

    /**
     * Decides a batch in one statement (one round trip, then the commit): keep the claims of live
     * tasks of the agent's cluster, insert them, and report per claim whether its task is live and
     * who holds its fire. A fire inserted by a concurrent transaction after this statement began is
     * neither inserted here nor visible: its holder comes back null, and the claim is denied.
     */
    private static final String DECIDE = "WITH c AS (SELECT * FROM unnest(?::int[], ?::uuid[], ?::timestamptz[],"
            + " ?::text[], ?::bigint[]) AS c(idx, task_id, fire_time, scope, spec_version)),"
            + " live AS (SELECT c.* FROM c JOIN tasks t ON t.id = c.task_id AND t.cluster = ? AND t.deleted_at IS NULL),"
            + " ins AS (INSERT INTO fire_claims (task_id, fire_time, scope, agent_id, spec_version, claimed_at)"
            + " SELECT DISTINCT ON (task_id, fire_time, scope) task_id, fire_time, scope, ?, spec_version, ? FROM live"
            + " ON CONFLICT DO NOTHING RETURNING task_id, fire_time, scope, agent_id)"
            + " SELECT c.idx, live.idx IS NOT NULL, COALESCE(ins.agent_id, f.agent_id) FROM c"
            + " LEFT JOIN live ON live.idx = c.idx"
            + " LEFT JOIN ins ON ins.task_id = c.task_id AND ins.fire_time = c.fire_time AND ins.scope = c.scope"
            + " LEFT JOIN fire_claims f ON f.task_id = c.task_id AND f.fire_time = c.fire_time AND f.scope = c.scope";

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
        Map<Integer, String> holders = new HashMap<>();
        List<Integer> wellFormed = new ArrayList<>();
        for (int i = 0; i < fires.size(); i++) {
            if (fires.get(i) != null) {
                wellFormed.add(i);
            }
        }
        if (!wellFormed.isEmpty()) {
            transactions.executeWrite(status -> {
                decide(status.getConnection(), agentId, cluster, claims, fires, wellFormed, refused, holders);
                return null;
            });
        }
        List<ClaimAnswer> answers = new ArrayList<>(claims.size());
        for (int i = 0; i < claims.size(); i++) {
            ClaimAnswer.Builder answer = ClaimAnswer.newBuilder().setClaimId(claims.get(i).getClaimId());
            String reason = refused.get(i);
            Fire fire = fires.get(i);
            if (reason != null || fire == null) {
                answer.setGranted(false).setReason(reason == null ? "malformed claim" : reason);
            } else {
                String holder = holders.get(i);
                if (agentId.equals(holder)) {
                    answer.setGranted(true).setHolderAgentId(agentId);
                } else {
                    answer.setGranted(false).setHolderAgentId(holder == null ? "" : holder)
                            .setReason("fire " + fire.fireTime() + " of task " + fire.taskId() + " is claimed by "
                                    + (holder == null ? "another agent, at this moment" : "agent " + holder));
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

    private void decide(Connection connection, String agentId, String cluster, List<FireClaim> claims, List<Fire> fires,
            List<Integer> indexes, Map<Integer, String> refused, Map<Integer, String> holders) throws SQLException {
        try (PreparedStatement decide = connection.prepareStatement(DECIDE)) {
            decide.setArray(1, connection.createArrayOf("int4", indexes.toArray()));
            decide.setArray(2, connection.createArrayOf("uuid", indexes.stream().map(i -> fires.get(i).taskId()).toArray()));
            decide.setArray(3, connection.createArrayOf("timestamptz", indexes.stream()
                    .map(i -> utc(fires.get(i).fireTime()).toString()).toArray()));
            decide.setArray(4, connection.createArrayOf("text", indexes.stream().map(i -> fires.get(i).scope()).toArray()));
            decide.setArray(5, connection.createArrayOf("int8", indexes.stream()
                    .map(i -> claims.get(i).getSpecVersion()).toArray()));
            decide.setString(6, cluster);
            decide.setString(7, agentId);
            decide.setObject(8, utc(clock.instant()));
            try (ResultSet rows = decide.executeQuery()) {
                while (rows.next()) {
                    int index = rows.getInt(1);
                    if (!rows.getBoolean(2)) {
                        refused.put(index, "task " + fires.get(index).taskId() + " is deleted or not in cluster '"
                                + cluster + "'");
                    } else {
                        holders.put(index, rows.getString(3));
                    }
                }
            }
        }
    }

    private static OffsetDateTime utc(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }
}
