package io.cloudtask.controlplane.cluster;

import io.micronaut.data.annotation.Id;
import io.micronaut.data.annotation.MappedEntity;
import java.time.Instant;

@MappedEntity("clusters")
record ClusterRow(@Id String name, String description, Instant createdAt) {}
