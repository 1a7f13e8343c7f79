package io.cloudtask.agent.pkg;

import io.cloudtask.proto.v1.PackageFormat;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.Enumeration;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipFile;

/**
 * Unpacks a package archive (zip or tar.gz) into an empty directory, refusing anything that could
 * reach outside it: absolute paths, Windows drive or UNC paths, {@code ..} segments that climb out,
 * writes through links, and links (symbolic or hard) whose target resolves outside. Device files and
 * FIFOs are refused too. Unix permission bits are kept (so {@code ./run.sh} stays executable) for tar
 * entries and for zip entries that carry a Unix mode; the owner can always read and write. The total
 * unpacked size and the number of entries are bounded (a small archive cannot fill the disk).
 *
 * <p>On failure the directory may hold part of the archive: the caller unpacks into a temporary
 * directory and deletes it (see {@link PackageCache}). Stateless and thread-safe.
 */
public final class SafeUnpacker {
    /** Entries per archive; beyond it the archive is refused. */
    static final int MAX_ENTRIES = 200_000;
    /** Links followed while resolving one link, as the operating system's limit (40 on Linux). */
    private static final int MAX_LINK_HOPS = 40;

    private static final Pattern WINDOWS_DRIVE = Pattern.compile("^[A-Za-z]:.*");
    private static final int DEFAULT_FILE_MODE = 0644;
    private static final int DEFAULT_DIRECTORY_MODE = 0755;
    private static final int OWNER_READ_WRITE = 0600;
    private static final int OWNER_ALL = 0700;

    private SafeUnpacker() {}

    /**
     * @param archive  the archive file
     * @param target   an existing empty directory
     * @param maxBytes the most bytes all files together may hold once unpacked
     * @throws UnsafeArchiveException when the archive is refused: which entry, and why
     * @throws IOException when it cannot be read or written (a corrupt archive included)
     */
    public static void unpack(Path archive, PackageFormat format, Path target, long maxBytes) throws IOException {
        Extraction extraction = new Extraction(target.toRealPath(), maxBytes);
        switch (format) {
            case PACKAGE_FORMAT_ZIP -> unpackZip(archive, extraction);
            case PACKAGE_FORMAT_TAR_GZ -> unpackTarGz(archive, extraction);
            default -> throw new UnsafeArchiveException("package format " + format + " is not one this agent unpacks"
                    + " (zip or tar.gz)");
        }
        extraction.verifyLinks();
    }

