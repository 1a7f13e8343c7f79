package io.cloudtask.agent;

import io.cloudtask.agent.claim.FireClaimer;
import io.cloudtask.agent.command.CommandHandler;
import io.cloudtask.agent.command.CommandJournal;
import io.cloudtask.agent.gateway.Backoff;
import io.cloudtask.agent.gateway.ChannelFactory;
import io.cloudtask.agent.gateway.GatewayClient;
import io.cloudtask.agent.gateway.GatewayListener;
import io.cloudtask.agent.membership.AssignmentListener;
import io.cloudtask.agent.membership.FencingPolicy;
import io.cloudtask.agent.membership.ZkClientConfigs;
import io.cloudtask.agent.membership.ZkMembership;
import io.cloudtask.agent.outbox.DiskRunEventOutbox;
import io.cloudtask.agent.pkg.GrpcPackageFetcher;
import io.cloudtask.agent.pkg.PackageCache;
import io.cloudtask.agent.run.Platform;
import io.cloudtask.agent.run.ProcessRunner;
import io.cloudtask.agent.run.RunCoordinator;
import io.cloudtask.agent.schedule.Fire;
import io.cloudtask.agent.schedule.DiskFireMarkers;
import io.cloudtask.agent.schedule.LocalScheduler;
import io.cloudtask.agent.spec.SpecCache;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.ClaimAnswer;
import io.cloudtask.proto.v1.KillRun;
import io.cloudtask.proto.v1.PlacementKind;
import io.cloudtask.proto.v1.RunNow;
import io.cloudtask.proto.v1.TaskSpec;
import io.cloudtask.proto.v1.TaskSpecs;
import io.cloudtask.proto.v1.Welcome;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent: wires ZooKeeper membership, the fencing policy, the spec cache, the local scheduler,
 * the process runner, the outbox and the gateway stream.
 *
 * <p>Threads: {@code cloudtask-reconcile} applies assignments, specs, reconnect re-reads and the
 * control plane's commands one at a time; {@code cloudtask-timer} fires; {@code cloudtask-run-*} and
 * {@code cloudtask-output-*} run processes and read their output (a run fetches its task's package
 * first if the agent lacks it); {@code cloudtask-packages} prefetches packages; {@code
 * cloudtask-gateway} owns the stream; Curator and gRPC threads only hand work to those.
 *
 * <p>Lifecycle: construct (no I/O), {@link #start()} once, {@link #close()} (idempotent) in this
 * order: stop firing → stop accepting runs → flush briefly and close the stream → close the spool →
 * leave ZooKeeper (the ephemeral node goes away) → close the Curator client. Thread-safe.
 */
public final class Agent implements AutoCloseable {
    /** How long close() waits for the control plane to acknowledge pending run events. */
    static final Duration FLUSH_TIMEOUT = Duration.ofSeconds(2);
    /** The longest one package download may take before it is retried from where it stopped. */
    static final Duration PACKAGE_FETCH_TIMEOUT = Duration.ofMinutes(30);

    private static final Logger log = LoggerFactory.getLogger(Agent.class);

    private final AgentConfig config;
    private final Clock clock;
    private final SpecCache specCache;
    private final DiskRunEventOutbox outbox;
    private final GrpcPackageFetcher packageFetcher;
    private final ExecutorService packageExecutor;
    private final PackageCache packages;
    private final ProcessRunner runner;
    private final FireClaimer fireClaimer;
    private final RunCoordinator coordinator;
    private final LocalScheduler scheduler;
    private final DiskFireMarkers fireMarkers;
    private final ExecutorService reconcileExecutor;
    private final TaskReconciler reconciler;
    private final CuratorFramework curator;
    private final ZkMembership membership;
    private final FencingPolicy fencing;
    private final GatewayClient gateway;
    private final CommandJournal commandJournal;
    private final CommandHandler commands;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile AgentInfo info;

    /** The production agent: system UTC clock, plaintext gRPC channels. */
    public Agent(AgentConfig config) {
        this(config, Clock.systemUTC(), ChannelFactory.plaintext());
    }

    /** An agent with an injected clock and gRPC channel factory (tests use in-process channels). */
    public Agent(AgentConfig config, Clock clock, ChannelFactory channelFactory) {
        this.config = Objects.requireNonNull(config, "config");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.specCache = new SpecCache(config.specDir());
        this.outbox = new DiskRunEventOutbox(config.spoolDir(), DiskRunEventOutbox.Options.forMaxBytes(config.spoolMaxBytes()),
                clock);
        this.packageFetcher = new GrpcPackageFetcher(
                new GrpcPackageFetcher.Identity(config.agentId(), config.cluster(), config.joinToken()),
                config.controlPlane(), channelFactory, PACKAGE_FETCH_TIMEOUT);
        this.packageExecutor = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "cloudtask-packages");
            thread.setDaemon(true);
            return thread;
        });
        this.packages = new PackageCache(config.packageDir(), packageFetcher, config.packageMaxUnpackedBytes(),
                packageExecutor);
        this.runner = new ProcessRunner(config.workDir().resolve("tasks"), packages, Platform.current(), outbox, clock);
        this.gateway = new GatewayClient(
                new GatewayClient.Settings(config.agentId(), config.cluster(), config.joinToken(), config.controlPlane(),
                        new Backoff(config.reconnectInitialBackoff(), config.reconnectMaxBackoff()), FLUSH_TIMEOUT),
                () -> info, outbox, new Listener(), channelFactory, new SecureRandom());
        this.fireClaimer = new FireClaimer(gateway::sendFireClaim, clock);
        this.coordinator = new RunCoordinator(config.agentId(), runner, new SecureRandom()::nextDouble, request -> fireClaimer.claim(
                request.taskId(), request.fireTime(), request.spec().getVersion(),
                request.spec().getPlacement().getKind() == PlacementKind.PLACEMENT_KIND_BROADCAST), clock);
        this.fireMarkers = new DiskFireMarkers(config.workDir().resolve("fires"));
        this.scheduler = new LocalScheduler(clock, this::onFire, fireMarkers);
        this.reconcileExecutor = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "cloudtask-reconcile");
            thread.setDaemon(true);
            return thread;
        });
        this.commandJournal = new CommandJournal(config.workDir().resolve("commands"), clock);
        this.commands = new CommandHandler(commandJournal, coordinator, gateway::sendCommandAck, clock);
        this.reconciler = new TaskReconciler(specCache, scheduler::update, gateway::requestSpecs);
        this.curator = CuratorFrameworkFactory.builder()
                .connectString(config.zookeeper())
                .sessionTimeoutMs(Math.toIntExact(config.zookeeperSessionTimeout().toMillis()))
                .connectionTimeoutMs(Math.toIntExact(config.zookeeperConnectionTimeout().toMillis()))
                .retryPolicy(new ExponentialBackoffRetry(100, 10, 5_000))
                .zkClientConfig(ZkClientConfigs.fromSystemProperties())
                .build();
        this.membership = new ZkMembership(curator, config.cluster(), config.agentId(), new AssignmentListener() {
            @Override
            public void onAssignment(Assignment assignment) {
                onReconcileThread(() -> {
                    reconciler.applyAssignment(assignment);
                    syncPackages();
                });
            }

            @Override
            public void onAssignmentMissing() {
                onReconcileThread(reconciler::assignmentMissing);
            }
        });
        this.fencing = new FencingPolicy(scheduler, this::rereadAllocation, reconcileExecutor);
        // A pause longer than a third of the session timeout may outlast the session: the ZooKeeper
        // client pings every third of it, and the server expires the session after all of it.
        this.scheduler.onPause(config.zookeeperSessionTimeout().dividedBy(3),
                lateBy -> fencing.processPaused(lateBy, membership::sessionOwnsAgentNode));
    }

    /**
     * Recovers the spool, loads cached specs, joins ZooKeeper and opens the gateway stream (which
     * first sends what the spool holds). Firing starts once ZooKeeper is connected.
     *
     * @throws UncheckedIOException when the spool cannot be opened (the message says why)
     */
    public void start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("agent already started");
        }
        try {
            outbox.open();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the run-event spool in " + config.spoolDir() + ": " + e.getMessage(), e);
        }
        try {
            commandJournal.open();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the command journal in " + config.workDir().resolve("commands")
                    + ": " + e.getMessage(), e);
        }
        specCache.load();
        onReconcileThread(this::syncPackages);
        info = HostFacts.agentInfo(config, clock.instant());
        scheduler.start();
        // Registered before start() so the first CONNECTED reaches the fencing policy.
        curator.getConnectionStateListenable().addListener(fencing);
        curator.start();
        log.info("connecting to ZooKeeper at {}; no task fires before the connection is up and the allocation is read",
                config.zookeeper());
        membership.start(info);
        gateway.start();
    }

    /** Whether fires may start now (ZooKeeper connected and allocation reconciled). */
    public boolean isFiring() {
        return scheduler.isFiring();
    }

    /** The tasks the scheduler holds: assigned and with a cached spec. */
    public Set<String> scheduledTaskIds() {
        return scheduler.taskIds();
    }

    /** The task ids of the last applied assignment. */
    public Set<String> assignedTaskIds() {
        return reconciler.assignedTaskIds();
    }

    /** The epoch of the last applied assignment, if any. */
    public OptionalLong appliedEpoch() {
        return reconciler.appliedEpoch();
    }

    /** The spool's counters (size, drops by the size bound, forces). */
    public DiskRunEventOutbox.Stats spoolStats() {
        return outbox.stats();
    }

    /** Number of runs started and not yet finished. */
    public int activeRuns() {
        return runner.activeRuns();
    }

    /** The package cache (what it holds, how many fetches it made). */
    public PackageCache packages() {
        return packages;
    }

    /** Whether the gateway stream is up and welcomed. */
    public boolean isConnectedToControlPlane() {
        return gateway.isConnected();
    }

    public AgentConfig config() {
        return config;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        log.info("agent {} stopping", config.agentId());
        scheduler.close();
        fireMarkers.close();
        coordinator.close();
        runner.close();
        packageExecutor.shutdownNow();
        packageFetcher.close();
        gateway.close();
        // After the gateway: it reads and acknowledges until it is closed. Runs still in flight can
        // no longer report; their events are lost (a later issue waits for them or kills them).
        outbox.close();
        commandJournal.close();
        try {
            membership.close();
        } catch (Exception e) {
            log.warn("leaving ZooKeeper failed ({}); the node disappears when the session expires", e.toString());
        }
        curator.close();
        reconcileExecutor.shutdown();
        try {
            if (!reconcileExecutor.awaitTermination(2, TimeUnit.SECONDS)) {
                reconcileExecutor.shutdownNow();
            }
        } catch (InterruptedException e) {
            reconcileExecutor.shutdownNow();
            Thread.currentThread().interrupt();
        }
        log.info("agent {} stopped", config.agentId());
    }

    /** Runs on the reconcile thread (called by the fencing policy there). */
    private void rereadAllocation() throws Exception {
        membership.readAllocation().ifPresentOrElse(reconciler::applyAssignment, reconciler::assignmentMissing);
        syncPackages();
    }

    /**
     * On the reconcile thread, after the held specs changed: fetches the packages they name ahead of
     * their first run, and deletes the packages none of them names (runs in flight keep theirs).
     */
    private void syncPackages() {
        Set<String> wanted = new HashSet<>();
        for (TaskSpec spec : specCache.snapshot().values()) {
            if (spec.hasPackage()) {
                wanted.add(spec.getPackage().getSha256());
                packages.prefetch(spec.getPackage());
            }
        }
        packages.retainOnly(wanted);
    }

    /** Called on the timer thread: hand off without blocking. */
    private void onFire(Fire fire) {
        coordinator.fire(fire);
    }

    private void onReconcileThread(Runnable task) {
        try {
            reconcileExecutor.execute(() -> {
                try {
                    task.run();
                } catch (Throwable t) {
                    log.error("reconcile step failed", t);
                }
            });
        } catch (RejectedExecutionException e) {
            // Only after close(): the agent no longer acts on desired state.
            log.debug("agent closed; dropping a reconcile step");
        }
    }

    /** Gateway callbacks, on the gateway thread: hand off to the reconcile thread. */
    private final class Listener implements GatewayListener {
        @Override
        public void onWelcome(Welcome welcome) {
            fireClaimer.resendPending();
            onReconcileThread(reconciler::requestOutdatedSpecs);
        }

        @Override
        public void onClaimAnswer(ClaimAnswer answer) {
            fireClaimer.onAnswer(answer);
        }

        @Override
        public void onTaskSpecs(TaskSpecs specs) {
            onReconcileThread(() -> {
                reconciler.applySpecs(specs);
                syncPackages();
            });
        }

        @Override
        public void onRunNow(RunNow command) {
            onReconcileThread(() -> commands.runNow(command));
        }

        @Override
        public void onKillRun(KillRun command) {
            onReconcileThread(() -> commands.killRun(command));
        }
    }
}
