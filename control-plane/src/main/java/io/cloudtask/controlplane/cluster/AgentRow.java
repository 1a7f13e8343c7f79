package io.cloudtask.controlplane.cluster;

import java.time.Instant;
import java.util.Map;

/** An agent as recorded in PostgreSQL: what it last reported, and the operator's flags. */
record AgentRow(String id, String cluster, String hostname, String os, String arch, String agentVersion,
        Map<String, String> labels, int capacity, Instant firstSeenAt, Instant lastSeenAt, AgentFlags flags,
        String connectedReplica) {}
