package io.cloudtask.controlplane.gateway;

import com.google.protobuf.ByteString;
import io.cloudtask.controlplane.api.GrpcErrors;
import io.cloudtask.controlplane.cluster.AgentAdmission;
import io.cloudtask.controlplane.cluster.AgentDirectory;
import io.cloudtask.controlplane.cluster.ClusterService;
import io.cloudtask.controlplane.pkg.PackageContent;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.FetchPackageRequest;
import io.cloudtask.proto.v1.PackageChunk;
import io.cloudtask.protocol.ZkLayout;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import java.net.InetAddress;
import java.util.OptionalLong;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@code FetchPackage} call: admits the caller as a Hello would be admitted, checks that a live
 * task of its cluster uses the package, then sends the package from the requested offset, one
 * stored chunk per message and only while the call is ready, so a slow agent never makes the
 * replica buffer a package. All work, and every write to the observer, runs on the call's serial
 * executor (database reads never run on gRPC transport threads). Thread-safe.
 */
final class PackageFetch {
    private static final Logger log = LoggerFactory.getLogger(PackageFetch.class);

    private final FetchPackageRequest request;
    private final ServerCallStreamObserver<PackageChunk> out;
    private final Executor serial;
    private final AgentAdmission admission;
    private final ClusterService clusters;
    private final AgentDirectory agents;
    private final PackageContent packages;
    private final InetAddress remote;
    // Confined to the serial executor, except cancelled (set by gRPC).
    private volatile boolean cancelled;
    private boolean admitted;
    private boolean done;
    private long position;
    private long size;

    PackageFetch(FetchPackageRequest request, ServerCallStreamObserver<PackageChunk> out, Executor serial,
            AgentAdmission admission, ClusterService clusters, AgentDirectory agents, PackageContent packages,
            InetAddress remote) {
        this.request = request;
        this.out = out;
        this.serial = serial;
        this.admission = admission;
        this.clusters = clusters;
        this.agents = agents;
        this.packages = packages;
        this.remote = remote;
    }

    /** Called on the gRPC thread that delivered the request: registers the handlers and returns. */
    void start() {
        out.setOnCancelHandler(() -> cancelled = true);
        out.setOnReadyHandler(() -> serial.execute(this::pump));
        serial.execute(() -> {
            try {
                admit();
                admitted = true;
            } catch (RuntimeException e) {
                fail(e);
                return;
            }
            pump();
        });
    }

    private void admit() {
        if (!ZkLayout.isValidSegment(request.getAgentId())) {
            throw invalid("agent_id '" + request.getAgentId() + "' is not a valid agent id"
                    + " (1-63 letters, digits, '.', '_', '-')");
        }
        if (!ZkLayout.isValidSegment(request.getCluster()) || !clusters.exists(request.getCluster())) {
            throw Status.FAILED_PRECONDITION.withDescription("cluster '" + request.getCluster()
                    + "' does not exist; configure the agent with an existing cluster").asRuntimeException();
        }
        if (!PackageContent.isSha256(request.getSha256())) {
            throw invalid("sha256 '" + request.getSha256() + "' is not 64 lower-case hex digits"
                    + " (use TaskPackage.sha256 of the spec)");
        }
        // Host globs match the host name the agent reported in its last Hello.
        AgentInfo info = AgentInfo.newBuilder()
                .setHostname(agents.recordedHostname(request.getAgentId()).orElse(""))
                .build();
        admission.admit(request.getAgentId(), request.getCluster(), request.getJoinToken(), info, remote);
        OptionalLong found = packages.sizeUsedInCluster(request.getSha256(), request.getCluster());
        if (found.isEmpty()) {
            throw Status.NOT_FOUND.withDescription("no task of cluster '" + request.getCluster()
                    + "' uses package " + request.getSha256()).asRuntimeException();
        }
        size = found.getAsLong();
        if (request.getOffset() > size) {
            throw invalid("offset " + Long.toUnsignedString(request.getOffset()) + " is beyond the package's "
                    + size + " bytes");
        }
        position = request.getOffset();
    }

    /** Sends chunks while the transport takes them; the ready handler calls again when it drains. */
    private void pump() {
        if (!admitted || done) {
            return;
        }
        try {
            while (!cancelled && position < size && out.isReady()) {
                int seq = Math.toIntExact(position / PackageContent.CHUNK_BYTES);
                int within = (int) (position % PackageContent.CHUNK_BYTES);
                byte[] chunk = packages.chunk(request.getSha256(), seq);
                ByteString data = ByteString.copyFrom(chunk, within, chunk.length - within);
                out.onNext(PackageChunk.newBuilder().setOffset(position).setData(data).setTotalSize(size).build());
                position += data.size();
            }
            if (cancelled) {
                done = true;
                log.debug("agent {} cancelled fetching package {} at offset {}", request.getAgentId(),
                        request.getSha256(), position);
            } else if (position >= size) {
                done = true;
                out.onCompleted();
            }
        } catch (RuntimeException e) {
            fail(e);
        }
    }

    private void fail(RuntimeException e) {
        done = true;
        Status status = e instanceof StatusRuntimeException grpc ? grpc.getStatus() : GrpcErrors.toStatus(e);
        if (status.getCode() == Status.Code.INTERNAL) {
            log.error("FetchPackage of {} by agent {} failed", request.getSha256(), request.getAgentId(), e);
        }
        if (!cancelled) {
            out.onError(status.asRuntimeException());
        }
    }

    private static StatusRuntimeException invalid(String description) {
        return Status.INVALID_ARGUMENT.withDescription(description).asRuntimeException();
    }
}
