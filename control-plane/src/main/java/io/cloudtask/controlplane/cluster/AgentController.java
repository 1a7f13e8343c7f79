package io.cloudtask.controlplane.cluster;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import java.util.List;

/** REST adapter for agents under {@code /api/v1/agents}: listing, cordon, drain. */
@Controller("/api/v1/agents")
class AgentController {
    private final AgentService agents;

    AgentController(AgentService agents) {
        this.agents = agents;
    }

    @Get
    List<AgentView> list(@QueryValue @Nullable String cluster) {
        return agents.list(cluster);
    }

    @Get("/{id}")
    AgentView get(@PathVariable String id) {
        return agents.get(id);
    }

    @Post("/{id}/cordon")
    AgentView cordon(@PathVariable String id) {
        return agents.cordon(id);
    }

    @Post("/{id}/uncordon")
    AgentView uncordon(@PathVariable String id) {
        return agents.uncordon(id);
    }

    @Post("/{id}/drain")
    AgentView drain(@PathVariable String id) {
        return agents.drain(id);
    }
}
