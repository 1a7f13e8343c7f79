package io.cloudtask.agent.run;

import com.google.protobuf.ByteString;
import io.cloudtask.agent.outbox.RunEventOutbox;
import io.cloudtask.agent.pkg.PackageDirectories;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.Command;
import io.cloudtask.proto.v1.OutputChunk;
import io.cloudtask.proto.v1.OutputStream;
import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import io.cloudtask.proto.v1.RunStatus;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.protocol.ZkLayout;
import io.cloudtask.schedule.Timestamps;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a task's process and reports it as run events in the {@link RunEventOutbox}: RunStarted,
 * the output as OutputChunks (raw bytes, one chunk per read, one 0-based sequence per run shared by
 * stdout and stderr), then RunFinished once the process has exited and both output readers have
 * reached the end. On timeout, or when a policy kills the run through its {@link RunHandle}, the whole
 * process tree is killed: descendants and the process get a polite {@code destroy()} first and
 * {@code destroyForcibly()} after the task's grace period ({@code TaskSpec.kill_grace}).
 *
 * <p>Thread-safe. {@link #submit} never blocks. A run is a queued process start, then callbacks:
 * {@link #PROCESS_START_CONCURRENCY} {@code cloudtask-launch-*} threads create the processes in the
 * order runs were submitted; each process's stdout and stderr are read on two
 * {@code cloudtask-output-*} threads, which only append to the outbox (a local disk write; a full
 * spool refuses chunks rather than blocking) and therefore never wait for the network; the exit,
 * a kill request or the timeout continues the run on a {@code cloudtask-run-*} thread, which also
 * fetches packages before a start. No thread waits for a process that is running or for a start
 * that is queued, and idle threads are reused.
 *
 * <p>Why a small, ordered set of launchers: when many fires fall on the same instant, hundreds of
 * threads creating processes at once contend in the kernel and all start late (and hundreds of
 * blocked threads make every garbage collection slower), while a few starting one after another
 * keep the earliest fires early and create processes several times faster.
 */
public final class ProcessRunner implements AutoCloseable {
    /** Time a process tree gets between destroy() and destroyForcibly() when the spec names none. */
    public static final Duration KILL_GRACE = Duration.ofSeconds(5);
    /** Size of one read of a process's output, and so the largest chunk. */
    static final int READ_BUFFER_BYTES = 32 * 1024;
    /** How often survivors of a tree kill are checked; non-children offer no exit notification. */
    private static final long KILL_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /**
     * Processes created at the same time. Creating a process is CPU work in the kernel (vfork and
     * exec); more concurrent creations than cores only add contention.
     */
    static final int PROCESS_START_CONCURRENCY = Math.max(2, Runtime.getRuntime().availableProcessors());
    /**
     * One read buffer per output reader thread: chunks are copied out of it, and a new 32 KiB array
     * per stream and run was a quarter of the agent's allocations under load. Reader threads are
     * pooled, so the buffers live as long as the threads.
     */
    private static final ThreadLocal<byte[]> READ_BUFFER = ThreadLocal.withInitial(() -> new byte[READ_BUFFER_BYTES]);
    /** How long an idle launcher thread stays; an idle agent holds none. */
    private static final Duration IDLE_THREAD_KEEP_ALIVE = Duration.ofSeconds(60);

    private static final Logger log = LoggerFactory.getLogger(ProcessRunner.class);

    private final Path tasksDir;
    private final PackageDirectories packages;
    private final Platform platform;
    private final RunEventOutbox outbox;
    private final Clock clock;
    private final Duration killGrace;
    /** Starts processes, in the order runs were submitted (FIFO queue, so the earliest fires first). */
    private final ExecutorService launchers;
    /** Fetch packages, kill process trees, wait for output to end and journal RunFinished (blocking work). */
    private final ExecutorService supervisors;
    private final ExecutorService outputReaders;
    /** Journals SKIPPED and MISSED reports in batches ({@link #reportNotRunLater}). */
    private final ExecutorService reporter;
    private final LinkedBlockingQueue<AgentMessage> pendingReports = new LinkedBlockingQueue<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Runs accepted by {@link #submit} and not yet ended. */
    private final AtomicInteger active = new AtomicInteger();

    /**
     * @param tasksDir parent of the per-task work directories ({@code {tasksDir}/{taskId}})
     * @param packages where runs of tasks with a package find it unpacked (their working directory)
     */
    public ProcessRunner(Path tasksDir, PackageDirectories packages, Platform platform, RunEventOutbox outbox,
            Clock clock) {
        this(tasksDir, packages, platform, outbox, clock, KILL_GRACE);
    }

    ProcessRunner(Path tasksDir, PackageDirectories packages, Platform platform, RunEventOutbox outbox, Clock clock,
            Duration killGrace) {
        this.tasksDir = Objects.requireNonNull(tasksDir, "tasksDir");
        this.packages = Objects.requireNonNull(packages, "packages");
        this.platform = Objects.requireNonNull(platform, "platform");
        this.outbox = Objects.requireNonNull(outbox, "outbox");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.killGrace = Objects.requireNonNull(killGrace, "killGrace");
        this.supervisors = Executors.newCachedThreadPool(daemonThreads("cloudtask-run-"));
        ThreadPoolExecutor launchPool = new ThreadPoolExecutor(PROCESS_START_CONCURRENCY, PROCESS_START_CONCURRENCY,
                IDLE_THREAD_KEEP_ALIVE.toNanos(), TimeUnit.NANOSECONDS, new LinkedBlockingQueue<>(),
                daemonThreads("cloudtask-launch-"));
        launchPool.allowCoreThreadTimeOut(true);
        this.launchers = launchPool;
        ThreadPoolExecutor reportThread = new ThreadPoolExecutor(1, 1, IDLE_THREAD_KEEP_ALIVE.toNanos(),
                TimeUnit.NANOSECONDS, new LinkedBlockingQueue<>(), daemonThreads("cloudtask-reports-"));
        reportThread.allowCoreThreadTimeOut(true);
        this.reporter = reportThread;
        this.outputReaders = Executors.newCachedThreadPool(daemonThreads("cloudtask-output-"));
    }

    /**
     * Starts a run without blocking.
     *
     * @return false when the runner is closed and the run was not started
     */
    public boolean submit(RunRequest request) {
        return submit(request, RunListener.NONE) != null;
    }

    /**
     * Starts a run without blocking; {@code listener} hears when it ended (after its RunFinished is
     * journaled), on one of the runner's threads.
     *
     * @return a handle to kill the run, or null when the runner is closed and the run was not started
     */
    public RunHandle submit(RunRequest request, RunListener listener) {
        Objects.requireNonNull(listener, "listener");
        if (closed.get()) {
            return null;
        }
        RunHandle handle = new RunHandle(request);
        active.incrementAndGet();
        try {
            if (request.spec().hasPackage()) {
                supervisors.execute(() -> prepare(handle, listener));
            } else {
                RunState state = new RunState(request, request.runId(), handle, listener);
                launchers.execute(() -> launch(state));
            }
            return handle;
        } catch (RejectedExecutionException e) {
            // close() raced with this submit: the run is refused exactly as if closed had been seen.
            runEnded();
            log.info("not starting task {} fire {}: the runner is closing", request.taskId(), request.fireTime());
            return null;
        }
    }

    /**
     * Reports a fire that does not run (SKIPPED or MISSED, the reason in {@code error}) as a lone
     * RunFinished, which ingestion accepts without a RunStarted. Journals on the calling thread.
     */
    public void reportNotRun(RunRequest request, RunStatus status, String error) {
        reportNotRun(request, status, error, false);
    }

    private void reportNotRun(RunRequest request, RunStatus status, String error, boolean provisional) {
        AgentMessage report = notRunReport(request, status, error, provisional);
        outbox.append(report);
        logNotRun(report.getRunFinished());
    }

    private static void logNotRun(RunFinished report) {
        log.info("task {} fire {}: {} ({})", report.getTaskId(), Timestamps.toInstant(report.getFireTime()),
                report.getStatus(), report.getError());
    }

    private AgentMessage notRunReport(RunRequest request, RunStatus status, String error, boolean provisional) {
        if (status != RunStatus.RUN_STATUS_SKIPPED && status != RunStatus.RUN_STATUS_MISSED) {
            throw new IllegalArgumentException("only SKIPPED and MISSED fires are reported without a run, not " + status);
        }
        return AgentMessage.newBuilder().setRunFinished(RunFinished.newBuilder()
                .setRunId(request.runId())
                .setTaskId(request.taskId())
                .setFireTime(Timestamps.of(request.fireTime()))
                .setAttempt(request.attempt())
                .setTrigger(request.trigger())
                .setSpecVersion(request.spec().getVersion())
                .setFinishedAt(Timestamps.of(clock.instant()))
                .setStatus(status)
                .setError(error)
                .setCommandId(request.commandId())
                .setProvisional(provisional)
                .setBroadcast(request.broadcast())).build();
    }

    /**
     * As {@link #reportNotRun}, but journaled on the {@code cloudtask-reports} thread: the caller
     * (the policy thread, which decides for every task) never waits for the spool to reach the
     * disk. The reports waiting when that thread wakes are journaled together with one disk flush,
     * so a saturated agent skipping thousands of fires a second neither waits on a flush per report
     * nor holds a thread per report (it once held thousands and ran out of heap). After
     * {@link #close} it journals on the calling thread.
     */
    public void reportNotRunLater(RunRequest request, RunStatus status, String error) {
        journalNotRunLater(request, status, error, false);
    }

    /**
     * Reports, as {@link #reportNotRunLater} does, a fire of the hand-over gap as provisionally MISSED
     * ({@code RunFinished.provisional}): the agent that held the task before may have run it, and
     * its report replaces this record.
     */
    public void reportProvisionallyMissedLater(RunRequest request, String error) {
        journalNotRunLater(request, RunStatus.RUN_STATUS_MISSED, error, true);
    }

    private void journalNotRunLater(RunRequest request, RunStatus status, String error, boolean provisional) {
        AgentMessage report = notRunReport(request, status, error, provisional);
        pendingReports.add(report);
        try {
            reporter.execute(this::journalPendingReports);
        } catch (RejectedExecutionException e) {
            journalPendingReports();
        }
    }

    /** Journals every waiting report in one append; later wake-ups find the queue empty. */
    private void journalPendingReports() {
        List<AgentMessage> batch = new ArrayList<>();
        pendingReports.drainTo(batch);
        if (batch.isEmpty()) {
            return;
        }
        try {
            outbox.appendAll(batch);
            // Logged here, not by the policy thread that decided: it must not wait for log writes.
            batch.forEach(report -> logNotRun(report.getRunFinished()));
        } catch (RuntimeException e) {
            log.error("could not journal {} SKIPPED or MISSED report(s), the first of task {} fire {}", batch.size(),
                    batch.get(0).getRunFinished().getTaskId(),
                    Timestamps.toInstant(batch.get(0).getRunFinished().getFireTime()), e);
        }
    }

    /** Number of runs accepted and not yet finished. */
    public int activeRuns() {
        return active.get();
    }

    /**
     * Stops accepting runs. Runs in flight are left to finish and report; their threads are daemons,
     * so they do not hold the JVM open.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && active.get() == 0) {
            shutDownThreads();
        }
    }

    /** Runs in flight still start, read output and report after close; the pools end with the last of them. */
    private void runEnded() {
        if (active.decrementAndGet() == 0 && closed.get()) {
            shutDownThreads();
        }
    }

    private void shutDownThreads() {
        launchers.shutdown();
        reporter.shutdown();
        supervisors.shutdown();
        outputReaders.shutdown();
    }

    /**
     * First stage of a run whose task has a package, on a supervisor thread: holds the package (fetching it first if
     * need be, which may block) for as long as the run lasts, then queues the process start. A
     * package that cannot be had fails the run the way a program that cannot start does.
     */
    private void prepare(RunHandle handle, RunListener listener) {
        RunRequest request = handle.request();
        RunState state = new RunState(request, request.runId(), handle, listener);
        try {
            state.lease = packages.acquire(request.spec().getPackage());
        } catch (IOException e) {
            end(state, failToStart(state, "the task's package is not available: " + e.getMessage()));
            return;
        } catch (RuntimeException | Error e) {
            endInsideAgent(state, e);
            return;
        }
        launchLater(state);
    }

    private void onSupervisor(Runnable work) {
        try {
            supervisors.execute(work);
        } catch (RejectedExecutionException e) {
            // Only after close() with this run in flight: finish it here rather than lose it.
            work.run();
        }
    }

    private void launchLater(RunState state) {
        try {
            launchers.execute(() -> launch(state));
        } catch (RejectedExecutionException e) {
            // Only after close() with this run in flight: start it here rather than lose it.
            launch(state);
        }
    }

    /**
     * Starts the process on a launcher thread, then returns at once: the readers take the output
     * and the exit, a kill request or the timeout (whichever comes first) continues the run on a
     * supervisor thread. No thread waits for a process.
     */
    private void launch(RunState state) {
        RunRequest request = state.request;
        Process process;
        try {
            Path packageDir = state.lease == null ? null : state.lease.directory();
            process = processBuilder(request, state.runId, packageDir).start();
            // "Started" means the process exists: lateness measures fire time to this instant.
            state.startedAt = clock.instant();
        } catch (IOException | IllegalArgumentException | UnsupportedOperationException e) {
            String error = e.getMessage() == null ? e.toString() : e.getMessage();
            // Reporting waits for the journal's disk flush: not on a launcher, where the starts of
            // every other task queue behind it.
            onSupervisor(() -> end(state, failToStart(state, error)));
            return;
        } catch (RuntimeException | Error e) {
            endInsideAgent(state, e);
            return;
        }
        try {
            emitStarted(state, process.pid());
            state.stdout = CompletableFuture.runAsync(
                    () -> read(state, process.getInputStream(), OutputStream.OUTPUT_STREAM_STDOUT), outputReaders);
            state.stderr = CompletableFuture.runAsync(
                    () -> read(state, process.getErrorStream(), OutputStream.OUTPUT_STREAM_STDERR), outputReaders);
            CompletableFuture<Object> exitOrKill = CompletableFuture.anyOf(process.onExit(), state.handle.killRequest);
            Duration timeout = timeout(request.spec());
            if (timeout != null) {
                exitOrKill.orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS);
            }
            exitOrKill.whenCompleteAsync((ignored, failure) -> supervise(state, process, timeout, failure), supervisors);
        } catch (RuntimeException | Error e) {
            process.destroyForcibly();
            endInsideAgent(state, e);
        }
    }

    /** After the exit, a kill request or the timeout: kills the tree if need be and reports the end. */
    private void supervise(RunState state, Process process, Duration timeout, Throwable failure) {
        try {
            RunRequest request = state.request;
            boolean timedOut = failure instanceof TimeoutException;
            if (failure != null && !timedOut) {
                throw new IllegalStateException("process exit future failed", failure);
            }
            Duration grace = killGrace(request.spec());
            String killedError = null;
            if (timedOut) {
                log.info("task {} run {} timed out after {}; killing its process tree", request.taskId(), state.runId,
                        timeout);
                killTree(process, grace);
            } else if (state.handle.killRequest.isDone() && process.isAlive()) {
                killedError = state.handle.killRequest.getNow("killed");
                log.info("task {} run {}: {}; killing its process tree", request.taskId(), state.runId, killedError);
                killTree(process, grace);
            }
            int exitCode = process.waitFor();
            // read() handles its own failures, so these complete normally once each stream has ended.
            state.stdout.join();
            state.stderr.join();
            RunStatus status;
            if (timedOut) {
                status = RunStatus.RUN_STATUS_TIMED_OUT;
                emitFinished(state, status, exitCode, "timed out after " + timeout.toMillis()
                        + " ms; the process tree was killed");
            } else if (killedError != null) {
                status = RunStatus.RUN_STATUS_KILLED;
                emitFinished(state, status, exitCode, killedError);
            } else {
                status = exitCode == 0 ? RunStatus.RUN_STATUS_SUCCEEDED : RunStatus.RUN_STATUS_FAILED;
                emitFinished(state, status, exitCode, "");
            }
            end(state, status);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            endInsideAgent(state, e);
        } catch (RuntimeException | Error e) {
            endInsideAgent(state, e);
        }
    }

    /** The run is over and reported: releases its package and tells the listener. */
    private void end(RunState state, RunStatus status) {
        try {
            state.releasePackage();
            state.listener.finished(state.request, status);
        } catch (RuntimeException e) {
            log.error("run {} of task {}: the finish listener failed", state.runId, state.request.taskId(), e);
        } finally {
            runEnded();
        }
    }

    /** A failure of the agent itself (not of the task): the run may lack its RunFinished. */
    private void endInsideAgent(RunState state, Throwable failure) {
        try {
            log.error("run {} of task {} failed inside the agent; its RunFinished may be missing", state.runId,
                    state.request.taskId(), failure);
            state.releasePackage();
        } finally {
            runEnded();
        }
    }
    /** Reports a run whose process never started: RunStarted without a pid, then FAILED with the reason. */
    private RunStatus failToStart(RunState state, String error) {
        state.startedAt = state.startedAt == null ? clock.instant() : state.startedAt;
        log.warn("task {} run {} could not start: {}", state.request.taskId(), state.runId, error);
        emitStarted(state, 0);
        emitFinished(state, RunStatus.RUN_STATUS_FAILED, null, error);
        return RunStatus.RUN_STATUS_FAILED;
    }

    private ProcessBuilder processBuilder(RunRequest request, String runId, Path packageDir) throws IOException {
        TaskSpec spec = request.spec();
        Command command = spec.getCommand();
        List<String> argv = switch (command.getKindCase()) {
            case SHELL -> platform.shellCommand(withArguments(command.getShell(), request.manual()));
            case ARGV -> {
                if (command.getArgv().getArgsCount() == 0) {
                    throw new IllegalArgumentException("the task's argv is empty: give the program and its arguments");
                }
                yield withArguments(command.getArgv().getArgsList(), request.manual());
            }
            case KIND_NOT_SET -> throw new IllegalArgumentException("the task has no command: set shell or argv");
        };
        Path workDir;
        if (packageDir != null) {
            workDir = workDirInPackage(packageDir, command.getWorkingDirectory());
        } else if (!command.getWorkingDirectory().isEmpty()) {
            workDir = Path.of(command.getWorkingDirectory());
        } else {
            if (!ZkLayout.isValidSegment(spec.getTaskId())) {
                // The id becomes a directory name: refuse anything that could climb out of tasksDir.
                throw new IllegalArgumentException("task id '" + spec.getTaskId() + "' cannot name a work directory");
            }
            workDir = tasksDir.resolve(spec.getTaskId());
            if (!Files.isDirectory(workDir)) {
                // Only when missing: createDirectories on an existing directory throws and catches an
                // exception inside, a cost paid on every run.
                Files.createDirectories(workDir);
            }
        }
        ProcessBuilder builder = new ProcessBuilder(new ArrayList<>(argv))
                .directory(workDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(platform.nullDevice()))
                .redirectOutput(ProcessBuilder.Redirect.PIPE)
                .redirectError(ProcessBuilder.Redirect.PIPE);
        Map<String, String> env = builder.environment();
        env.putAll(spec.getEnvironmentMap());
        if (request.manual() != null) {
            env.putAll(request.manual().environment());
        }
        env.put("CLOUDTASK_TASK_ID", spec.getTaskId());
        env.put("CLOUDTASK_RUN_ID", runId);
        env.put("CLOUDTASK_FIRE_TIME", request.fireTime().toString());
        env.put("CLOUDTASK_ATTEMPT", Integer.toString(request.attempt()));
        if (packageDir != null) {
            env.put("CLOUDTASK_PACKAGE_DIR", packageDir.toString());
        }
        return builder;
    }

    /** A shell command line with a manual run's arguments appended, each quoted for the shell. */
    private String withArguments(String commandLine, ManualRun manual) {
        if (manual == null || manual.arguments() == null) {
            return commandLine;
        }
        StringBuilder line = new StringBuilder(commandLine);
        for (String argument : manual.arguments()) {
            line.append(' ').append(platform.quoteForShell(argument));
        }
        return line.toString();
    }

    /** An argv with a manual run's arguments in place of the task's (the program stays). */
    private static List<String> withArguments(List<String> argv, ManualRun manual) {
        if (manual == null || manual.arguments() == null) {
            return argv;
        }
        List<String> replaced = new ArrayList<>(1 + manual.arguments().size());
        replaced.add(argv.get(0));
        replaced.addAll(manual.arguments());
        return replaced;
    }

    /**
     * A task with a package runs in the package directory, or in the directory its working directory
     * names: an absolute path as it is, a relative one inside the package (never outside it).
     */
    static Path workDirInPackage(Path packageDir, String workingDirectory) {
        if (workingDirectory.isEmpty()) {
            return packageDir;
        }
        Path configured = Path.of(workingDirectory);
        if (configured.isAbsolute()) {
            return configured;
        }
        Path inside = packageDir.resolve(configured).normalize();
        if (!inside.startsWith(packageDir)) {
            throw new IllegalArgumentException("working directory '" + workingDirectory
                    + "' leaves the package directory; give a path inside the package or an absolute path");
        }
        return inside;
    }

    private void read(RunState state, InputStream in, OutputStream stream) {
        byte[] buffer = READ_BUFFER.get();
        try (in) {
            int n;
            while ((n = in.read(buffer)) != -1) {
                if (n > 0) {
                    state.emitChunk(stream, ByteString.copyFrom(buffer, 0, n));
                }
            }
        } catch (IOException e) {
            log.warn("run {}: reading {} stopped: {}", state.runId, stream, e.getMessage());
        } catch (Throwable t) {
            log.error("run {}: {} reader failed", state.runId, stream, t);
        }
    }

    /**
     * Kills the process and every descendant. Descendants are listed before anything is killed:
     * once the parent dies they are re-parented and no longer appear as its descendants.
     */
    private void killTree(Process process, Duration killGrace) {
        List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
        tree.add(process.toHandle());
        tree.forEach(ProcessHandle::destroy);
        if (awaitGone(tree, killGrace)) {
            return;
        }
        List<ProcessHandle> survivors = new ArrayList<>(process.descendants().toList());
        survivors.addAll(tree);
        log.warn("process tree of pid {} survived destroy() for {}; forcing", process.pid(), killGrace);
        survivors.stream().filter(platform::isRunning).forEach(ProcessHandle::destroyForcibly);
        awaitGone(survivors, killGrace);
    }

    private boolean awaitGone(List<ProcessHandle> processes, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (processes.stream().anyMatch(platform::isRunning)) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            LockSupport.parkNanos(KILL_POLL_NANOS);
        }
        return true;
    }

    private void emitStarted(RunState state, long pid) {
        RunRequest r = state.request;
        outbox.append(AgentMessage.newBuilder().setRunStarted(RunStarted.newBuilder()
                .setRunId(state.runId)
                .setTaskId(r.taskId())
                .setFireTime(Timestamps.of(r.fireTime()))
                .setAttempt(r.attempt())
                .setTrigger(r.trigger())
                .setSpecVersion(r.spec().getVersion())
                .setStartedAt(Timestamps.of(state.startedAt))
                .setPid(pid)
                .setCommandId(r.commandId())
                .setBroadcast(r.broadcast())).build());
    }

    private void emitFinished(RunState state, RunStatus status, Integer exitCode, String error) {
        RunRequest r = state.request;
        RunFinished.Builder finished = RunFinished.newBuilder()
                .setRunId(state.runId)
                .setTaskId(r.taskId())
                .setFireTime(Timestamps.of(r.fireTime()))
                .setAttempt(r.attempt())
                .setTrigger(r.trigger())
                .setSpecVersion(r.spec().getVersion())
                .setStartedAt(Timestamps.of(state.startedAt))
                .setFinishedAt(Timestamps.of(clock.instant()))
                .setStatus(status)
                .setHasExitCode(exitCode != null)
                .setExitCode(exitCode == null ? 0 : exitCode)
                .setError(error)
                .setCommandId(r.commandId())
                .setBroadcast(r.broadcast());
        synchronized (state) {
            finished.setOutputChunkCount(state.nextSequence).setOutputBytes(state.outputBytes);
        }
        outbox.append(AgentMessage.newBuilder().setRunFinished(finished).build());
        log.info("task {} run {} fire {} finished: {}{}", r.taskId(), state.runId, r.fireTime(), status,
                exitCode == null ? "" : " (exit " + exitCode + ")");
    }

    /** The task's kill grace (TaskSpec.kill_grace), else the runner's default. */
    private Duration killGrace(TaskSpec spec) {
        if (!spec.hasKillGrace()) {
            return killGrace;
        }
        Duration d = Duration.ofSeconds(spec.getKillGrace().getSeconds(), spec.getKillGrace().getNanos());
        return d.isNegative() ? Duration.ZERO : d;
    }

    private static Duration timeout(TaskSpec spec) {
        if (!spec.hasTimeout()) {
            return null;
        }
        Duration d = Duration.ofSeconds(spec.getTimeout().getSeconds(), spec.getTimeout().getNanos());
        return d.isNegative() || d.isZero() ? null : d;
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger counter = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + counter.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    /** One run's mutable state; the monitor orders chunk sequences with their appends. */
    private final class RunState {
        final RunRequest request;
        final String runId;
        final RunHandle handle;
        final RunListener listener;
        /** The package held for the run (set before the start is queued), or null. */
        volatile PackageDirectories.Lease lease;
        volatile CompletableFuture<Void> stdout;
        volatile CompletableFuture<Void> stderr;
        volatile Instant startedAt;
        private long nextSequence;
        private long outputBytes;
        private boolean outputLost;

        RunState(RunRequest request, String runId, RunHandle handle, RunListener listener) {
            this.request = request;
            this.runId = runId;
            this.handle = handle;
            this.listener = listener;
        }

        void releasePackage() {
            PackageDirectories.Lease held = lease;
            if (held != null) {
                held.close();
            }
        }

        /**
         * Numbers and appends under one lock, so the journal holds a run's chunks in sequence order
         * even though stdout and stderr are read by two threads. Appending writes to the local spool,
         * never to the network.
         */
        synchronized void emitChunk(OutputStream stream, ByteString data) {
            try {
                outbox.append(AgentMessage.newBuilder().setOutputChunk(OutputChunk.newBuilder()
                        .setRunId(runId)
                        .setStream(stream)
                        .setSequence(nextSequence)
                        .setData(data)).build());
            } catch (IllegalStateException | UncheckedIOException e) {
                // The spool is closed (the agent is stopping) or failing: the reader keeps draining the
                // pipe all the same, or the process would block writing to it.
                if (!outputLost) {
                    outputLost = true;
                    log.warn("run {}: output is not journaled any more: {}", runId, e.getMessage());
                }
            }
            nextSequence++;
            outputBytes += data.size();
        }
    }
}