    private static void unpackTarGz(Path archive, Extraction extraction) throws IOException {
        try (InputStream file = new BufferedInputStream(Files.newInputStream(archive));
                TarArchiveInputStream tar = new TarArchiveInputStream(new GZIPInputStream(file))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                extraction.count(entry.getName());
                if (entry.isDirectory()) {
                    extraction.directory(entry.getName(), entry.getMode());
                } else if (entry.isSymbolicLink()) {
                    extraction.symbolicLink(entry.getName(), entry.getLinkName());
                } else if (entry.isLink()) {
                    extraction.hardLink(entry.getName(), entry.getLinkName(), entry.getMode());
                } else if (entry.isFile() && !entry.isFIFO() && !entry.isCharacterDevice() && !entry.isBlockDevice()
                        && !entry.isSparse()) {
                    extraction.file(entry.getName(), tar, entry.getMode());
                } else {
                    throw new UnsafeArchiveException("entry '" + entry.getName() + "' is a special entry (a device,"
                            + " FIFO or sparse file); packages may hold only files, directories and links");
                }
            }
        }
    }

    private static void unpackZip(Path archive, Extraction extraction) throws IOException {
        try (ZipFile zip = ZipFile.builder().setPath(archive).get()) {
            Enumeration<ZipArchiveEntry> entries = zip.getEntriesInPhysicalOrder();
            while (entries.hasMoreElements()) {
                ZipArchiveEntry entry = entries.nextElement();
                extraction.count(entry.getName());
                // Zip files made on Unix carry the mode; others have none, and get the defaults.
                int mode = entry.getUnixMode() & 07777;
                if (entry.isUnixSymlink()) {
                    extraction.symbolicLink(entry.getName(), zip.getUnixSymlink(entry));
                } else if (entry.isDirectory()) {
                    extraction.directory(entry.getName(), mode == 0 ? DEFAULT_DIRECTORY_MODE : mode);
                } else {
                    try (InputStream content = zip.getInputStream(entry)) {
                        extraction.file(entry.getName(), content, mode == 0 ? DEFAULT_FILE_MODE : mode);
                    }
                }
            }
        }
    }

    /** One unpacking: where, how much so far, and the links to check at the end. Not thread-safe. */
    private static final class Extraction {
        private final Path root;
        private final long maxBytes;
        private final List<Path> links = new ArrayList<>();
        private final byte[] buffer = new byte[64 * 1024];
        private long bytes;
        private int entries;

        Extraction(Path root, long maxBytes) {
            this.root = root;
            this.maxBytes = maxBytes;
        }

        void count(String name) throws UnsafeArchiveException {
            if (++entries > MAX_ENTRIES) {
                throw new UnsafeArchiveException("entry '" + name + "': the archive has more than " + MAX_ENTRIES
                        + " entries");
            }
        }

        void directory(String name, int mode) throws IOException {
            String relative = relativePath(name);
            if (relative.isEmpty()) {
                return;
            }
            Path dir = ensureDirectory(name, relative);
            setMode(dir, mode | OWNER_ALL);
        }

        void file(String name, InputStream content, int mode) throws IOException {
            Path file = prepareFile(name);
            try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                int read;
                while ((read = content.read(buffer)) != -1) {
                    bytes += read;
                    if (bytes > maxBytes) {
                        throw new UnsafeArchiveException("entry '" + name + "': the unpacked package would exceed "
                                + maxBytes + " bytes (cloudtask.agent.packages.max-unpacked-size)");
                    }
                    out.write(buffer, 0, read);
                }
            }
            setMode(file, mode | OWNER_READ_WRITE);
        }

        void hardLink(String name, String targetName, int mode) throws IOException {
            Path source = root.resolve(relativePath(targetName));
            if (!Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
                throw new UnsafeArchiveException("entry '" + name + "' is a hard link to '" + targetName
                        + "', which is not a file unpacked before it");
            }
            // A copy, not a link: some file systems have no hard links, and a copy cannot alias anything.
            try (InputStream content = Files.newInputStream(source, LinkOption.NOFOLLOW_LINKS)) {
                file(name, content, mode);
            }
        }

        void symbolicLink(String name, String target) throws IOException {
            String relative = relativePath(name);
            if (relative.isEmpty()) {
                throw new UnsafeArchiveException("entry '" + name + "' is a link in place of the package directory");
            }
            if (target == null || target.isEmpty()) {
                throw new UnsafeArchiveException("entry '" + name + "' is a link with no target");
            }
            String normalized = target.replace('\\', '/');
            if (normalized.startsWith("/") || WINDOWS_DRIVE.matcher(normalized).matches()) {
                throw new UnsafeArchiveException("entry '" + name + "' is a link to the absolute path '" + target
                        + "'; links must stay inside the package");
            }
            Path link = root.resolve(relative);
            Path parent = ensureDirectory(name, parentOf(relative));
            // Lexically first: the final check after unpacking follows links through links.
            Path resolved = parent.resolve(normalized).normalize();
            if (!resolved.startsWith(root)) {
                throw new UnsafeArchiveException("entry '" + name + "' is a link to '" + target
                        + "', which points outside the package directory");
            }
            if (Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
                throw new UnsafeArchiveException("entry '" + name + "' is a link that would replace an earlier entry");
            }
            try {
                Files.createSymbolicLink(link, link.getFileSystem().getPath(normalized));
            } catch (UnsupportedOperationException | FileSystemException e) {
                throw new UnsafeArchiveException("entry '" + name + "' is a symbolic link, which this host cannot"
                        + " create: " + e.getMessage());
            }
            links.add(link);
        }

        /** Every link, followed through any links it passes, must end inside the package. */
        void verifyLinks() throws IOException {
            for (Path link : links) {
                Path resolved = resolveFully(link);
                if (!resolved.startsWith(root)) {
                    throw new UnsafeArchiveException("entry '" + root.relativize(link) + "' is a link that,"
                            + " through other links, points outside the package directory");
                }
            }
        }

        /**
         * Where the link leads, resolved one component at a time from its real parent directory and
         * following every link on the way, as the operating system would (a lexical normalisation
         * would miss "m/../x" when "m" is itself a link).
         */
        private Path resolveFully(Path link) throws IOException {
            Path current = link.getParent().toRealPath();
            Deque<String> pending = new ArrayDeque<>();
            pushFront(pending, Files.readSymbolicLink(link));
            int hops = 0;
            while (!pending.isEmpty()) {
                String component = pending.pop();
                if (component.isEmpty() || component.equals(".")) {
                    continue;
                }
                if (component.equals("..")) {
                    current = current.getParent() == null ? current : current.getParent();
                    continue;
                }
                Path next = current.resolve(component);
                if (Files.isSymbolicLink(next)) {
                    if (++hops > MAX_LINK_HOPS) {
                        throw new UnsafeArchiveException("entry '" + root.relativize(link) + "' is a link that"
                                + " loops through other links");
                    }
                    Path target = Files.readSymbolicLink(next);
                    if (target.isAbsolute()) {
                        current = target.getRoot();
                    }
                    pushFront(pending, target);
                } else {
                    current = next;
                }
            }
            return current;
        }

        private static void pushFront(Deque<String> pending, Path target) {
            List<String> components = new ArrayList<>();
            for (Path component : target) {
                components.add(component.toString());
            }
            for (int i = components.size() - 1; i >= 0; i--) {
                pending.push(components.get(i));
            }
        }

        private Path prepareFile(String name) throws IOException {
            String relative = relativePath(name);
            if (relative.isEmpty()) {
                throw new UnsafeArchiveException("entry '" + name + "' is a file in place of the package directory");
            }
            ensureDirectory(name, parentOf(relative));
            Path file = root.resolve(relative);
            if (Files.isSymbolicLink(file)) {
                throw new UnsafeArchiveException("entry '" + name + "' would write through a link");
            }
            if (Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new UnsafeArchiveException("entry '" + name + "' is a file in place of a directory");
            }
            // A tar may hold a file twice (appended updates): the later copy wins.
            Files.deleteIfExists(file);
            return file;
        }

        /**
         * Creates the directory one component at a time, so no component that is a link leading
         * outside is ever followed to create something there.
         */
        private Path ensureDirectory(String name, String relative) throws IOException {
            Path dir = root;
            if (relative.isEmpty()) {
                return dir;
            }
            for (String segment : relative.split("/")) {
                dir = dir.resolve(segment);
                if (Files.isSymbolicLink(dir)) {
                    if (!Files.isDirectory(dir) || !dir.toRealPath().startsWith(root)) {
                        throw new UnsafeArchiveException("entry '" + name + "' goes through the link '"
                                + root.relativize(dir) + "', which does not lead to a directory inside the package");
                    }
                    dir = dir.toRealPath();
                } else if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                } else if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                    throw new UnsafeArchiveException("entry '" + name + "' needs '" + root.relativize(dir)
                            + "' to be a directory, but the archive made it a file");
                } else {
                    Files.createDirectory(dir);
                    setMode(dir, DEFAULT_DIRECTORY_MODE);
                }
            }
            return dir;
        }

        /**
         * The entry's path relative to the package directory, with '/' separators ("" for the
         * directory itself), or a refusal naming the entry.
         */
        private String relativePath(String name) throws UnsafeArchiveException {
            if (name == null || name.isEmpty()) {
                throw new UnsafeArchiveException("an entry has an empty name");
            }
            // Archives made on Windows may use backslashes; read them as separators, so "..\\x" is caught.
            String normalized = name.replace('\\', '/');
            if (normalized.startsWith("/")) {
                throw new UnsafeArchiveException("entry '" + name + "' has an absolute path; package entries must be"
                        + " relative to the package directory");
            }
            if (WINDOWS_DRIVE.matcher(normalized).matches()) {
                throw new UnsafeArchiveException("entry '" + name + "' has a Windows drive path; package entries must"
                        + " be relative to the package directory");
            }
            Deque<String> segments = new ArrayDeque<>();
            for (String segment : normalized.split("/")) {
                if (segment.isEmpty() || segment.equals(".")) {
                    continue;
                }
                if (segment.equals("..")) {
                    if (segments.isEmpty()) {
                        throw new UnsafeArchiveException("entry '" + name + "' climbs out of the package directory"
                                + " with '..'");
                    }
                    segments.removeLast();
                } else {
                    if (segment.indexOf('\0') >= 0) {
                        throw new UnsafeArchiveException("entry '" + name + "' has a NUL character in its name");
                    }
                    segments.addLast(segment);
                }
            }
            String relative = String.join("/", segments);
            try {
                root.resolve(relative);
            } catch (InvalidPathException e) {
                throw new UnsafeArchiveException("entry '" + name + "' is not a valid path on this host: " + e.getReason());
            }
            return relative;
        }

        private static String parentOf(String relative) {
            int slash = relative.lastIndexOf('/');
            return slash < 0 ? "" : relative.substring(0, slash);
        }

        private static void setMode(Path path, int mode) throws IOException {
            PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (view != null) {
                view.setPermissions(permissions(mode));
            }
        }

        private static Set<PosixFilePermission> permissions(int mode) {
            Set<PosixFilePermission> permissions = EnumSet.noneOf(PosixFilePermission.class);
            PosixFilePermission[] bits = {
                PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
                PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
                PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
            for (int i = 0; i < bits.length; i++) {
                if ((mode & (1 << i)) != 0) {
                    permissions.add(bits[i]);
                }
            }
            return permissions;
        }
    }
}
