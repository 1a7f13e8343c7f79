package io.cloudtask.controlplane.cluster;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Put;
import java.net.URI;
import java.util.List;

/** REST adapter for a cluster's agent groups under {@code /api/v1/clusters/{cluster}/groups}. */
@Controller("/api/v1/clusters/{cluster}/groups")
class AgentGroupController {
    private final AgentGroups groups;

    AgentGroupController(AgentGroups groups) {
        this.groups = groups;
    }

    @Get
    List<AgentGroupView> list(@PathVariable String cluster) {
        return groups.list(cluster);
    }

    @Post
    HttpResponse<AgentGroupView> create(@PathVariable String cluster, @Body @Nullable AgentGroupRequest request) {
        AgentGroupView created = groups.create(cluster, request);
        return HttpResponse.created(created, URI.create("/api/v1/clusters/" + cluster + "/groups/" + created.name()));
    }

    @Get("/{name}")
    AgentGroupView get(@PathVariable String cluster, @PathVariable String name) {
        return groups.get(cluster, name);
    }

    @Put("/{name}")
    AgentGroupView edit(@PathVariable String cluster, @PathVariable String name,
            @Body @Nullable AgentGroupRequest request) {
        return groups.edit(cluster, name, request);
    }

    @Delete("/{name}")
    HttpResponse<Void> delete(@PathVariable String cluster, @PathVariable String name) {
        groups.delete(cluster, name);
        return HttpResponse.noContent();
    }
}
