package io.cloudtask.it;

import java.io.File;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the machine itself allows, without CloudTask, for docs/BENCHMARKS.md's floors. Not a test.
 * Run as a single source file:
 *
 * <pre>
 * java -Djdk.lang.Process.launchMechanism=VFORK integration-tests/src/test/java/io/cloudtask/it/MachineFloor.java spawn 2 5
 * java integration-tests/src/test/java/io/cloudtask/it/MachineFloor.java fsync /var/tmp/floor.bin 2000
 * </pre>
 *
 * <p>{@code spawn THREADS SECONDS [direct]}: processes a JVM starts per second from THREADS
 * threads, each started the way the agent does (stdin from the null device, stdout and stderr
 * piped and read to the end, then waited for): {@code /bin/sh -c true}, or {@code /bin/true}
 * with {@code direct}. {@code fsync FILE COUNT}: latency of writing 8 KiB and forcing it to disk
 * (fdatasync), what a PostgreSQL commit and the agent's spool wait for.
 */
public final class MachineFloor {
    private static final PrintStream OUT = System.out;

    private MachineFloor() {}

    public static void main(String[] args) throws Exception {
        switch (args.length > 0 ? args[0] : "") {
            case "spawn" -> spawn(Integer.parseInt(args[1]), Long.parseLong(args[2]),
                    args.length > 3 && args[3].equals("direct"));
            case "fsync" -> fsync(Path.of(args[1]), Integer.parseInt(args[2]));
            default -> throw new IllegalArgumentException("usage: spawn THREADS SECONDS [direct] | fsync FILE COUNT");
        }
    }

    private static void spawn(int threads, long seconds, boolean direct) throws InterruptedException {
        String[] command = direct ? new String[] {"/bin/true"} : new String[] {"/bin/sh", "-c", "true"};
        AtomicLong started = new AtomicLong();
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            workers[t] = new Thread(() -> {
                byte[] buffer = new byte[32 * 1024];
                try {
                    while (System.nanoTime() < end) {
                        Process process = new ProcessBuilder(command)
                                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
                        drain(process.getInputStream(), buffer);
                        drain(process.getErrorStream(), buffer);
                        process.waitFor();
                        started.incrementAndGet();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException("could not start " + String.join(" ", command), e);
                }
            });
            workers[t].start();
        }
        for (Thread worker : workers) {
            worker.join();
        }
        OUT.printf("%d threads, %s: %.0f process starts/s%n", threads, String.join(" ", command),
                started.get() / (double) seconds);
    }

    private static void drain(InputStream in, byte[] buffer) throws java.io.IOException {
        try (in) {
            while (in.read(buffer) != -1) {
                // Read to the end, as the agent does.
            }
        }
    }

    private static void fsync(Path file, int count) throws java.io.IOException {
        long[] nanos = new long[count];
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer block = ByteBuffer.allocate(8192);
            for (int i = 0; i < count; i++) {
                block.clear();
                channel.write(block, (long) (i % 64) * block.capacity());
                long start = System.nanoTime();
                channel.force(false);
                nanos[i] = System.nanoTime() - start;
            }
        }
        Arrays.sort(nanos);
        OUT.printf("fdatasync of 8 KiB, %d times: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms%n", count,
                nanos[count / 2] / 1e6, nanos[count * 9 / 10] / 1e6, nanos[count * 99 / 100] / 1e6,
                nanos[count - 1] / 1e6);
    }
}
