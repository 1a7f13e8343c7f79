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
    private static final String INSERT_CHUNK = "INSERT INTO run_output_chunks (run_id, sequence, stream, data)"
            + " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING";
    private static final String ADD_STORED = "UPDATE runs SET output_stored_bytes = output_stored_bytes + ?"
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

    void store(Connection connection, List<OutputChunk> chunks) throws SQLException {
        if (chunks.isEmpty()) {
            return;
        }
        Map<UUID, long[]> cutRanges = cutRanges(connection, chunks);
        Map<UUID, Long> insertedBytes = new LinkedHashMap<>();
        try (PreparedStatement insert = connection.prepareStatement(INSERT_CHUNK)) {
            for (OutputChunk chunk : chunks) {
                UUID runId = UUID.fromString(chunk.getRunId());
                long[] cut = cutRanges.get(runId);
                if (cut != null && chunk.getSequence() >= cut[0] && chunk.getSequence() <= cut[1]) {
                    continue;
                }
                insert.setObject(1, runId);
                insert.setLong(2, chunk.getSequence());
                insert.setShort(3, (short) (chunk.getStream() == OutputStream.OUTPUT_STREAM_STDERR ? 2 : 1));
                insert.setBytes(4, chunk.getData().toByteArray());
                // One statement per chunk so the update count says whether this chunk is new:
                // a replayed chunk must not count twice towards the cap.
                if (insert.executeUpdate() > 0) {
                    insertedBytes.merge(runId, (long) chunk.getData().size(), Long::sum);
                }
            }
        }
        for (Map.Entry<UUID, Long> entry : insertedBytes.entrySet()) {
            long stored = addStored(connection, entry.getKey(), entry.getValue());
            // Cut only once well over the cap, so a steady stream cuts in batches, not per chunk.
            if (stored > capBytes() + capBytes() / 8) {
                cutMiddle(connection, entry.getKey());
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

    private static long addStored(Connection connection, UUID runId, long bytes) throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(ADD_STORED)) {
            update.setLong(1, bytes);
            update.setObject(2, runId);
            try (ResultSet rows = update.executeQuery()) {
                // No row: chunks arrived before their run_started; the finish will account for them.
                return rows.next() ? rows.getLong(1) : 0;
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
