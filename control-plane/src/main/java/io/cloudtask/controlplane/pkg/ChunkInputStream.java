package io.cloudtask.controlplane.pkg;

import java.io.IOException;
import java.io.InputStream;

/**
 * A stored blob as a stream that loads one 1 MiB chunk at a time, when the reader gets to it, so a
 * download never holds a whole package in memory. Not thread-safe (one reader).
 */
final class ChunkInputStream extends InputStream {
    private final PackageStore store;
    private final String sha256;
    private final long size;
    private long position;
    private byte[] chunk = new byte[0];
    private int chunkOffset;

    ChunkInputStream(PackageStore store, String sha256, long size) {
        this.store = store;
        this.sha256 = sha256;
        this.size = size;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] target, int offset, int length) throws IOException {
        if (length == 0) {
            return 0;
        }
        if (position >= size) {
            return -1;
        }
        if (chunkOffset == chunk.length) {
            int seq = Math.toIntExact(position / PackageStore.CHUNK_BYTES);
            try {
                chunk = store.chunk(sha256, seq).orElseThrow(() -> new IOException("package " + sha256
                        + " lost chunk " + seq + " while being read (deleted by version retention)"));
            } catch (RuntimeException e) {
                throw new IOException("cannot read chunk " + seq + " of package " + sha256, e);
            }
            if (chunk.length == 0) {
                throw new IOException("package " + sha256 + " has an empty chunk " + seq + "; the stored blob is damaged");
            }
            chunkOffset = 0;
        }
        int n = Math.min(length, chunk.length - chunkOffset);
        System.arraycopy(chunk, chunkOffset, target, offset, n);
        chunkOffset += n;
        position += n;
        return n;
    }

    @Override
    public int available() {
        return chunk.length - chunkOffset;
    }
}
