package io.cloudtask.agent;

import io.cloudtask.protocol.ZkLayout;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's configuration: a properties file overlaid by environment variables (the environment
 * wins). The environment variable of a key is the key upper-cased with '.' and '-' replaced by
 * '_', for example {@code cloudtask.agent.zookeeper.session-timeout} ←
 * {@code CLOUDTASK_AGENT_ZOOKEEPER_SESSION_TIMEOUT}. Immutable.
 *
 * @param agentId stable agent id (configured, or kept in {@code {workDir}/agent-id})
 * @param controlPlane control-plane gRPC addresses ({@code host:port}), tried in rotation
 */
public record AgentConfig(
        String agentId,
        String cluster,
        List<String> controlPlane,
        String zookeeper,
        Duration zookeeperSessionTimeout,
        Duration zookeeperConnectionTimeout,
        Path workDir,
        String joinToken,
        Map<String, String> labels,
        int capacity,
        Duration reconnectInitialBackoff,
        Duration reconnectMaxBackoff,
        long spoolMaxBytes,
        long packageMaxUnpackedBytes) {

    public static final String ID = "cloudtask.agent.id";
    public static final String CLUSTER = "cloudtask.agent.cluster";
    public static final String CONTROL_PLANE = "cloudtask.agent.control-plane";
    public static final String ZOOKEEPER = "cloudtask.agent.zookeeper";
    public static final String ZOOKEEPER_SESSION_TIMEOUT = "cloudtask.agent.zookeeper.session-timeout";
    public static final String ZOOKEEPER_CONNECTION_TIMEOUT = "cloudtask.agent.zookeeper.connection-timeout";
    public static final String WORK_DIR = "cloudtask.agent.work-dir";
    public static final String JOIN_TOKEN = "cloudtask.agent.join-token";
    public static final String LABELS = "cloudtask.agent.labels";
    public static final String CAPACITY = "cloudtask.agent.capacity";
    public static final String RECONNECT_INITIAL_BACKOFF = "cloudtask.agent.reconnect.initial-backoff";
    public static final String RECONNECT_MAX_BACKOFF = "cloudtask.agent.reconnect.max-backoff";
    public static final String SPOOL_MAX_BYTES = "cloudtask.agent.spool.max-bytes";
    public static final String PACKAGES_MAX_UNPACKED_SIZE = "cloudtask.agent.packages.max-unpacked-size";

    /** Every key the agent reads, in documentation order. */
    public static final List<String> KEYS = List.of(ID, CLUSTER, CONTROL_PLANE, ZOOKEEPER,
            ZOOKEEPER_SESSION_TIMEOUT, ZOOKEEPER_CONNECTION_TIMEOUT, WORK_DIR, JOIN_TOKEN, LABELS, CAPACITY,
            RECONNECT_INITIAL_BACKOFF, RECONNECT_MAX_BACKOFF, SPOOL_MAX_BYTES, PACKAGES_MAX_UNPACKED_SIZE);

    /** The smallest spool bound accepted: a few segments' worth, so compaction has room to work. */
    public static final long MIN_SPOOL_MAX_BYTES = 1L << 20;

    /** The smallest bound on a package's unpacked size. */
    public static final long MIN_PACKAGE_MAX_UNPACKED_BYTES = 1L << 20;

    /** Environment variable naming the properties file when {@code --config} is not given. */
    public static final String CONFIG_FILE_ENV = "CLOUDTASK_AGENT_CONFIG";

    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h)");
    private static final Pattern SIZE = Pattern.compile("(\\d{1,13})(KiB|MiB|GiB)?");
    private static final Pattern HOST_PORT = Pattern.compile("(\\[[0-9A-Fa-f:.]+]|[^\\s:\\[\\]]+):(\\d{1,5})");

    public AgentConfig {
        Objects.requireNonNull(agentId, "agentId");
        Objects.requireNonNull(cluster, "cluster");
        controlPlane = List.copyOf(controlPlane);
        Objects.requireNonNull(zookeeper, "zookeeper");
        Objects.requireNonNull(zookeeperSessionTimeout, "zookeeperSessionTimeout");
        Objects.requireNonNull(zookeeperConnectionTimeout, "zookeeperConnectionTimeout");
        Objects.requireNonNull(workDir, "workDir");
        Objects.requireNonNull(joinToken, "joinToken");
        labels = Collections.unmodifiableMap(new LinkedHashMap<>(labels));
        Objects.requireNonNull(reconnectInitialBackoff, "reconnectInitialBackoff");
        Objects.requireNonNull(reconnectMaxBackoff, "reconnectMaxBackoff");
        if (spoolMaxBytes < MIN_SPOOL_MAX_BYTES) {
            throw new IllegalArgumentException("spoolMaxBytes must be at least " + MIN_SPOOL_MAX_BYTES + ", was " + spoolMaxBytes);
        }
        if (packageMaxUnpackedBytes < MIN_PACKAGE_MAX_UNPACKED_BYTES) {
            throw new IllegalArgumentException("packageMaxUnpackedBytes must be at least " + MIN_PACKAGE_MAX_UNPACKED_BYTES
                    + ", was " + packageMaxUnpackedBytes);
        }
    }

    /**
     * Loads the configuration for {@link AgentMain}: the file named by {@code --config <path>} or
     * {@code CLOUDTASK_AGENT_CONFIG} (none is fine), overlaid by {@code env}. May create the
     * work directory and its {@code agent-id} file.
     */
    public static AgentConfig load(String[] args, Map<String, String> env) {
        Properties file = new Properties();
        Path path = configFile(args, env);
        if (path != null) {
            try (Reader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
                file.load(reader);
            } catch (IOException e) {
                throw new ConfigException("cannot read the configuration file " + path + ": " + e.getMessage()
                        + " (given by --config or " + CONFIG_FILE_ENV + ")", e);
            }
        }
        return resolve(file, env, Runtime.getRuntime().availableProcessors());
    }

    /**
     * Builds the configuration from file properties and environment variables (the environment
     * wins) and resolves the agent id, reading or creating {@code {workDir}/agent-id} when no id is
     * configured.
     */
    public static AgentConfig resolve(Properties file, Map<String, String> env, int availableProcessors) {
        Source source = new Source(file, env);
        source.rejectUnknownFileKeys();

        String cluster = source.get(CLUSTER, "default");
        if (!ZkLayout.isValidSegment(cluster)) {
            throw source.invalid(CLUSTER, cluster, "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        List<String> controlPlane = parseAddresses(source, source.get(CONTROL_PLANE, "127.0.0.1:9090"));
        String zookeeper = source.get(ZOOKEEPER, "127.0.0.1:2181").trim();
        if (zookeeper.isEmpty()) {
            throw source.invalid(ZOOKEEPER, zookeeper, "a ZooKeeper connect string such as 'zk1:2181,zk2:2181'");
        }
        Duration sessionTimeout = parseDuration(source, ZOOKEEPER_SESSION_TIMEOUT, source.get(ZOOKEEPER_SESSION_TIMEOUT, "6s"));
        Duration connectionTimeout = parseDuration(source, ZOOKEEPER_CONNECTION_TIMEOUT,
                source.get(ZOOKEEPER_CONNECTION_TIMEOUT, "5s"));
        Path workDir;
        String workDirValue = source.get(WORK_DIR, "./cloudtask-agent");
        try {
            workDir = Path.of(workDirValue).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw source.invalid(WORK_DIR, workDirValue, "a directory path (" + e.getReason() + ")");
        }
        String joinToken = source.get(JOIN_TOKEN, "");
        Map<String, String> labels = parseLabels(source, source.get(LABELS, ""));
        int capacity = parseCapacity(source, source.get(CAPACITY, Integer.toString(4 * availableProcessors)));
        Duration initialBackoff = parseDuration(source, RECONNECT_INITIAL_BACKOFF, source.get(RECONNECT_INITIAL_BACKOFF, "200ms"));
        Duration maxBackoff = parseDuration(source, RECONNECT_MAX_BACKOFF, source.get(RECONNECT_MAX_BACKOFF, "10s"));
        if (maxBackoff.compareTo(initialBackoff) < 0) {
            throw source.invalid(RECONNECT_MAX_BACKOFF, source.get(RECONNECT_MAX_BACKOFF, "10s"),
                    "a duration at least " + RECONNECT_INITIAL_BACKOFF + " (" + initialBackoff.toMillis() + "ms)");
        }
        long spoolMaxBytes = parseSize(source, SPOOL_MAX_BYTES, source.get(SPOOL_MAX_BYTES, "1GiB"), MIN_SPOOL_MAX_BYTES);
        long packageMaxUnpackedBytes = parseSize(source, PACKAGES_MAX_UNPACKED_SIZE,
                source.get(PACKAGES_MAX_UNPACKED_SIZE, "4GiB"), MIN_PACKAGE_MAX_UNPACKED_BYTES);

        String agentId = source.get(ID, null);
        if (agentId == null || agentId.isBlank()) {
            agentId = AgentIdentity.loadOrCreate(workDir, HostFacts.hostname());
        } else if (!ZkLayout.isValidSegment(agentId.trim())) {
            throw source.invalid(ID, agentId, "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        } else {
            agentId = agentId.trim();
        }
        return new AgentConfig(agentId, cluster, controlPlane, zookeeper, sessionTimeout, connectionTimeout, workDir,
                joinToken, labels, capacity, initialBackoff, maxBackoff, spoolMaxBytes, packageMaxUnpackedBytes);
    }

    /** The environment variable that overrides {@code key}. */
    public static String envName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /** Per-task work directory used when a task sets no working directory. */
    public Path taskWorkDir(String taskId) {
        return workDir.resolve("tasks").resolve(taskId);
    }

    /** Where run events wait for the control plane's acknowledgement, across restarts. */
    public Path spoolDir() {
        return workDir.resolve("spool");
    }

    /** Where task packages are fetched to and unpacked, by sha256. */
    public Path packageDir() {
        return workDir.resolve("packages");
    }

    /** Where task specs are cached across restarts. */
    public Path specDir() {
        return workDir.resolve("specs");
    }

    @Override
    public String toString() {
        // The join token is a secret: never let it reach a log line.
        return "AgentConfig[agentId=" + agentId + ", cluster=" + cluster + ", controlPlane=" + controlPlane
                + ", zookeeper=" + zookeeper + ", zookeeperSessionTimeout=" + zookeeperSessionTimeout
                + ", zookeeperConnectionTimeout=" + zookeeperConnectionTimeout + ", workDir=" + workDir
                + ", joinToken=" + (joinToken.isEmpty() ? "" : "****") + ", labels=" + labels
                + ", capacity=" + capacity + ", reconnectInitialBackoff=" + reconnectInitialBackoff
                + ", reconnectMaxBackoff=" + reconnectMaxBackoff + ", spoolMaxBytes=" + spoolMaxBytes
                + ", packageMaxUnpackedBytes=" + packageMaxUnpackedBytes + "]";
    }

    private static Path configFile(String[] args, Map<String, String> env) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config")) {
                if (i + 1 >= args.length || args[i + 1].isBlank()) {
                    throw new ConfigException("--config needs a path: --config /etc/cloudtask/agent.properties");
                }
                return Path.of(args[i + 1]);
            }
            if (args[i].startsWith("--config=")) {
                return Path.of(args[i].substring("--config=".length()));
            }
            throw new ConfigException("unknown argument '" + args[i] + "': the agent accepts only --config <path>");
        }
        String fromEnv = env.get(CONFIG_FILE_ENV);
        return fromEnv == null || fromEnv.isBlank() ? null : Path.of(fromEnv);
    }

    static Duration parseDuration(Source source, String key, String value) {
        Matcher m = DURATION.matcher(value.trim());
        if (!m.matches()) {
            throw source.invalid(key, value, "a positive duration such as 500ms, 6s, 2m or 1h");
        }
        long amount = Long.parseLong(m.group(1));
        Duration duration = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            default -> Duration.ofHours(amount);
        };
        if (duration.isZero()) {
            throw source.invalid(key, value, "a positive duration such as 500ms, 6s, 2m or 1h");
        }
        return duration;
    }

    private static long parseSize(Source source, String key, String value, long minimum) {
        Matcher m = SIZE.matcher(value.trim());
        long bytes = -1;
        if (m.matches()) {
            long amount = Long.parseLong(m.group(1));
            int shift = m.group(2) == null ? 0 : switch (m.group(2)) {
                case "KiB" -> 10;
                case "MiB" -> 20;
                default -> 30;
            };
            bytes = amount > (Long.MAX_VALUE >> shift) ? -1 : amount << shift;
        }
        if (bytes < minimum) {
            throw source.invalid(key, value, "a size of at least " + (minimum >> 20) + "MiB: bytes, or a number with"
                    + " KiB, MiB or GiB, such as 512MiB or 1GiB");
        }
        return bytes;
    }

    private static int parseCapacity(Source source, String value) {
        try {
            int capacity = Integer.parseInt(value.trim());
            if (capacity > 0) {
                return capacity;
            }
        } catch (NumberFormatException e) {
            // Falls through to the uniform message below; the parser's own text adds nothing.
        }
        throw source.invalid(CAPACITY, value, "a positive whole number of concurrent runs, such as 8");
    }

    private static List<String> parseAddresses(Source source, String value) {
        List<String> addresses = new ArrayList<>();
        for (String part : value.split(",")) {
            String address = part.trim();
            Matcher m = HOST_PORT.matcher(address);
            int port = m.matches() ? Integer.parseInt(m.group(2)) : 0;
            if (port < 1 || port > 65535) {
                throw source.invalid(CONTROL_PLANE, value,
                        "a comma-separated list of host:port addresses such as 'cp1:9090,cp2:9090'");
            }
            addresses.add(address);
        }
        return addresses;
    }

    private static Map<String, String> parseLabels(Source source, String value) {
        Map<String, String> labels = new LinkedHashMap<>();
        if (value.isBlank()) {
            return labels;
        }
        for (String part : value.split(",")) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? "" : part.substring(0, eq).trim();
            if (key.isEmpty()) {
                throw source.invalid(LABELS, value, "comma-separated key=value pairs such as 'zone=a,tier=batch'");
            }
            labels.put(key, part.substring(eq + 1).trim());
        }
        return labels;
    }

    /** Where values come from: the environment first, then the file. */
    static final class Source {
        private final Properties file;
        private final Map<String, String> env;

        Source(Properties file, Map<String, String> env) {
            this.file = file;
            this.env = env;
        }

        String get(String key, String defaultValue) {
            String fromEnv = env.get(envName(key));
            if (fromEnv != null) {
                return fromEnv;
            }
            return file.getProperty(key, defaultValue);
        }

        void rejectUnknownFileKeys() {
            for (String key : file.stringPropertyNames()) {
                if (key.startsWith("cloudtask.agent.") && !KEYS.contains(key)) {
                    throw new ConfigException("unknown configuration key '" + key + "' in the configuration file:"
                            + " known keys are " + String.join(", ", KEYS));
                }
            }
        }

        ConfigException invalid(String key, String value, String expected) {
            String origin = env.containsKey(envName(key)) ? "environment variable " + envName(key) : "key " + key;
            return new ConfigException(key + ": '" + value + "' (from " + origin + ") is invalid: expected " + expected);
        }
    }
}
