package io.cloudtask.controlplane.task;

import io.cloudtask.controlplane.allocation.LabelSelector;
import io.cloudtask.controlplane.api.ApiException;
import io.cloudtask.proto.v1.Placement;
import io.cloudtask.proto.v1.PlacementKind;
import io.cloudtask.protocol.ZkLayout;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Validates and normalises a task's {@code placement} at the edge, and maps it onto the
 * {@link Placement} of the contract. Selectors are checked by the allocator's own
 * {@link LabelSelector#parse}, so the API accepts exactly what allocation understands. Pure.
 */
final class PlacementValidator {
    static final int MAX_HOSTS = 1000;
    /** Agent ids (1-63 of letters, digits, '.', '_', '-') and DNS host names (up to 253). */
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");
    private static final int MAX_SELECTOR_LENGTH = 4096;

    private PlacementValidator() {}

    /**
     * The normalised placement; {@code null} means the default, any agent. A group is checked here
     * for its name only: whether the task's cluster has it is {@link TaskService}'s check.
     */
    static PlacementRequest validate(PlacementRequest placement) {
        if (placement == null) {
            return PlacementRequest.ANY;
        }
        String type = placement.type() == null ? "any" : placement.type().strip().toLowerCase(Locale.ROOT);
        return switch (type) {
            case "any" -> {
                rejectHosts(placement, "any");
                rejectSelector(placement, "any", "use type 'labels' to choose agents by label");
                rejectGroup(placement, "any");
                yield PlacementRequest.ANY;
            }
            case "hosts" -> {
                rejectSelector(placement, "hosts", "use type 'labels' to choose agents by label");
                rejectGroup(placement, "hosts");
                yield new PlacementRequest("hosts", hosts(placement.hosts()), null, null);
            }
            case "labels" -> {
                rejectHosts(placement, "labels");
                rejectGroup(placement, "labels");
                String selector = selector(placement.selector());
                if (selector.isEmpty()) {
                    throw ApiException.invalid("placement.selector", "placement type 'labels' needs a selector"
                            + " such as 'os=windows,zone=a'; for any agent use {\"type\": \"any\"}");
                }
                yield new PlacementRequest("labels", null, selector, null);
            }
            case "group" -> {
                rejectHosts(placement, "group");
                rejectSelector(placement, "group", "the group's own selector chooses its agents");
                yield new PlacementRequest("group", null, null, group(placement.group(), "group"));
            }
            case "broadcast" -> {
                rejectHosts(placement, "broadcast");
                if (placement.group() != null) {
                    if (placement.selector() != null && !placement.selector().isBlank()) {
                        throw ApiException.invalid("placement.group", "placement type 'broadcast' takes either a"
                                + " selector or a group, not both: the group's own selector chooses its agents");
                    }
                    yield new PlacementRequest("broadcast", null, null, group(placement.group(), "broadcast"));
                }
                yield new PlacementRequest("broadcast", null, selector(placement.selector()), null);
            }
            default -> throw ApiException.invalid("placement.type", "placement type '" + placement.type()
                    + "' is unknown; use 'any', 'hosts', 'labels', 'group' or 'broadcast'");
        };
    }

    /** The contract form of a normalised placement (as stored). */
    static Placement toProto(PlacementRequest placement) {
        Placement.Builder proto = Placement.newBuilder();
        switch (placement.type()) {
            case "hosts" -> proto.setKind(PlacementKind.PLACEMENT_KIND_NAMED).addAllNames(placement.hosts());
            case "labels" -> proto.setKind(PlacementKind.PLACEMENT_KIND_LABEL_SELECTOR)
                    .setLabelSelector(placement.selector());
            case "group" -> proto.setKind(PlacementKind.PLACEMENT_KIND_LABEL_SELECTOR).setGroup(placement.group());
            case "broadcast" -> {
                proto.setKind(PlacementKind.PLACEMENT_KIND_BROADCAST);
                if (placement.group() != null) {
                    proto.setGroup(placement.group());
                } else {
                    proto.setLabelSelector(placement.selector() == null ? "" : placement.selector());
                }
            }
            default -> proto.setKind(PlacementKind.PLACEMENT_KIND_ANY);
        }
        return proto.build();
    }

    private static String group(String group, String type) {
        String name = group == null ? null : group.strip();
        if (name == null || name.isEmpty()) {
            throw ApiException.invalid("placement.group", "placement type '" + type + "' needs a group: the name of"
                    + " an agent group of the task's cluster (GET /api/v1/clusters/{cluster}/groups)");
        }
        if (!ZkLayout.isValidSegment(name)) {
            throw ApiException.invalid("placement.group", "placement.group '" + name + "' is not a group name"
                    + " (1-63 letters, digits, '.', '_' or '-', starting with a letter or digit)");
        }
        return name;
    }

    private static void rejectGroup(PlacementRequest placement, String type) {
        if (placement.group() != null) {
            throw ApiException.invalid("placement.group", "placement type '" + type + "' takes no group; use"
                    + " {\"type\": \"group\", \"group\": \"...\"} for one agent of a group or {\"type\": \"broadcast\","
                    + " \"group\": \"...\"} for all of them");
        }
    }

    private static List<String> hosts(List<String> hosts) {
        if (hosts == null || hosts.isEmpty()) {
            throw ApiException.invalid("placement.hosts", "placement type 'hosts' needs at least one agent id or"
                    + " host name, for example [\"agent-1\", \"web-01.example.com\"]");
        }
        if (hosts.size() > MAX_HOSTS) {
            throw ApiException.invalid("placement.hosts", "placement.hosts has " + hosts.size()
                    + " entries; the limit is " + MAX_HOSTS + ": label those agents and use type 'labels'");
        }
        Set<String> distinct = new LinkedHashSet<>();
        for (int i = 0; i < hosts.size(); i++) {
            String host = hosts.get(i) == null ? null : hosts.get(i).strip();
            if (host == null || !HOST.matcher(host).matches()) {
                throw ApiException.invalid("placement.hosts[" + i + "]", "placement.hosts[" + i + "] is "
                        + (host == null ? "null" : "'" + host + "'") + "; give an agent id or a host name (letters,"
                        + " digits, '.', '_', '-', starting with a letter or digit, at most 253 characters)");
            }
            distinct.add(host);
        }
        return new ArrayList<>(distinct);
    }

    private static String selector(String selector) {
        if (selector == null || selector.isBlank()) {
            return "";
        }
        if (selector.length() > MAX_SELECTOR_LENGTH) {
            throw ApiException.invalid("placement.selector", "placement.selector is " + selector.length()
                    + " characters; the limit is " + MAX_SELECTOR_LENGTH);
        }
        try {
            return LabelSelector.parse(selector).toString();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("placement.selector", e.getMessage());
        }
    }

    private static void rejectHosts(PlacementRequest placement, String type) {
        if (placement.hosts() != null && !placement.hosts().isEmpty()) {
            throw ApiException.invalid("placement.hosts", "placement type '" + type + "' takes no hosts;"
                    + " use {\"type\": \"hosts\", \"hosts\": [...]} to name agents");
        }
    }

    private static void rejectSelector(PlacementRequest placement, String type, String hint) {
        if (placement.selector() != null && !placement.selector().isBlank()) {
            throw ApiException.invalid("placement.selector", "placement type '" + type + "' takes no selector; "
                    + hint);
        }
    }
}
