package io.cloudtask.agent.outbox;

import io.cloudtask.proto.v1.AgentMessage;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32C;

/**
 * The spool's on-disk format (see docs/agent.md, "Spool"). All integers are big-endian.
 *
 * <pre>
 * segment    := header record*
 * header     := magic "CTSP" (int32) | version 1 (int32)
 * record     := length (int32, bytes of body) | crc32c (int32, of body) | body
 * body       := journal sequence (int64) | kind (int8: 1 started, 2 chunk, 3 finished) | AgentMessage bytes
 * checkpoint := magic "CTCK" (int32) | version 1 (int32) | acknowledged sequence (int64) | crc32c (int32, of the 16 bytes before)
 * </pre>
 *
 * <p>The sequence and kind sit before the message so that seeking and the drop policy can read a
 * record's identity without parsing it. Stateless helpers; {@link Reader} is not thread-safe (one
 * is used by one thread at a time, under the outbox's lock).
 */
final class SpoolFormat {
    static final int SEGMENT_MAGIC = 0x43545350; // "CTSP"
    static final int CHECKPOINT_MAGIC = 0x4354434B; // "CTCK"
    static final int VERSION = 1;
    static final int SEGMENT_HEADER_BYTES = 8;
    static final int CHECKPOINT_BYTES = 20;
    /** length + crc. */
    static final int RECORD_HEADER_BYTES = 8;
    /** sequence + kind. */
    static final int BODY_PREFIX_BYTES = 9;
    /**
     * Largest body accepted. Output chunks are at most 32 KiB of data, so anything far larger is a
     * corrupt length field, not a record.
     */
    static final int MAX_BODY_BYTES = 4 * 1024 * 1024;

    static final byte KIND_STARTED = 1;
    static final byte KIND_CHUNK = 2;
    static final byte KIND_FINISHED = 3;

    private SpoolFormat() {}

    static byte kindOf(AgentMessage message) {
        return switch (message.getBodyCase()) {
            case RUN_STARTED -> KIND_STARTED;
            case OUTPUT_CHUNK -> KIND_CHUNK;
            case RUN_FINISHED -> KIND_FINISHED;
            default -> throw new IllegalArgumentException("only run events are journaled, not " + message.getBodyCase());
        };
    }

    static String runIdOf(AgentMessage message) {
        return switch (message.getBodyCase()) {
            case RUN_STARTED -> message.getRunStarted().getRunId();
            case OUTPUT_CHUNK -> message.getOutputChunk().getRunId();
            case RUN_FINISHED -> message.getRunFinished().getRunId();
            default -> "";
        };
    }

    static ByteBuffer segmentHeader() {
        return ByteBuffer.allocate(SEGMENT_HEADER_BYTES).putInt(SEGMENT_MAGIC).putInt(VERSION).flip();
    }

    /** One record, ready to write. */
    static ByteBuffer encode(long sequence, byte kind, byte[] message) {
        int bodyLength = BODY_PREFIX_BYTES + message.length;
        if (bodyLength > MAX_BODY_BYTES) {
            throw new IllegalArgumentException("a run event of " + message.length + " bytes exceeds the spool's record limit of "
                    + MAX_BODY_BYTES + " bytes");
        }
        ByteBuffer record = ByteBuffer.allocate(RECORD_HEADER_BYTES + bodyLength);
        record.putInt(bodyLength).putInt(0).putLong(sequence).put(kind).put(message);
        CRC32C crc = new CRC32C();
        crc.update(record.array(), RECORD_HEADER_BYTES, bodyLength);
        record.putInt(4, (int) crc.getValue());
        return record.flip();
    }

    static ByteBuffer encodeCheckpoint(long acknowledged) {
        ByteBuffer buffer = ByteBuffer.allocate(CHECKPOINT_BYTES).putInt(CHECKPOINT_MAGIC).putInt(VERSION).putLong(acknowledged);
        CRC32C crc = new CRC32C();
        crc.update(buffer.array(), 0, 16);
        return buffer.putInt((int) crc.getValue()).flip();
    }

    /** @return the acknowledged sequence, or -1 when the bytes are not a valid checkpoint */
    static long decodeCheckpoint(byte[] bytes) {
        if (bytes.length != CHECKPOINT_BYTES) {
            return -1;
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, 16);
        if (buffer.getInt(0) != CHECKPOINT_MAGIC || buffer.getInt(4) != VERSION || buffer.getInt(16) != (int) crc.getValue()) {
            return -1;
        }
        long acknowledged = buffer.getLong(8);
        return acknowledged < 0 ? -1 : acknowledged;
    }

    /**
     * A record read from a segment.
     *
     * @param offset where the record starts in its segment
     * @param size the record's size on disk (header included)
     * @param message the raw AgentMessage bytes, or null when read without payload
     */
    record Record(long offset, int size, long sequence, byte kind, byte[] message) {
        long end() {
            return offset + size;
        }

