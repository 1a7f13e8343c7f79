package io.cloudtask.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The published allocation as the REST view {@code GET /api/v1/clusters/default/allocation} shows
 * it (docs/rest-api.md): per agent whether its ZooKeeper session is alive and how many tasks its
 * published Assignment holds, and how many live tasks no agent holds. Immutable.
 *
 * @param unassignedCount live tasks in no agent's Assignment
 * @param agents every agent with an allocation node, by id
 * @param reasonsFrom when the answering replica last computed the allocation; null unless it leads
 */
record AllocationView(int unassignedCount, Map<String, AgentAllocation> agents, Instant reasonsFrom) {
    /** One agent's published Assignment. */
    record AgentAllocation(String agentId, boolean online, int taskCount) {}

    /**
     * The view as {@code api}'s replica answers it; empty while it cannot answer (503 while its
     * ZooKeeper connection is down, for example), so callers simply ask again.
     */
    static Optional<AllocationView> read(Api api) {
        Api.Answer answer = api.getAnswer("/api/v1/clusters/default/allocation");
        if (answer.status() != 200) {
            return Optional.empty();
        }
        JsonNode body = answer.body();
        Map<String, AgentAllocation> agents = new LinkedHashMap<>();
        body.get("agents").forEach(agent -> agents.put(agent.get("agentId").asText(), new AgentAllocation(
                agent.get("agentId").asText(), agent.get("online").asBoolean(), agent.get("taskCount").asInt())));
        Instant reasonsFrom = body.get("reasonsFrom").isNull() ? null : Instant.parse(body.get("reasonsFrom").asText());
        return Optional.of(new AllocationView(body.get("unassignedCount").asInt(), agents, reasonsFrom));
    }

    /** The task ids of one agent's published Assignment. */
    static List<String> taskIdsOf(Api api, String agentId) {
        JsonNode agent = api.get("/api/v1/clusters/default/allocation?agentId=" + agentId).get("agents").get(0);
        List<String> taskIds = new ArrayList<>();
        agent.get("taskIds").forEach(id -> taskIds.add(id.asText()));
        return taskIds;
    }

    /** Whether the answering replica leads allocation and has published since it began to lead. */
    boolean fromLeader() {
        return reasonsFrom != null;
    }

    /**
     * Agents that hold a task although they cannot fire it: their session has ended (offline), or
     * the caller knows them to be frozen ({@code notFiring}), which ZooKeeper only learns when the
     * session expires.
     */
    List<String> holdersThatCannotFire(Collection<String> notFiring) {
        return agents.values().stream()
                .filter(agent -> agent.taskCount() > 0 && (!agent.online() || notFiring.contains(agent.agentId())))
                .map(AgentAllocation::agentId).toList();
    }

    /**
     * No task is left unassigned: every live task is in the Assignment of an agent that is online
     * and not in {@code notFiring}.
     */
    boolean everyTaskHeldByALiveAgent(Collection<String> notFiring) {
        return unassignedCount == 0 && holdersThatCannotFire(notFiring).isEmpty();
    }

    /** How many tasks the agent's Assignment holds (0 when it has none). */
    int taskCountOf(String agentId) {
        AgentAllocation agent = agents.get(agentId);
        return agent == null ? 0 : agent.taskCount();
    }
}
