package io.cloudtask.controlplane.run;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.data.annotation.Query;
import io.micronaut.data.jdbc.annotation.JdbcRepository;
import io.micronaut.data.model.query.builder.sql.Dialect;
import io.micronaut.data.repository.GenericRepository;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

@JdbcRepository(dialect = Dialect.POSTGRES)
interface RunRepository extends GenericRepository<RunRow, UUID> {
    Optional<RunRow> findById(UUID id);

    /**
     * Keyset page of runs matching the filter, newest fire first, strictly after the
     * (fireTime, id) cursor. A null criterion matches everything.
     */
    @Query("SELECT * FROM runs WHERE (fire_time, id) < (:beforeFireTime, :beforeId)"
            + " AND (CAST(:taskId AS UUID) IS NULL OR task_id = :taskId)"
            + " AND (CAST(:cluster AS TEXT) IS NULL OR cluster = :cluster)"
            + " AND (CAST(:agentId AS TEXT) IS NULL OR agent_id = :agentId)"
            + " AND (CAST(:status AS TEXT) IS NULL OR status = :status)"
            + " AND (CAST(:fireFrom AS TIMESTAMPTZ) IS NULL OR fire_time >= :fireFrom)"
            + " AND (CAST(:fireTo AS TIMESTAMPTZ) IS NULL OR fire_time < :fireTo)"
            + " ORDER BY fire_time DESC, id DESC LIMIT :limit")
    List<RunRow> page(@Nullable UUID taskId, @Nullable String cluster, @Nullable String agentId,
            @Nullable String status, @Nullable Instant fireFrom, @Nullable Instant fireTo,
            Instant beforeFireTime, UUID beforeId, int limit);
}
