package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.data.annotation.Query;
import io.micronaut.data.jdbc.annotation.JdbcRepository;
import io.micronaut.data.model.query.builder.sql.Dialect;
import io.micronaut.data.repository.CrudRepository;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

@JdbcRepository(dialect = Dialect.POSTGRES)
interface TaskRepository extends CrudRepository<TaskRow, UUID> {
    Optional<TaskRow> findByIdAndDeletedAtIsNull(UUID id);

    @Query("SELECT * FROM tasks WHERE id = :id AND deleted_at IS NULL FOR UPDATE")
    Optional<TaskRow> lockLive(UUID id);

    List<TaskRow> findByIdInListAndDeletedAtIsNull(Collection<UUID> ids);

    boolean existsByClusterAndNameAndDeletedAtIsNull(String cluster, String name);

    /** A page of live tasks ordered by id, starting after {@code after}. */
    @Query("SELECT * FROM tasks WHERE deleted_at IS NULL AND (CAST(:cluster AS TEXT) IS NULL OR cluster = :cluster)"
            + " AND id > :after ORDER BY id LIMIT :limit")
    List<TaskRow> page(@Nullable String cluster, UUID after, int limit);
}
