package io.cloudtask.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A child JVM (ZooKeeper, a control plane, an agent) with its output in a log file under
 * {@code target/it-logs}. {@link #close()} stops it gracefully, then forcibly. Not thread-safe.
 */
final class ManagedProcess implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ManagedProcess.class);

    private final String name;
    private final Process process;
    private final Path logFile;

    private ManagedProcess(String name, Process process, Path logFile) {
        this.name = name;
        this.process = process;
        this.logFile = logFile;
    }

    static ManagedProcess startJava(String name, List<String> javaArgs, Map<String, String> environment) {
        List<String> command = new java.util.ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(javaArgs);
        return start(name, command, environment);
    }

    /**
     * Starts an agent the way operators do, through {@code agent-java/bin/cloudtask-agent} (and so
     * with the JVM options the product ships), on the JDK running the tests.
     */
    static ManagedProcess startAgentScript(String name, Path agentJar, Map<String, String> environment) {
        Path script = agentJar.toAbsolutePath().getParent().getParent().resolve("bin").resolve("cloudtask-agent");
        Map<String, String> env = new java.util.HashMap<>(environment);
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.put("CLOUDTASK_AGENT_JAR", agentJar.toAbsolutePath().toString());
        return start(name, List.of(script.toString()), env);
    }

    private static ManagedProcess start(String name, List<String> command, Map<String, String> environment) {
        Path logDir = Path.of(System.getProperty("cloudtask.it.logDir", "target/it-logs"));
        try {
            Files.createDirectories(logDir);
            Path logFile = logDir.resolve(name + ".log");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(logFile.toFile());
            builder.environment().putAll(environment);
            Process process = builder.start();
            log.info("started {} (pid {}), log {}", name, process.pid(), logFile);
            return new ManagedProcess(name, process, logFile);
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + name, e);
        }
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** The last lines of the process's log, for failure messages. */
    String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    /** Sends a signal by name, for example STOP or CONT. */
    void signal(String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
        }
    }

    /** kill -9: no shutdown hooks, no goodbye to peers. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                log.warn("{} did not stop within 15 s; killing it", name);
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
