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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Stores output chunks and keeps each run's stored output under the cap: the first half of the
 * cap (the head) and the last half (the tail) are kept, the middle is cut, and the cut is
 * recorded (bytes and the sequence range) so readers can show a marker and replayed chunks of
 * the cut range are not stored again. Runs within the caller's transaction. Thread-safe.
 */
@Singleton
class OutputCap {
    private static final String CUT_RANGES = "SELECT id, output_cut_from_sequence, output_cut_to_sequence FROM runs"
            + " WHERE id = ANY(?) AND output_cut_from_sequence IS NOT NULL";
    /** One statement for a whole batch; RETURNING tells which chunks are new (not replays). */
    private static final String INSERT_CHUNKS = "INSERT INTO run_output_chunks (run_id, sequence, stream, data)"
            + " SELECT * FROM unnest(?::uuid[], ?::bigint[], ?::smallint[], ?::bytea[])"
            + " ON CONFLICT DO NOTHING RETURNING run_id, octet_length(data)";
    private static final String ADD_STORED = "UPDATE runs SET output_stored_bytes = output_stored_bytes + added.bytes"
            + " FROM unnest(?::uuid[], ?::bigint[]) AS added(id, bytes) WHERE runs.id = added.id"
            + " RETURNING runs.id, runs.output_stored_bytes";
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

    void store(Connection connection, List<OutputChunk> chunks) throws SQLException {
        if (chunks.isEmpty()) {
            return;
        }
        Map<UUID, long[]> cutRanges = cutRanges(connection, chunks);
        List<UUID> runIds = new ArrayList<>(chunks.size());
        List<Long> sequences = new ArrayList<>(chunks.size());
        List<Short> streams = new ArrayList<>(chunks.size());
        List<byte[]> data = new ArrayList<>(chunks.size());
        for (OutputChunk chunk : chunks) {
            UUID runId = UUID.fromString(chunk.getRunId());
            long[] cut = cutRanges.get(runId);
            if (cut != null && chunk.getSequence() >= cut[0] && chunk.getSequence() <= cut[1]) {
                continue;
            }
            runIds.add(runId);
            sequences.add(chunk.getSequence());
            streams.add((short) (chunk.getStream() == OutputStream.OUTPUT_STREAM_STDERR ? 2 : 1));
            data.add(chunk.getData().toByteArray());
        }
        if (runIds.isEmpty()) {
            return;
        }
        // A replayed chunk is not returned, so it never counts twice towards the cap.
        Map<UUID, Long> insertedBytes = new LinkedHashMap<>();
        try (PreparedStatement insert = connection.prepareStatement(INSERT_CHUNKS)) {
            insert.setArray(1, connection.createArrayOf("uuid", runIds.toArray()));
            insert.setArray(2, connection.createArrayOf("bigint", sequences.toArray()));
            insert.setArray(3, connection.createArrayOf("smallint", streams.toArray()));
            insert.setArray(4, connection.createArrayOf("bytea", data.toArray(new byte[0][])));
            try (ResultSet rows = insert.executeQuery()) {
                while (rows.next()) {
                    insertedBytes.merge(rows.getObject(1, UUID.class), rows.getLong(2), Long::sum);
                }
            }
        }
        if (insertedBytes.isEmpty()) {
            return;
        }
        try (PreparedStatement update = connection.prepareStatement(ADD_STORED)) {
            update.setArray(1, connection.createArrayOf("uuid", insertedBytes.keySet().toArray()));
            update.setArray(2, connection.createArrayOf("bigint", insertedBytes.values().toArray()));
            List<UUID> overCap = new ArrayList<>();
            try (ResultSet rows = update.executeQuery()) {
                // Chunks whose run has no row yet (its run_started was lost) are stored but not
                // counted towards the cap.
                while (rows.next()) {
                    // Cut only once well over the cap, so a steady stream cuts in batches.
                    if (rows.getLong(2) > capBytes() + capBytes() / 8) {
                        overCap.add(rows.getObject(1, UUID.class));
                    }
                }
            }
            for (UUID runId : overCap) {
                cutMiddle(connection, runId);
            }
        }
    }

    private Map<UUID, long[]> cutRanges(Connection connection, List<OutputChunk> chunks) throws SQLException {
        Map<UUID, long[]> ranges = new HashMap<>();
        UUID[] runIds = chunks.stream().map(chunk -> UUID.fromString(chunk.getRunId())).distinct().toArray(UUID[]::new);
        try (PreparedStatement select = connection.prepareStatement(CUT_RANGES)) {
            select.setArray(1, connection.createArrayOf("uuid", runIds));
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    ranges.put(rows.getObject(1, UUID.class), new long[] {rows.getLong(2), rows.getLong(3)});
                }
            }
        }
        return ranges;
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
