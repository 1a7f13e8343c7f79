package io.cloudtask.controlplane.allocation;

import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Where a task may run: the allocator's form of a task's {@code placement} (REST) and
 * {@code TaskSpec.placement} (proto).
 *
 * <ul>
 *   <li>{@link Kind#ANY}: one agent of the cluster, chosen by the allocator.
 *   <li>{@link Kind#NAMED}: one agent out of a list of agent ids or host names (the original
 *       product's "server list"). Host names compare without regard to case, ids exactly.
 *   <li>{@link Kind#LABEL_SELECTOR}: one agent whose labels satisfy {@link #selector()}.
 *   <li>{@link Kind#BROADCAST}: every agent whose labels satisfy {@link #selector()} (every agent
 *       when it is empty) runs its own copy.
 * </ul>
 *
 * <p>Names are kept sorted and distinct so that equal placements are equal values.
 */
public record TaskPlacement(Kind kind, List<String> names, LabelSelector selector) {
    private static final TaskPlacement ANY = new TaskPlacement(Kind.ANY, List.of(), new LabelSelector(List.of()));
    private static final TaskPlacement BROADCAST_ALL =
            new TaskPlacement(Kind.BROADCAST, List.of(), new LabelSelector(List.of()));

    /** The kinds of placement constraint. */
    public enum Kind {
        ANY,
        NAMED,
        LABEL_SELECTOR,
        BROADCAST
    }

    public TaskPlacement {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(selector, "selector");
        names = List.copyOf(new TreeSet<>(names));
        switch (kind) {
            case ANY -> require(names.isEmpty() && selector.isEmpty(), "an ANY placement takes no names and no selector");
            case NAMED -> require(!names.isEmpty() && selector.isEmpty(),
                    "a NAMED placement needs at least one agent id or host name, and no selector");
            case LABEL_SELECTOR -> require(names.isEmpty() && !selector.isEmpty(),
                    "a LABEL_SELECTOR placement needs at least one requirement (use ANY for every agent), and no names");
            case BROADCAST -> require(names.isEmpty(), "a BROADCAST placement takes a selector, not names");
        }
        for (String name : names) {
            require(name != null && !name.isBlank(), "a NAMED placement cannot name a blank agent");
        }
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Any one agent of the cluster: the default. */
    public static TaskPlacement any() {
        return ANY;
    }

    /** Any one of these agents, by agent id or host name. */
    public static TaskPlacement named(Collection<String> agentIdsOrHostNames) {
        return new TaskPlacement(Kind.NAMED, List.copyOf(agentIdsOrHostNames), new LabelSelector(List.of()));
    }

    /** Any one agent whose labels match, for example {@code labels("os=windows,zone=a")}. */
    public static TaskPlacement labels(String selector) {
        return new TaskPlacement(Kind.LABEL_SELECTOR, List.of(), LabelSelector.parse(selector));
    }

    /** Every agent of the cluster runs the task. */
    public static TaskPlacement broadcast() {
        return BROADCAST_ALL;
    }

    /** Every agent whose labels match runs the task. */
    public static TaskPlacement broadcast(String selector) {
        return new TaskPlacement(Kind.BROADCAST, List.of(), LabelSelector.parse(selector));
    }

    public boolean isBroadcast() {
        return kind == Kind.BROADCAST;
    }

    /** Whether the constraint admits this agent; liveness and cordons are the allocator's business. */
    public boolean admits(AgentState agent) {
        return switch (kind) {
            case ANY -> true;
            case NAMED -> names.contains(agent.id()) || namesHost(agent.hostname());
            case LABEL_SELECTOR, BROADCAST -> selector.matches(agent.labels());
        };
    }

    // Host names are case-insensitive (RFC 4343); agent ids are not.
    private boolean namesHost(String hostname) {
        if (hostname.isEmpty()) {
            return false;
        }
        for (String name : names) {
            if (name.equalsIgnoreCase(hostname)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return switch (kind) {
            case ANY -> "ANY";
            case NAMED -> "NAMED" + names;
            case LABEL_SELECTOR -> "LABEL_SELECTOR(" + selector + ")";
            case BROADCAST -> "BROADCAST(" + selector + ")";
        };
    }
}
