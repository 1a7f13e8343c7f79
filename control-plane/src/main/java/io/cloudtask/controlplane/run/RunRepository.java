package io.cloudtask.controlplane.run;

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

    /** Keyset page of a task's runs, newest fire first, strictly after the (fireTime, id) cursor. */
    @Query("SELECT * FROM runs WHERE task_id = :taskId AND (fire_time, id) < (:beforeFireTime, :beforeId)"
            + " ORDER BY fire_time DESC, id DESC LIMIT :limit")
    List<RunRow> pageOfTask(UUID taskId, Instant beforeFireTime, UUID beforeId, int limit);
}
