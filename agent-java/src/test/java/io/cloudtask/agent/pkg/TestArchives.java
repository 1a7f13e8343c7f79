package io.cloudtask.agent.pkg;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipArchiveOutputStream;

/** Builds tar.gz and zip archives entry by entry, including the hostile entries unpacking must refuse. */
public final class TestArchives {
    private record Entry(String name, byte[] content, int mode, byte type, String linkTarget) {}

    private final List<Entry> entries = new ArrayList<>();

    public static TestArchives archive() {
        return new TestArchives();
    }

    public TestArchives file(String name, String content, int mode) {
        return file(name, content.getBytes(StandardCharsets.UTF_8), mode);
    }

    public TestArchives file(String name, byte[] content, int mode) {
        entries.add(new Entry(name, content, mode, TarConstants.LF_NORMAL, null));
        return this;
    }

    public TestArchives directory(String name) {
        entries.add(new Entry(name.endsWith("/") ? name : name + "/", new byte[0], 0755, TarConstants.LF_DIR, null));
        return this;
    }

    public TestArchives symlink(String name, String target) {
        entries.add(new Entry(name, new byte[0], 0777, TarConstants.LF_SYMLINK, target));
        return this;
    }

    public TestArchives hardLink(String name, String target) {
        entries.add(new Entry(name, new byte[0], 0644, TarConstants.LF_LINK, target));
        return this;
    }

    public TestArchives fifo(String name) {
        entries.add(new Entry(name, new byte[0], 0644, TarConstants.LF_FIFO, null));
        return this;
    }

    /** A gzip-compressed tar; names are kept exactly (absolute ones included). */
    public byte[] tarGz() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(bytes))) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Entry entry : entries) {
                TarArchiveEntry tarEntry = new TarArchiveEntry(entry.name(), entry.type(), true);
                tarEntry.setMode(entry.mode());
                if (entry.linkTarget() != null) {
                    tarEntry.setLinkName(entry.linkTarget());
                }
                if (entry.type() == TarConstants.LF_NORMAL) {
                    tarEntry.setSize(entry.content().length);
                }
                tar.putArchiveEntry(tarEntry);
                if (entry.type() == TarConstants.LF_NORMAL) {
                    tar.write(entry.content());
                }
                tar.closeArchiveEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** A zip with Unix modes (as zip tools on Unix write them); links become Unix symlink entries. */
    public byte[] zip() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipArchiveOutputStream zip = new ZipArchiveOutputStream(bytes)) {
            for (Entry entry : entries) {
                ZipArchiveEntry zipEntry = new ZipArchiveEntry(entry.name());
                byte[] content = entry.content();
                if (entry.type() == TarConstants.LF_SYMLINK) {
                    zipEntry.setUnixMode(0120777);
                    content = entry.linkTarget().getBytes(StandardCharsets.UTF_8);
                } else if (entry.type() == TarConstants.LF_DIR) {
                    zipEntry.setUnixMode(040000 | entry.mode());
                } else {
                    zipEntry.setUnixMode(0100000 | entry.mode());
                }
                zip.putArchiveEntry(zipEntry);
                zip.write(content);
                zip.closeArchiveEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** A zip as java.util.zip writes it: no Unix modes at all. */
    public byte[] plainZip() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (java.util.zip.ZipOutputStream zip = new java.util.zip.ZipOutputStream(bytes)) {
            for (Entry entry : entries) {
                zip.putNextEntry(new java.util.zip.ZipEntry(entry.name()));
                zip.write(entry.content());
                zip.closeEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    public static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
