package io.cloudtask.controlplane.run;

import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.OutputStream;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.convert.format.ReadableBytes;
import jakarta.inject.Singleton;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Stores output chunks and keeps each run's stored output under the cap: the first half of the
 * cap (the head) and the last half (the tail) are kept, the middle is cut, and the cut is
 * recorded (bytes and the sequence range) so readers can show a marker and replayed chunks of
 * the cut range are not kept (nor counted) again. Runs within the caller's transaction, which also keeps each
 * run's {@code output_stored_bytes} (see {@link RunIngestion}). Thread-safe.
 */
@Singleton
class OutputCap {
    /** One statement for a whole batch; RETURNING tells which chunks are new (not replays). */
    private static final String INSERT_CHUNKS = "INSERT INTO run_output_chunks (run_id, sequence, stream, data)"
            + " SELECT * FROM unnest(?::uuid[], ?::bigint[], ?::smallint[], ?::bytea[])"
            + " ON CONFLICT DO NOTHING RETURNING run_id, sequence, octet_length(data)";
    /** Also returns the run's cut range, so replayed chunks of the cut can be taken out again. */
    private static final String ADD_STORED = "UPDATE runs SET output_stored_bytes = output_stored_bytes + added.bytes"
            + " FROM unnest(?::uuid[], ?::bigint[]) AS added(id, bytes) WHERE runs.id = added.id"
            + " RETURNING runs.id, runs.output_stored_bytes, runs.output_cut_from_sequence, runs.output_cut_to_sequence";
    private static final String REMOVE_REPLAYED_CUT = "DELETE FROM run_output_chunks WHERE run_id = ?"
            + " AND sequence BETWEEN ? AND ? RETURNING octet_length(data)";
    private static final String SUBTRACT_STORED = "UPDATE runs SET output_stored_bytes = output_stored_bytes - ?"
            + " WHERE id = ? RETURNING output_stored_bytes";
    /**
     * Deletes the chunks lying wholly between the head and the tail, and returns what it removed.
     * Chunk offsets come from a running sum in sequence order.
     */
    private static final String CUT_MIDDLE = "WITH sized AS ("
            + " SELECT sequence, octet_length(data) AS length,"
            + " SUM(octet_length(data)) OVER (ORDER BY sequence) AS end_offset"
            + " FROM run_output_chunks WHERE run_id = ?),"
            + " total AS (SELECT COALESCE(MAX(end_offset), 0) AS bytes FROM sized),"
            + " doomed AS (SELECT sequence, length FROM sized, total"
            + " WHERE end_offset - length >= ? AND end_offset <= total.bytes - ?)"
            + " DELETE FROM run_output_chunks chunk USING doomed"
            + " WHERE chunk.run_id = ? AND chunk.sequence = doomed.sequence"
            + " RETURNING doomed.sequence, doomed.length";
    private static final String RECORD_CUT = "UPDATE runs SET output_stored_bytes = output_stored_bytes - ?,"
            + " output_cut_bytes = output_cut_bytes + ?,"
            + " output_cut_from_sequence = LEAST(COALESCE(output_cut_from_sequence, ?), ?),"
            + " output_cut_to_sequence = GREATEST(COALESCE(output_cut_to_sequence, ?), ?) WHERE id = ?";

    private final long headBytes;
    private final long tailBytes;

    OutputCap(@Value("${cloudtask.runs.output-cap:16MB}") @ReadableBytes long capBytes) {
        if (capBytes < 2) {
            throw new IllegalArgumentException("cloudtask.runs.output-cap must be at least 2 bytes, not " + capBytes);
        }
        this.headBytes = capBytes / 2;
        this.tailBytes = capBytes - headBytes;
    }

    long capBytes() {
        return headBytes + tailBytes;
    }

    /** The chunks a batch stored: per run, the bytes and the lowest sequence among them. */
    record NewOutput(Map<UUID, Long> bytes, Map<UUID, Long> lowestSequence) {
        static final NewOutput NONE = new NewOutput(Map.of(), Map.of());
    }

    /**
     * Stores the chunks that are new; returns what it stored per run. A replayed chunk is not
     * stored again and not returned, so it never counts twice towards the cap. The caller adds the
     * bytes to the runs' rows: as it creates them (a new run has no cut, see {@link #cutOverCap}),
     * or to rows already stored ({@link #addStored}, which takes out replays of a cut range).
     */
    NewOutput insert(Connection connection, List<OutputChunk> chunks) throws SQLException {
        if (chunks.isEmpty()) {
            return NewOutput.NONE;
        }
        int size = chunks.size();
        Object[] runIds = new Object[size];
        Long[] sequences = new Long[size];
        Short[] streams = new Short[size];
        byte[][] data = new byte[size][];
        for (int i = 0; i < size; i++) {
            OutputChunk chunk = chunks.get(i);
            runIds[i] = UUID.fromString(chunk.getRunId());
            sequences[i] = chunk.getSequence();
            streams[i] = (short) (chunk.getStream() == OutputStream.OUTPUT_STREAM_STDERR ? 2 : 1);
            data[i] = chunk.getData().toByteArray();
        }
        Map<UUID, Long> bytes = new LinkedHashMap<>();
        Map<UUID, Long> lowestSequence = new HashMap<>();
        try (PreparedStatement insert = connection.prepareStatement(INSERT_CHUNKS)) {
            insert.setArray(1, connection.createArrayOf("uuid", runIds));
            insert.setArray(2, connection.createArrayOf("bigint", sequences));
            insert.setArray(3, connection.createArrayOf("smallint", streams));
            insert.setArray(4, connection.createArrayOf("bytea", data));
            try (ResultSet rows = insert.executeQuery()) {
                while (rows.next()) {
                    UUID runId = rows.getObject(1, UUID.class);
                    lowestSequence.merge(runId, rows.getLong(2), Math::min);
                    bytes.merge(runId, rows.getLong(3), Long::sum);
                }
            }
        }
        return new NewOutput(bytes, lowestSequence);
    }

