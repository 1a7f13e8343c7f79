package io.cloudtask.controlplane.cluster;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import java.net.URI;
import java.util.List;

@Controller("/api/v1/clusters")
class ClusterController {
    private final ClusterService clusters;

    ClusterController(ClusterService clusters) {
        this.clusters = clusters;
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
}
