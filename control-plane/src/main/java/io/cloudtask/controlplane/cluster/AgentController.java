package io.cloudtask.controlplane.cluster;

import io.cloudtask.controlplane.api.ApiException;
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

    /** {@code ?waitForRuns=false} moves the tasks whose runs are in flight here too (default true). */
    @Post("/{id}/drain")
    AgentView drain(@PathVariable String id, @QueryValue @Nullable String waitForRuns) {
        return agents.drain(id, parseWaitForRuns(waitForRuns));
    }

    private static boolean parseWaitForRuns(String value) {
        if (value == null || value.isEmpty() || value.equalsIgnoreCase("true")) {
            return true;
        }
        if (value.equalsIgnoreCase("false")) {
            return false;
        }
        throw ApiException.invalid("waitForRuns", "waitForRuns is '" + value + "'; use true (the default: a task"
                + " whose run is in flight moves when the run ends) or false (it moves now, the run goes on here)");
    }
}
