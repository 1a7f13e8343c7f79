package io.cloudtask.controlplane.gateway;

import io.cloudtask.controlplane.claim.FireClaims;
import io.cloudtask.controlplane.cluster.AgentAdmission;
import io.cloudtask.controlplane.cluster.AgentDirectory;
import io.cloudtask.controlplane.cluster.ClusterService;
import io.cloudtask.controlplane.command.AgentCommands;
import io.cloudtask.controlplane.run.RunIngestion;
import io.cloudtask.controlplane.task.TaskService;
import java.time.Clock;

/** What a session needs from the rest of the control plane; implemented by the gateway service. */
interface GatewayContext {
    TaskService tasks();

    ClusterService clusters();

    RunIngestion ingestion();

    AgentDirectory agents();

    AgentAdmission admission();

    AgentCommands commands();

    FireClaims claims();

    Clock clock();

    String replicaId();

    void register(AgentSession session);

    void unregister(AgentSession session);
}
