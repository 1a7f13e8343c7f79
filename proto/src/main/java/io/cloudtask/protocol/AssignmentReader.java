package io.cloudtask.protocol;

import com.google.protobuf.InvalidProtocolBufferException;
import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.AssignmentPart;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads an agent's Assignment, assembling a split one from its parts (docs/agent-protocol.md):
 * the allocation node holds the header ({@code Assignment.part_epochs}), its children
 * {@code part-{epoch}-{index}} hold the tasks. The result is always a whole Assignment, with the
 * tasks inline and {@code part_epochs} cleared. Independent of the ZooKeeper client: the caller
 * supplies how a node is read. Stateless and thread-safe.
 */
public final class AssignmentReader {
    private AssignmentReader() {}

    /** Reads one znode's data. */
    @FunctionalInterface
    public interface Nodes {
        /** The node's data, or null when the node does not exist. */
        byte[] read(String path) throws Exception;
    }

    /**
     * The header and its parts did not belong together: a part was missing or of another epoch
     * (the reader fell behind a rewrite). Read the whole assignment again.
     */
    public static final class TornReadException extends Exception {
        TornReadException(String message) {
            super(message);
        }
    }

    /**
     * Reads the allocation node of {@code agentId} and its parts, reading again (up to
     * {@code attempts} times in all) when the read was torn.
     *
     * @return empty when the allocation node does not exist
     * @throws TornReadException when every attempt was torn
     * @throws IllegalArgumentException when a payload is not an Assignment or AssignmentPart
     */
    public static Optional<Assignment> read(Nodes nodes, String cluster, String agentId, int attempts) throws Exception {
        TornReadException last = null;
        for (int attempt = 0; attempt < Math.max(1, attempts); attempt++) {
            byte[] data = nodes.read(ZkLayout.allocation(cluster, agentId));
            if (data == null) {
                return Optional.empty();
            }
            try {
                return Optional.of(complete(ZkLayout.decodeAssignment(data), nodes, cluster, agentId));
            } catch (TornReadException e) {
                last = e;
            }
        }
        throw last;
    }

    /** Completes a header already read: itself when it is not split, else with its parts' tasks. */
    public static Assignment complete(Assignment header, Nodes nodes, String cluster, String agentId) throws Exception {
        if (header.getPartEpochsCount() == 0) {
            return header;
        }
        List<AssignedTask> tasks = new ArrayList<>();
        for (int index = 0; index < header.getPartEpochsCount(); index++) {
            long epoch = header.getPartEpochs(index);
            String path = ZkLayout.allocationPart(cluster, agentId, epoch, index);
            byte[] data = nodes.read(path);
            if (data == null) {
                throw new TornReadException("part " + path + " of assignment epoch "
                        + Long.toUnsignedString(header.getEpoch()) + " is gone: the assignment was rewritten");
            }
            AssignmentPart part = decodePart(data, path);
            if (part.getEpoch() != epoch || part.getIndex() != index) {
                throw new TornReadException("part " + path + " says epoch " + Long.toUnsignedString(part.getEpoch())
                        + " index " + part.getIndex());
            }
            tasks.addAll(part.getTasksList());
        }
        return header.toBuilder().clearPartEpochs().addAllTasks(tasks).build();
    }

    private static AssignmentPart decodePart(byte[] data, String path) {
        try {
            return AssignmentPart.parseFrom(data);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not an AssignmentPart payload in " + path + ": " + e.getMessage(), e);
        }
    }
}
