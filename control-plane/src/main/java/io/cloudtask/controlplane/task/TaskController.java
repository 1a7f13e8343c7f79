package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Put;
import io.micronaut.http.annotation.QueryValue;
import java.net.URI;
import java.util.UUID;

/** REST adapter for tasks under {@code /api/v1/tasks}. */
@Controller("/api/v1/tasks")
class TaskController {
    private final TaskService tasks;

    TaskController(TaskService tasks) {
        this.tasks = tasks;
    }

    @Post
    HttpResponse<TaskView> create(@Body @Nullable TaskRequest request) {
        TaskView created = tasks.create(request);
        return HttpResponse.created(created, URI.create("/api/v1/tasks/" + created.id()));
    }

    @Get
    TaskPage list(@QueryValue @Nullable String cluster, @QueryValue @Nullable String pageToken,
            @QueryValue @Nullable Integer limit) {
        return tasks.list(cluster, pageToken, limit == null ? 100 : limit);
    }

    @Get("/{id}")
    TaskView get(@PathVariable UUID id) {
        return tasks.get(id);
    }

    @Put("/{id}")
    TaskView replace(@PathVariable UUID id, @Body @Nullable TaskRequest request) {
        return tasks.replace(id, request);
    }

    @Post("/{id}/pause")
    TaskView pause(@PathVariable UUID id) {
        return tasks.setPaused(id, true);
    }

    @Post("/{id}/resume")
    TaskView resume(@PathVariable UUID id) {
        return tasks.setPaused(id, false);
    }

    /** Body (optional): {@code {"name": "...", "paused": false}}. */
    @Post("/{id}/clone")
    HttpResponse<TaskView> copy(@PathVariable UUID id, @Body @Nullable CloneRequest request) {
        TaskView created = tasks.copy(id, request == null ? null : request.name(),
                request == null ? null : request.paused());
        return HttpResponse.created(created, URI.create("/api/v1/tasks/" + created.id()));
    }

    @Delete("/{id}")
    HttpResponse<Void> delete(@PathVariable UUID id) {
        tasks.delete(id);
        return HttpResponse.noContent();
    }
}
