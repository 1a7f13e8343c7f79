package io.cloudtask.it;

import static io.cloudtask.it.CloudTaskSystem.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's faults, one after the other, on one installation whose every part is a separate
 * process: a 3-node ZooKeeper ensemble, two control-plane replicas and three agents, with standard
 * and strict tasks firing every second. The faults: kill -9 of an agent; SIGSTOP of an agent past
 * its session timeout, then SIGCONT; kill -9 of the leading control-plane replica; kill -9 of the
 * ZooKeeper leader. After each:
 * <ul>
 *   <li>no fire ran twice (the {@link Ledger} the tasks write themselves);</li>
 *   <li>no task is left unassigned: the REST allocation view shows every live task held by a live
 *       agent within {@link #REASSIGNMENT_BOUND} of the fault;</li>
 *   <li>every fire from the fault on is accounted for ({@link FireAccounting}): it ran and is
 *       stored, or it is recorded MISSED or SKIPPED by policy, or (only where a task moved) it fell
 *       between the old owner's last run and the new owner's first, a gap no agent records;</li>
 *   <li>the time from the fault to recovery is logged, one "recovery:" line per fault
 *       (docs/cluster.md "Failover" records the figures).</li>
 * </ul>
 * The faults share one installation because starting it is most of the cost of each; every fault
 * first waits for a steady state (three live agents holding every task, every task firing), so one
 * that fails does not leave the next to fail for the wrong reason. The ZooKeeper fault comes last:
 * it leaves the ensemble at two of three servers.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterFaultsIT {
    private static final Logger log = LoggerFactory.getLogger(ClusterFaultsIT.class);
    private static final int AGENTS = 3;
    private static final int STANDARD_TASKS = 6;
    private static final int STRICT_TASKS = 6;
    /** The agents' ZooKeeper session timeout (cloudtask.agent.zookeeper.session-timeout, default). */
    private static final Duration SESSION_TIMEOUT = Duration.ofSeconds(6);
    /** From a fault to every task held by a live agent: the session must expire, then the leader publishes. */
    private static final Duration REASSIGNMENT_BOUND = scaled(SESSION_TIMEOUT.plusSeconds(9));
    /** Fires checked once a fault is over, so the window ends in normal firing. */
    private static final Duration SETTLED = Duration.ofSeconds(4);

    @TempDir
    static Path workDir;

    private CloudTaskSystem system;
    private Ledger ledger;
    /** Control-plane replicas that are still running, the first one started first. */
    private final Map<String, Replica> replicas = new LinkedHashMap<>();
    private final Map<String, ManagedProcess> agents = new LinkedHashMap<>();
    private int agentsStarted;
    private List<String> standardTasks;
    private List<String> strictTasks;
    private final List<String> allTasks = new ArrayList<>();

    private record Replica(String id, ManagedProcess process, Api api) {}

    @BeforeAll
    void startTheCluster() throws Exception {
        ledger = new Ledger(workDir.resolve("ledger.txt"));
        system = new CloudTaskSystem(workDir);
        system.startZooKeeperEnsemble(3).startControlPlane();
        replicas.put("replica-1", new Replica("replica-1", system.controlPlane(), system.api()));
        CloudTaskSystem.ReplicaHandle second = system.startExtraReplica("replica-2");
        replicas.put("replica-2", new Replica("replica-2", second.process(), second.api()));
        // Started after both replicas, agents know both addresses and move their streams on a failover.
        for (int i = 0; i < AGENTS; i++) {
            startAgent();
        }
        standardTasks = ledger.createTasks(api(), "standard", STANDARD_TASKS);
        strictTasks = ledger.createStrictTasks(api(), "strict", STRICT_TASKS);
        allTasks.addAll(standardTasks);
        allTasks.addAll(strictTasks);
    }

    @AfterAll
    void stopTheCluster() {
        if (system != null) {
            system.close();
        }
    }

    @Test
    @Order(1)
    void killingAnAgentMovesOnlyItsTasksToLiveAgentsAndNoFireIsDoubledOrUnaccounted() throws Exception {
        awaitSteadyState();
        String victim = agentHoldingTheMostTasks();
        Set<String> victimTasks = new HashSet<>(AllocationView.taskIdsOf(api(), victim));

        Instant killed = Instant.now();
        agents.remove(victim).kill();
        // Until its session expires ZooKeeper still shows the dead agent online: it counts as dead here.
        Duration reassigned = awaitEveryTaskHeldByALiveAgent(killed, Set.of(victim));
        await("the killed agent's tasks firing on the others").atMost(REASSIGNMENT_BOUND)
                .until(() -> victimTasks.stream().allMatch(task -> ledger.firstFireElsewhere(Set.of(task), victim, killed)
                        .isPresent()));
        Instant firstMoved = ledger.firstFireElsewhere(victimTasks, victim, killed).orElseThrow();
        Instant lastMoved = victimTasks.stream()
                .map(task -> ledger.firstFireElsewhere(Set.of(task), victim, killed).orElseThrow())
                .max(Instant::compareTo).orElseThrow();

        FireAccounting.Report report = awaitAccountedFor(nextSecond(killed), lastMoved.plus(SETTLED));
        assertNoFireRanTwice();
        // The survivors never stopped: only the moved tasks' new owners record the fires of the
        // hand-over gap (strict: MISSED by the misfire policy after a claim; standard: provisionally).
        assertThat(report.recordedByPolicy().keySet()).as("fires recorded as not run")
                .allSatisfy(fire -> assertThat(victimTasks.stream().anyMatch(fire::startsWith))
                        .as("%s is a moved task's fire", fire).isTrue());
        assertThat(report.handOvers()).as("hand-overs: only the killed agent's tasks move")
                .allSatisfy(handOver -> {
                    assertThat(handOver.fromAgent()).isEqualTo(victim);
                    assertThat(victimTasks).contains(handOver.taskId());
                });
        assertHandOversAreBounded(report);
        log.info("recovery: kill -9 of agent {} ({} tasks) -> every task on a live agent in the allocation after {} ms,"
                        + " first moved fire {} ms, last moved task's first fire {} ms after the kill; {}", victim,
                victimTasks.size(), reassigned.toMillis(), Duration.between(killed, firstMoved).toMillis(),
                Duration.between(killed, lastMoved).toMillis(), report.summary());
    }

    @Test
    @Order(2)
    void aFrozenAgentThatComesBackPastItsSessionDoesNotFireWhatMovedAway() throws Exception {
        awaitSteadyState();
        String zombieId = agentHoldingTheMostTasks();
        ManagedProcess zombie = agents.get(zombieId);
        Set<String> zombieTasks = new HashSet<>(AllocationView.taskIdsOf(api(), zombieId));

        Instant frozen = Instant.now();
        zombie.signal("STOP");
        // A frozen agent still looks online until its session expires; it cannot fire, so it counts as dead.
        Duration reassigned = awaitEveryTaskHeldByALiveAgent(frozen, Set.of(zombieId));
        await("the frozen agent's tasks firing on the others").atMost(REASSIGNMENT_BOUND)
                .until(() -> zombieTasks.stream().allMatch(task -> ledger.firstFireElsewhere(Set.of(task), zombieId, frozen)
                        .isPresent()));
        Instant firstMoved = ledger.firstFireElsewhere(zombieTasks, zombieId, frozen).orElseThrow();
        Instant thawed = Instant.now();
        zombie.signal("CONT");

        // For 8 s after it wakes no fire may run twice: the zombie fences itself until ZooKeeper
        // tells it its session is gone, then re-reads its allocation (which no longer has the tasks).
        await("no fire runs twice after the zombie wakes").during(scaled(Duration.ofSeconds(8)))
                .atMost(scaled(Duration.ofSeconds(20))).pollInterval(Duration.ofMillis(500))
                .until(() -> ledger.duplicateFires().isEmpty());
        Instant observedUntil = Instant.now();
        assertThat(zombie.isAlive()).as("the zombie survives its wake-up").isTrue();
        awaitEveryTaskHeldByALiveAgent(thawed, Set.of());

        FireAccounting.Report report = awaitAccountedFor(nextSecond(frozen), observedUntil);
        assertNoFireRanTwice();
        // The zombie's return is a join: the leader may give it some tasks back, hand-overs between
        // live agents after the wake-up. Before it, only the frozen agent's tasks may have moved.
        assertThat(report.handOvers()).filteredOn(handOver -> handOver.lastFireThere().isBefore(thawed))
                .as("hand-overs while frozen: only the frozen agent's tasks move")
                .allSatisfy(handOver -> {
                    assertThat(handOver.fromAgent()).isEqualTo(zombieId);
                    assertThat(zombieTasks).contains(handOver.taskId());
                });
        assertHandOversAreBounded(report);
        log.info("recovery: SIGSTOP of agent {} ({} tasks) -> every task on a live agent in the allocation after {} ms,"
                        + " first moved fire {} ms after the freeze; woken {} ms after the freeze, no fire ran twice; {}",
                zombieId, zombieTasks.size(), reassigned.toMillis(), Duration.between(frozen, firstMoved).toMillis(),
                Duration.between(frozen, thawed).toMillis(), report.summary());
    }

    @Test
    @Order(3)
    void killingTheControlPlaneLeaderLosesNoFireAndTheOtherReplicaTakesOver() throws Exception {
        awaitSteadyState();
        Replica leader = await("a replica leads and has published").atMost(scaled(Duration.ofSeconds(30)))
                .until(this::leadingReplica, Objects::nonNull);
        Replica survivor = replicas.values().stream().filter(r -> r != leader).findFirst().orElseThrow();

        Instant killed = Instant.now();
        leader.process().kill();
        replicas.remove(leader.id());
        String created = survivor.api().createTask("""
                {"name": "after-the-kill", "command": "%s", "schedules": [{"expression": "* * * * * ?"}]}"""
                .formatted(ledger.command())).get("id").asText();
        Instant survivorLeads = await("the survivor leads and has published").atMost(REASSIGNMENT_BOUND)
                .pollInterval(Duration.ofMillis(200))
                .until(() -> {
                    AllocationView view = AllocationView.read(survivor.api()).orElse(null);
                    return view != null && view.fromLeader() && view.reasonsFrom().isAfter(killed) ? Instant.now() : null;
                }, Objects::nonNull);
        Duration reassigned = awaitEveryTaskHeldByALiveAgent(killed, Set.of());
        await("the task created on the survivor fires").atMost(scaled(Duration.ofSeconds(30)))
                .until(() -> ledger.allFiredSince(List.of(created), killed));
        Instant createdFirstFire = ledger.fires(created, killed, Instant.MAX).stream().min(Instant::compareTo)
                .orElseThrow();

        FireAccounting.Report report = awaitAccountedFor(nextSecond(killed),
                max(createdFirstFire, survivorLeads).plus(SETTLED));
        assertNoFireRanTwice();
        // Agents fire on their own clocks and spool results: a standard task misses nothing. Strict
        // fires whose claims waited for the agent's stream to move may be recorded MISSED.
        assertThat(report.notRun(standardTasks)).as("standard fires that did not run during the failover").isEmpty();
        assertThat(report.handOvers()).as("hand-overs: a control-plane failover moves no task").isEmpty();
        // Checked from here on like the others (its fires before it existed are no one's).
        allTasks.add(created);
        log.info("recovery: kill -9 of the leading replica {} -> {} leads and has published after {} ms, every task on a"
                        + " live agent in its allocation after {} ms, a task created on it first fired {} ms after the"
                        + " kill; strict fires recorded as not run: {}; {}", leader.id(), survivor.id(),
                Duration.between(killed, survivorLeads).toMillis(), reassigned.toMillis(),
                Duration.between(killed, createdFirstFire).toMillis(), report.notRun(strictTasks).size(),
                report.summary());
    }

    @Test
    @Order(4)
    void stoppingTheZooKeeperLeaderNeitherDoublesNorLosesAFire() throws Exception {
        awaitSteadyState();
        ManagedProcess zookeeperLeader = system.zookeeperLeader();
        assertThat(zookeeperLeader).as("the ensemble's leader").isNotNull();

        Instant stopped = Instant.now();
        zookeeperLeader.kill();
        Instant elected = await("a new ZooKeeper leader").atMost(scaled(Duration.ofSeconds(30)))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> system.zookeeperLeader() != null ? Instant.now() : null, Objects::nonNull);
        Duration reassigned = awaitEveryTaskHeldByALiveAgent(stopped, Set.of());
        Instant checkedUntil = Instant.now().truncatedTo(ChronoUnit.SECONDS).plus(SETTLED);

        FireAccounting.Report report = awaitAccountedFor(nextSecond(stopped), checkedUntil);
        assertNoFireRanTwice();
        // Agents stop firing while their connection is SUSPENDED and, on RECONNECTED, their
        // misfire policy runs or records what fell due meanwhile. A task moves only if an agent's
        // session expired (an election slower than the session timeout); then the fires between
        // its two owners are lost, as after any hand-over.
        assertHandOversAreBounded(report);
        // Fires missed while fenced and caught up late count as run: the ledger has no start times.
        List<Instant> notRun = report.notRun(allTasks);
        String lastNotRun = notRun.isEmpty() ? "none"
                : Duration.between(stopped, notRun.get(notRun.size() - 1)).toMillis() + " ms after the kill";
        log.info("recovery: kill -9 of the ZooKeeper leader -> new leader elected after {} ms, every task on a live"
                        + " agent in the allocation (the REST view answers again) after {} ms, fires not run: {}"
                        + " (last: {}); {}", Duration.between(stopped, elected).toMillis(), reassigned.toMillis(),
                notRun.size(), lastNotRun, report.summary());
    }

    private void startAgent() throws Exception {
        agentsStarted++;
        String agentId = "fault-" + (char) ('a' + agentsStarted - 1);
        agents.put(agentId, system.startAgent(agentId));
    }

    /** A replica that is up; REST answers the same on any of them. */
    private Api api() {
        return replicas.values().iterator().next().api();
    }

    /**
     * Three live agents (a replacement for one killed before), each holding some tasks, no task
     * unassigned, every task firing.
     */
    private void awaitSteadyState() throws Exception {
        while (agents.size() < AGENTS) {
            startAgent();
        }
        await("every task held by a live agent, and every agent holding some").atMost(scaled(Duration.ofSeconds(60)))
                .pollInterval(Duration.ofMillis(250)).until(() -> AllocationView.read(api())
                        .filter(view -> view.everyTaskHeldByALiveAgent(Set.of())
                                && agents.keySet().stream().allMatch(agent -> view.taskCountOf(agent) > 0))
                        .isPresent());
        await("every task firing, on every agent").atMost(scaled(Duration.ofSeconds(60)))
                .pollInterval(Duration.ofMillis(250)).until(() -> {
                    Instant recently = Instant.now().minusSeconds(2);
                    return ledger.allFiredSince(allTasks, recently)
                            && agents.keySet().stream().noneMatch(agent -> ledger.tasksRunBy(agent, recently).isEmpty());
                });
    }

    private String agentHoldingTheMostTasks() {
        AllocationView view = AllocationView.read(api()).orElseThrow();
        return agents.keySet().stream().max(Comparator.comparingInt(view::taskCountOf)).orElseThrow();
    }

    /** The replica that leads allocation, or null while none has published since it began to lead. */
    private Replica leadingReplica() {
        return replicas.values().stream()
                .filter(replica -> AllocationView.read(replica.api()).map(AllocationView::fromLeader).orElse(false))
                .findFirst().orElse(null);
    }

    /**
     * Waits until the allocation view holds every live task in the Assignment of a live agent
     * (none in {@code notFiring}); returns how long after the fault that was seen.
     */
    private Duration awaitEveryTaskHeldByALiveAgent(Instant fault, Collection<String> notFiring) {
        Instant held = await("every live task held by a live agent").atMost(REASSIGNMENT_BOUND)
                .pollInterval(Duration.ofMillis(200))
                .until(() -> AllocationView.read(api()).filter(view -> view.everyTaskHeldByALiveAgent(notFiring))
                        .map(view -> Instant.now()).orElse(null), Objects::nonNull);
        return Duration.between(fault, held);
    }

    /**
     * Waits until every task has fired past {@code to} and every fire of [from, to) is stored or
     * recorded, then returns the accounting; fails naming the fires that are not accounted for.
     */
    private FireAccounting.Report awaitAccountedFor(Instant from, Instant to) {
        Instant end = to.truncatedTo(ChronoUnit.SECONDS);
        await("every task fired past the checked window").atMost(scaled(Duration.ofSeconds(30)))
                .pollInterval(Duration.ofMillis(250)).until(() -> ledger.allFiredSince(allTasks, end));
        AtomicReference<FireAccounting.Report> report = new AtomicReference<>();
        await("every fire of the window accounted for").atMost(scaled(Duration.ofSeconds(30)))
                .pollInterval(Duration.ofSeconds(1)).untilAsserted(() -> {
                    report.set(FireAccounting.account(api(), ledger, allTasks, from, end));
                    assertThat(report.get().inconsistent()).as("fires the ledger and the stored runs disagree on")
                            .isEmpty();
                    assertThat(report.get().notStoredYet()).as("fires that ran but are not stored").isEmpty();
                    assertThat(report.get().unaccounted())
                            .as("fires neither run, nor recorded by policy, nor between two owners").isEmpty();
                });
        return report.get();
    }

    private void assertNoFireRanTwice() {
        assertThat(ledger.duplicateFires()).as("fires that ran twice").isEmpty();
    }

    /**
     * The new owner of a moved task looks back before its assignment and accounts for the gap: a
     * strict task claims each fire (the previous owner's are denied; the rest are run or recorded
     * MISSED by the misfire policy); a standard task records each MISSED provisionally (the
     * previous owner's report of a fire it ran replaces the record). So no fire is lost.
     */
    private void assertHandOversAreBounded(FireAccounting.Report report) {
        for (FireAccounting.HandOver handOver : report.handOvers()) {
            assertThat(report.lostAt(handOver)).as("fires lost at %s", handOver).isZero();
        }
    }

    private static Instant nextSecond(Instant instant) {
        return instant.truncatedTo(ChronoUnit.SECONDS).plusSeconds(1);
    }

    private static Instant max(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }
}
