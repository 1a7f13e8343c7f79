package io.cloudtask.controlplane.cluster;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Patch;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import java.net.URI;
import java.util.List;

/** REST adapter for clusters and their join tokens under {@code /api/v1/clusters}. */
@Controller("/api/v1/clusters")
class ClusterController {
    private final ClusterService clusters;
    private final JoinTokens tokens;

    ClusterController(ClusterService clusters, JoinTokens tokens) {
        this.clusters = clusters;
        this.tokens = tokens;
    }

    @Get
    List<ClusterView> list() {
        return clusters.list();
    }

    @Post
    HttpResponse<ClusterView> create(@Body @Nullable ClusterRequest request) {
        ClusterView created = clusters.create(request);
        return HttpResponse.created(created, URI.create("/api/v1/clusters/" + created.name()));
    }

    @Get("/{name}")
    ClusterView get(@PathVariable String name) {
        return clusters.get(name);
    }

    @Patch("/{name}")
    ClusterView edit(@PathVariable String name, @Body @Nullable ClusterRequest request) {
        return clusters.edit(name, request);
    }

    @Delete("/{name}")
    HttpResponse<Void> delete(@PathVariable String name) {
        clusters.delete(name);
        return HttpResponse.noContent();
    }

    @Post("/{name}/join-tokens")
    HttpResponse<JoinTokenView> createToken(@PathVariable String name, @Body @Nullable JoinTokenRequest request) {
        JoinTokenView created = tokens.create(name, request);
        return HttpResponse.created(created, URI.create("/api/v1/clusters/" + name + "/join-tokens/" + created.id()));
    }

    @Get("/{name}/join-tokens")
    List<JoinTokenView> listTokens(@PathVariable String name) {
        return tokens.list(name);
    }

    @Delete("/{name}/join-tokens/{id}")
    JoinTokenView revokeToken(@PathVariable String name, @PathVariable String id) {
        return tokens.revoke(name, id);
    }
}
