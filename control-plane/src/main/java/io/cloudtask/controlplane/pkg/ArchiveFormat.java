package io.cloudtask.controlplane.pkg;

import io.cloudtask.proto.v1.PackageFormat;
import java.util.Locale;
import java.util.Optional;

/** The archive formats a package may have, told by the file name and confirmed by magic bytes. */
enum ArchiveFormat {
    ZIP("application/zip", new byte[] {'P', 'K', 3, 4}, "PK\\x03\\x04"),
    TAR_GZ("application/gzip", new byte[] {0x1f, (byte) 0x8b}, "\\x1f\\x8b");

    /** Bytes needed to check any format's magic. */
    static final int MAGIC_LENGTH = 4;

    private final String mediaType;
    private final byte[] magic;
    private final String magicText;

    ArchiveFormat(String mediaType, byte[] magic, String magicText) {
        this.mediaType = mediaType;
        this.magic = magic;
        this.magicText = magicText;
    }

    /** The format a file name promises: {@code .zip}, {@code .tar.gz} or {@code .tgz} (any case). */
    static Optional<ArchiveFormat> ofFileName(String fileName) {
        String lower = fileName.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".zip")) {
            return Optional.of(ZIP);
        }
        if (lower.endsWith(".tar.gz") || lower.endsWith(".tgz")) {
            return Optional.of(TAR_GZ);
        }
        return Optional.empty();
    }

    /** Whether {@code head} (the first bytes of the content, possibly fewer than asked) starts with the magic. */
    boolean matches(byte[] head, int length) {
        if (length < magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if (head[i] != magic[i]) {
                return false;
            }
        }
        return true;
    }

    String mediaType() {
        return mediaType;
    }

    /** The magic as the error messages show it. */
    String magicText() {
        return magicText;
    }

    PackageFormat toProto() {
        return this == ZIP ? PackageFormat.PACKAGE_FORMAT_ZIP : PackageFormat.PACKAGE_FORMAT_TAR_GZ;
    }
}
