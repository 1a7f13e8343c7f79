package io.cloudtask.agent;

import io.cloudtask.protocol.ZkLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The agent's stable id when none is configured: read from {@code {workDir}/agent-id}, or generated
 * once (a hostname-based prefix plus a random suffix) and written there, so that restarts keep
 * the same id and therefore the same allocation. Stateless; not safe against two agents sharing
 * one work directory (they are not supposed to).
 */
public final class AgentIdentity {
    /** The file, inside the work directory, that holds the generated id. */
    public static final String FILE_NAME = "agent-id";

    private static final int PREFIX_MAX = 40;
    private static final SecureRandom RANDOM = new SecureRandom();

    private AgentIdentity() {}

    /** Reads the id kept in {@code workDir}, or generates and keeps a new one. */
    public static String loadOrCreate(Path workDir, String hostname) {
        Path file = workDir.resolve(FILE_NAME);
        try {
            if (Files.exists(file)) {
                String id = Files.readString(file, StandardCharsets.UTF_8).trim();
                if (!ZkLayout.isValidSegment(id)) {
                    throw new ConfigException(file + " holds '" + id + "', which is not a valid agent id (1-63 letters,"
                            + " digits, '.', '_' or '-'): fix or delete the file, or set " + AgentConfig.ID);
                }
                return id;
            }
            String id = generate(hostname);
            Files.createDirectories(workDir);
            // Write-then-rename so a crash never leaves a half-written id behind.
            Path tmp = Files.createTempFile(workDir, FILE_NAME, ".tmp");
            Files.writeString(tmp, id + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            return id;
        } catch (IOException e) {
            throw new ConfigException("cannot read or create the agent id file " + file + ": " + e
                    + " (make " + AgentConfig.WORK_DIR + " writable, or set " + AgentConfig.ID + ")", e);
        }
    }

    /** A new id: the host name reduced to valid characters, a dash and 8 random hex digits. */
    static String generate(String hostname) {
        String prefix = (hostname == null ? "" : hostname).toLowerCase(Locale.ROOT)
                .replaceAll("[^a-z0-9._-]", "-")
                .replaceAll("^[^a-z0-9]+", "");
        if (prefix.length() > PREFIX_MAX) {
            prefix = prefix.substring(0, PREFIX_MAX);
        }
        if (prefix.isEmpty()) {
            prefix = "agent";
        }
        byte[] suffix = new byte[4];
        RANDOM.nextBytes(suffix);
        return prefix + "-" + HexFormat.of().formatHex(suffix);
    }
}
