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
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Stores output chunks and keeps each run's stored output under the cap: the first half of the
 * cap (the head) and the last half (the tail) are kept, the middle is cut, and the cut is
 * recorded (bytes and the sequence range) so readers can show a marker and replayed chunks of
 * the cut range are not stored again. Runs within the caller's transaction, which also keeps each
 * run's {@code output_stored_bytes} (see {@link RunIngestion}). Thread-safe.
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

    /**
     * Stores the chunks that are new and outside their run's cut range; returns the bytes stored
     * per run. A replayed chunk is not stored again and not returned, so it never counts twice
     * towards the cap. The caller adds the bytes to the runs' rows: as it creates them
     * ({@link #cutOverCap}), or to rows already stored ({@link #addStored}).
     */
    Map<UUID, Long> insert(Connection connection, List<OutputChunk> chunks) throws SQLException {
        if (chunks.isEmpty()) {
            return Map.of();
        }
        int size = chunks.size();
        UUID[] chunkRuns = new UUID[size];
        for (int i = 0; i < size; i++) {
            chunkRuns[i] = UUID.fromString(chunks.get(i).getRunId());
        }
        Map<UUID, long[]> cutRanges = cutRanges(connection, chunkRuns);
        List<UUID> runIds = new ArrayList<>(size);
        List<Long> sequences = new ArrayList<>(size);
        List<Short> streams = new ArrayList<>(size);
        List<byte[]> data = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            OutputChunk chunk = chunks.get(i);
            long[] cut = cutRanges.get(chunkRuns[i]);
            if (cut != null && chunk.getSequence() >= cut[0] && chunk.getSequence() <= cut[1]) {
                continue;
            }
            runIds.add(chunkRuns[i]);
            sequences.add(chunk.getSequence());
            streams.add((short) (chunk.getStream() == OutputStream.OUTPUT_STREAM_STDERR ? 2 : 1));
            data.add(chunk.getData().toByteArray());
        }
        if (runIds.isEmpty()) {
            return Map.of();
        }
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
        return insertedBytes;
    }

    /**
     * Adds newly stored output to runs already stored, and cuts the runs that are now well over
     * the cap. Chunks whose run has no row (its run_started was lost) stay stored but uncounted.
     */
    void addStored(Connection connection, Map<UUID, Long> addedBytes) throws SQLException {
        if (addedBytes.isEmpty()) {
            return;
        }
        Map<UUID, Long> storedBytes = new LinkedHashMap<>();
        try (PreparedStatement update = connection.prepareStatement(ADD_STORED)) {
            update.setArray(1, connection.createArrayOf("uuid", addedBytes.keySet().toArray()));
            update.setArray(2, connection.createArrayOf("bigint", addedBytes.values().toArray()));
            try (ResultSet rows = update.executeQuery()) {
                while (rows.next()) {
                    storedBytes.put(rows.getObject(1, UUID.class), rows.getLong(2));
                }
            }
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

    private Map<UUID, long[]> cutRanges(Connection connection, UUID[] chunkRuns) throws SQLException {
        Map<UUID, long[]> ranges = new HashMap<>();
        // The partial index runs_output_cut (V12) holds only the runs that have a cut, so this
        // costs next to nothing for the runs that have none, whatever the planner's statistics.
        try (PreparedStatement select = connection.prepareStatement(CUT_RANGES)) {
            select.setArray(1, connection.createArrayOf("uuid", Arrays.stream(chunkRuns).distinct().toArray()));
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
