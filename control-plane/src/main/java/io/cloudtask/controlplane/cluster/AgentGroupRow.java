package io.cloudtask.controlplane.cluster;

import java.time.Instant;

/** An agent group as stored: a named label selector (canonical form) within a cluster. */
record AgentGroupRow(String cluster, String name, String selector, String description, long version,
        Instant createdAt, Instant updatedAt) {}
