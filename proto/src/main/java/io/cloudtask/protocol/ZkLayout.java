package io.cloudtask.protocol;

import com.google.protobuf.InvalidProtocolBufferException;
import io.cloudtask.proto.v1.AgentInfo;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.AssignmentPart;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The ZooKeeper layout of CloudTask: every path and every payload (de)serialiser lives here, so
 * the control plane, the Java agent and agents in other languages agree on one contract.
 *
 * <pre>
 * /cloudtask/control-plane/leader            LeaderLatch
 * /cloudtask/control-plane/replicas/{id}     ephemeral: the replica's gRPC endpoint (UTF-8)
 * /cloudtask/control-plane/tasks-changed     persistent: touched after every task change
 * /cloudtask/clusters/{cluster}/agents/{id}  ephemeral: AgentInfo
 * /cloudtask/clusters/{cluster}/allocation/{agentId}  persistent: Assignment
 * /cloudtask/clusters/{cluster}/allocation/{agentId}/part-{epoch}-{index}
 *                                            persistent: AssignmentPart of a split Assignment
 * </pre>
 *
 * <p>Stateless and thread-safe.
 */
public final class ZkLayout {
    /** Root of every CloudTask node. */
    public static final String ROOT = "/cloudtask";
    /** Root of all clusters; its grandchildren are agents and allocations. */
    public static final String CLUSTERS = ROOT + "/clusters";
    /** LeaderLatch path of the control-plane replicas. */
    public static final String LEADER = ROOT + "/control-plane/leader";
    /** Parent of the replicas' ephemeral nodes. */
    public static final String REPLICAS = ROOT + "/control-plane/replicas";
    /**
     * A persistent node whose data any replica rewrites after it commits a task change; the
     * leader watches it and republishes allocations (so a change reaches agents in milliseconds).
     */
    public static final String TASKS_CHANGED = ROOT + "/control-plane/tasks-changed";

    /** Cluster names and agent ids: 1-63 characters of letters, digits, '.', '_' and '-'. */
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    private ZkLayout() {}

    /** Whether {@code value} may be used as a cluster name or agent id (one path segment). */
    public static boolean isValidSegment(String value) {
        return value != null && SEGMENT.matcher(value).matches();
    }

    public static String cluster(String cluster) {
        return CLUSTERS + "/" + segment(cluster, "cluster");
    }

    /** Parent of the agents' ephemeral nodes of one cluster. */
    public static String agents(String cluster) {
        return cluster(cluster) + "/agents";
    }

    /** An agent's ephemeral liveness node. */
    public static String agent(String cluster, String agentId) {
        return agents(cluster) + "/" + segment(agentId, "agent id");
    }

    /** Parent of the per-agent Assignment nodes of one cluster. */
    public static String allocations(String cluster) {
        return cluster(cluster) + "/allocation";
    }

    /** The Assignment node of one agent. */
    public static String allocation(String cluster, String agentId) {
        return allocations(cluster) + "/" + segment(agentId, "agent id");
    }

    /** Prefix of the child nodes that hold the parts of a split Assignment. */
    public static final String PART_PREFIX = "part-";

    /** The node name of part {@code index} of a split Assignment, written in epoch {@code epoch}. */
    public static String allocationPartName(long epoch, int index) {
        return PART_PREFIX + Long.toUnsignedString(epoch) + "-" + index;
    }

    /** Part {@code index} of the agent's split Assignment, written in epoch {@code epoch}. */
    public static String allocationPart(String cluster, String agentId, long epoch, int index) {
        return allocation(cluster, agentId) + "/" + allocationPartName(epoch, index);
    }

    /**
     * The epoch in a part's node name ({@code part-{epoch}-{index}}), or -1 when the name is not
     * one of a part.
     */
    public static long allocationPartEpoch(String name) {
        if (!name.startsWith(PART_PREFIX)) {
            return -1;
        }
        int dash = name.indexOf('-', PART_PREFIX.length());
        try {
            return dash < 0 ? -1 : Long.parseUnsignedLong(name.substring(PART_PREFIX.length(), dash));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    public static String replica(String replicaId) {
        return REPLICAS + "/" + segment(replicaId, "replica id");
    }

    /** The last path segment (an agent id under agents/ or allocation/). */
    public static String lastSegment(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    public static byte[] encode(AgentInfo info) {
        return info.toByteArray();
    }

    public static AgentInfo decodeAgentInfo(byte[] data) {
        try {
            return AgentInfo.parseFrom(Objects.requireNonNull(data, "data"));
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not an AgentInfo payload: " + e.getMessage(), e);
        }
    }

    public static byte[] encode(Assignment assignment) {
        return assignment.toByteArray();
    }

    public static Assignment decodeAssignment(byte[] data) {
        try {
            return Assignment.parseFrom(Objects.requireNonNull(data, "data"));
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not an Assignment payload: " + e.getMessage(), e);
        }
    }

    public static byte[] encode(AssignmentPart part) {
        return part.toByteArray();
    }

    private static String segment(String value, String what) {
        if (!isValidSegment(value)) {
            throw new IllegalArgumentException(
                    what + " '" + value + "' must be 1-63 letters, digits, '.', '_' or '-', starting"
                            + " with a letter or digit");
        }
        return value;
    }
}
