package io.cloudtask.controlplane.gateway;

import io.cloudtask.controlplane.claim.FireClaims;
import io.cloudtask.controlplane.cluster.AgentAdmission;
import io.cloudtask.controlplane.cluster.AgentDirectory;
import io.cloudtask.controlplane.cluster.ClusterService;
import io.cloudtask.controlplane.command.AgentCommands;
import io.cloudtask.controlplane.coordination.ReplicaIdentity;
import io.cloudtask.controlplane.pkg.PackageContent;
import io.cloudtask.controlplane.run.RunIngestion;
import io.cloudtask.controlplane.task.TaskService;
import io.cloudtask.proto.v1.AgentGatewayGrpc;
import io.cloudtask.proto.v1.AgentMessage;
import io.cloudtask.proto.v1.ControlMessage;
import io.cloudtask.proto.v1.FetchPackageRequest;
import io.cloudtask.proto.v1.PackageChunk;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The gRPC {@code AgentGateway}: one {@link AgentSession} per connected agent. Thread-safe.
 * Blocking work (database reads and writes) runs on a pool shared by the sessions, each session
 * serialised by its own executor, never on gRPC's transport threads.
 */
@Singleton
public class AgentGatewayService extends AgentGatewayGrpc.AgentGatewayImplBase implements GatewayContext {
    private final TaskService tasks;
    private final ClusterService clusters;
    private final RunIngestion ingestion;
    private final AgentDirectory agents;
    private final AgentAdmission admission;
    private final AgentCommands commands;
    private final FireClaims claims;
    private final PackageContent packages;
    private final Clock clock;
    private final String replicaId;
    private final ConcurrentMap<String, AgentSession> sessions = new ConcurrentHashMap<>();
    private final ExecutorService pool;

    AgentGatewayService(TaskService tasks, ClusterService clusters, RunIngestion ingestion, AgentDirectory agents,
            AgentAdmission admission, AgentCommands commands, FireClaims claims, PackageContent packages, Clock clock,
            ReplicaIdentity replica) {
        this.claims = claims;
        this.admission = admission;
        this.commands = commands;
        this.packages = packages;
        this.tasks = tasks;
        this.clusters = clusters;
        this.ingestion = ingestion;
        this.agents = agents;
        this.clock = clock;
        this.replicaId = replica.id();
        AtomicInteger threads = new AtomicInteger();
        this.pool = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "agent-gateway-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    @Override
    public StreamObserver<AgentMessage> connect(StreamObserver<ControlMessage> responseObserver) {
        AgentSession session = new AgentSession((ServerCallStreamObserver<ControlMessage>) responseObserver,
                new SerialExecutor(pool), this, RemoteAddressInterceptor.REMOTE_ADDRESS.get());
        session.start();
        return session;
    }

    @Override
    public void fetchPackage(FetchPackageRequest request, StreamObserver<PackageChunk> responseObserver) {
        new PackageFetch(request, (ServerCallStreamObserver<PackageChunk>) responseObserver, new SerialExecutor(pool),
                admission, clusters, agents, packages, RemoteAddressInterceptor.REMOTE_ADDRESS.get()).start();
    }

    /** Ids of the agents whose stream this replica holds. */
    public Set<String> connectedAgents() {
        return Set.copyOf(sessions.keySet());
    }

    /**
     * Sends the agent its pending commands if this replica holds its stream; does nothing
     * otherwise (the replica that holds it was notified too). Never blocks.
     */
    public void deliverCommands(String agentId) {
        AgentSession session = sessions.get(agentId);
        if (session != null) {
            session.deliverCommands();
        }
    }

    @Override
    public void register(AgentSession session) {
        AgentSession previous = sessions.put(session.agentId(), session);
        if (previous != null && previous != session) {
            previous.close(Status.ABORTED.withDescription("replaced by a newer stream from the same agent"));
        }
    }

    @Override
    public void unregister(AgentSession session) {
        sessions.remove(session.agentId(), session);
    }

    @PreDestroy
    void stop() {
        sessions.values().forEach(session ->
                session.close(Status.UNAVAILABLE.withDescription("control-plane replica is shutting down")));
        pool.shutdown();
    }

    @Override
    public TaskService tasks() {
        return tasks;
    }

    @Override
    public ClusterService clusters() {
        return clusters;
    }

    @Override
    public RunIngestion ingestion() {
        return ingestion;
    }

    @Override
    public AgentDirectory agents() {
        return agents;
    }

    @Override
    public AgentAdmission admission() {
        return admission;
    }

    @Override
    public AgentCommands commands() {
        return commands;
    }

    @Override
    public FireClaims claims() {
        return claims;
    }

    @Override
    public Clock clock() {
        return clock;
    }

    @Override
    public String replicaId() {
        return replicaId;
    }
}