    /**
     * Adds newly stored output to the runs already stored that {@code runIds} names, and cuts the
     * runs that are now well over the cap. Chunks whose run has no row (its run_started was lost)
     * stay stored but uncounted. A new chunk inside a run's cut range is a replay of output the
     * cap already removed: it is deleted again and not counted.
     */
    void addStored(Connection connection, NewOutput output, Set<UUID> runIds) throws SQLException {
        if (runIds.isEmpty()) {
            return;
        }
        Object[] ids = runIds.toArray();
        Long[] added = new Long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            added[i] = output.bytes().get(ids[i]);
        }
        Map<UUID, Long> storedBytes = new LinkedHashMap<>();
        Map<UUID, long[]> replayedCuts = new HashMap<>();
        try (PreparedStatement update = connection.prepareStatement(ADD_STORED)) {
            update.setArray(1, connection.createArrayOf("uuid", ids));
            update.setArray(2, connection.createArrayOf("bigint", added));
            try (ResultSet rows = update.executeQuery()) {
                while (rows.next()) {
                    UUID runId = rows.getObject(1, UUID.class);
                    storedBytes.put(runId, rows.getLong(2));
                    long cutTo = rows.getLong(4);
                    if (!rows.wasNull() && output.lowestSequence().get(runId) <= cutTo) {
                        replayedCuts.put(runId, new long[] {rows.getLong(3), cutTo});
                    }
                }
            }
        }
        for (Map.Entry<UUID, long[]> cut : replayedCuts.entrySet()) {
            storedBytes.put(cut.getKey(), removeReplayedCut(connection, cut.getKey(), cut.getValue()));
        }
        cutOverCap(connection, storedBytes);
    }

    /** Cuts the middle of each run whose stored output (run id → bytes, as just written) is well over the cap. */
    void cutOverCap(Connection connection, Map<UUID, Long> storedBytes) throws SQLException {
        for (Map.Entry<UUID, Long> run : storedBytes.entrySet()) {
            // Cut only once well over the cap, so a steady stream cuts in batches.
            if (run.getValue() > capBytes() + capBytes() / 8) {
                cutMiddle(connection, run.getKey());
            }
        }
    }

    /**
     * Deletes the chunks of the cut range (only replays, inserted by this batch: the cut emptied
     * it) and takes their bytes off the run's stored output; returns the run's stored bytes.
     */
    private static long removeReplayedCut(Connection connection, UUID runId, long[] range) throws SQLException {
        long removed = 0;
        try (PreparedStatement delete = connection.prepareStatement(REMOVE_REPLAYED_CUT)) {
            delete.setObject(1, runId);
            delete.setLong(2, range[0]);
            delete.setLong(3, range[1]);
            try (ResultSet rows = delete.executeQuery()) {
                while (rows.next()) {
                    removed += rows.getLong(1);
                }
            }
        }
        try (PreparedStatement update = connection.prepareStatement(SUBTRACT_STORED)) {
            update.setLong(1, removed);
            update.setObject(2, runId);
            try (ResultSet rows = update.executeQuery()) {
                rows.next();
                return rows.getLong(1);
            }
        }
    }

    private void cutMiddle(Connection connection, UUID runId) throws SQLException {
        long removedBytes = 0;
        long fromSequence = Long.MAX_VALUE;
        long toSequence = Long.MIN_VALUE;
        try (PreparedStatement cut = connection.prepareStatement(CUT_MIDDLE)) {
            cut.setObject(1, runId);
            cut.setLong(2, headBytes);
            cut.setLong(3, tailBytes);
            cut.setObject(4, runId);
            try (ResultSet rows = cut.executeQuery()) {
                while (rows.next()) {
                    fromSequence = Math.min(fromSequence, rows.getLong(1));
                    toSequence = Math.max(toSequence, rows.getLong(1));
                    removedBytes += rows.getLong(2);
                }
            }
        }
        if (removedBytes == 0) {
            return;
        }
        try (PreparedStatement record = connection.prepareStatement(RECORD_CUT)) {
            record.setLong(1, removedBytes);
            record.setLong(2, removedBytes);
            record.setLong(3, fromSequence);
            record.setLong(4, fromSequence);
            record.setLong(5, toSequence);
            record.setLong(6, toSequence);
            record.setObject(7, runId);
            record.executeUpdate();
        }
    }
}