        AgentMessage parse() throws IOException {
            return AgentMessage.parseFrom(message);
        }
    }

    /** Why a record could not be read; {@link #offset} is where the damage starts. */
    static final class BadRecordException extends IOException {
        final long offset;

        BadRecordException(long offset, String reason) {
            super(reason + " at offset " + offset);
            this.offset = offset;
        }
    }

    /**
     * Reads records of one segment in order through a read-ahead buffer, using positional reads
     * (the channel's own position is left alone, so the active segment's channel can be shared with
     * the writer).
     */
    static final class Reader {
        private static final int READ_AHEAD = 64 * 1024;

        private final FileChannel channel;
        private final long limit;
        private ByteBuffer buffer;
        /** File offset of buffer[0]; the buffer holds [bufferStart, bufferStart + buffer.limit()). */
        private long bufferStart;
        private long position;

        /**
         * @param limit end of the readable part of the file (its size, or the writer's position)
         */
        Reader(FileChannel channel, long offset, long limit) {
            this(channel, offset, limit, null);
        }

        /**
         * @param scratch a buffer to read into instead of allocating one (the agent's gateway reads
         *     the spool many times a second; one 64 KiB buffer per read was a quarter of all its
         *     allocations); null to allocate. Take it back with {@link #buffer()}: it may have been
         *     replaced by a larger one.
         */
        Reader(FileChannel channel, long offset, long limit, ByteBuffer scratch) {
            this.buffer = scratch != null && scratch.capacity() >= READ_AHEAD
                    ? scratch : ByteBuffer.allocate(READ_AHEAD).order(ByteOrder.BIG_ENDIAN);
            this.channel = channel;
            this.position = offset;
            this.limit = limit;
            this.buffer.limit(0);
            this.bufferStart = offset;
        }

        long position() {
            return position;
        }

        /** The buffer read into, to be passed to the next reader as its scratch buffer. */
        ByteBuffer buffer() {
            return buffer;
        }

        /**
         * @param withMessage whether to read and check the body (CRC) or only the identity
         * @return the next record, or null at the end of the readable part
         * @throws BadRecordException when the bytes at the position are not a whole, valid record
         */
        Record next(boolean withMessage) throws IOException {
            if (position >= limit) {
                return null;
            }
            long start = position;
            if (limit - start < RECORD_HEADER_BYTES + BODY_PREFIX_BYTES) {
                throw new BadRecordException(start, "truncated record header (" + (limit - start) + " bytes left)");
            }
            fill(start, RECORD_HEADER_BYTES + BODY_PREFIX_BYTES);
            int at = (int) (start - bufferStart);
            int bodyLength = buffer.getInt(at);
            int crc = buffer.getInt(at + 4);
            if (bodyLength < BODY_PREFIX_BYTES || bodyLength > MAX_BODY_BYTES) {
                throw new BadRecordException(start, "invalid record length " + bodyLength);
            }
            int size = RECORD_HEADER_BYTES + bodyLength;
            if (limit - start < size) {
                throw new BadRecordException(start, "truncated record (" + size + " bytes announced, "
                        + (limit - start) + " present)");
            }
            long sequence = buffer.getLong(at + RECORD_HEADER_BYTES);
            byte kind = buffer.get(at + RECORD_HEADER_BYTES + 8);
            byte[] message = null;
            if (withMessage) {
                fill(start, size);
                at = (int) (start - bufferStart);
                CRC32C check = new CRC32C();
                check.update(buffer.array(), at + RECORD_HEADER_BYTES, bodyLength);
                if ((int) check.getValue() != crc) {
                    throw new BadRecordException(start, "CRC mismatch");
                }
                if (kind < KIND_STARTED || kind > KIND_FINISHED) {
                    throw new BadRecordException(start, "unknown record kind " + kind);
                }
                message = new byte[bodyLength - BODY_PREFIX_BYTES];
                System.arraycopy(buffer.array(), at + RECORD_HEADER_BYTES + BODY_PREFIX_BYTES, message, 0, message.length);
            }
            position = start + size;
            return new Record(start, size, sequence, kind, message);
        }

        /** Makes [offset, offset + length) available in the buffer. */
        private void fill(long offset, int length) throws IOException {
            if (offset >= bufferStart && offset + length <= bufferStart + buffer.limit()) {
                return;
            }
            int capacity = Math.max(READ_AHEAD, length);
            if (buffer.capacity() < capacity) {
                buffer = ByteBuffer.allocate(capacity);
            }
            buffer.clear();
            int wanted = (int) Math.min(buffer.capacity(), limit - offset);
            buffer.limit(wanted);
            long at = offset;
            while (buffer.hasRemaining()) {
                int n = channel.read(buffer, at);
                if (n < 0) {
                    throw new EOFException("segment ended at " + at + " before its expected length " + limit);
                }
                at += n;
            }
            buffer.flip();
            bufferStart = offset;
        }
    }
}
