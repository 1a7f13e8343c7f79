package io.cloudtask.controlplane.allocation;

import io.cloudtask.proto.v1.AgentInfo;
import java.util.HashMap;
import java.util.Map;

/**
 * The labels that selectors see on an agent: its own labels, plus {@code os} and {@code arch}
 * from what it reports unless it sets those labels itself, so that {@code os=windows} selects by
 * what the agent runs on. The allocator, group membership and the agents API all read labels
 * through here, so a group lists exactly the agents its tasks can be placed on. Pure.
 */
public final class AgentLabels {
    private AgentLabels() {}

    /** The labels offered by a live agent's {@code AgentInfo}. */
    public static Map<String, String> offered(AgentInfo info) {
        return offered(info.getOs(), info.getArch(), info.getLabelsMap());
    }

    /** The labels offered by an agent that reported this os, arch and labels (null: not reported). */
    public static Map<String, String> offered(String os, String arch, Map<String, String> labels) {
        Map<String, String> offered = new HashMap<>();
        if (os != null && !os.isEmpty()) {
            offered.put("os", os);
        }
        if (arch != null && !arch.isEmpty()) {
            offered.put("arch", arch);
        }
        if (labels != null) {
            offered.putAll(labels);
        }
        return offered;
    }
}
