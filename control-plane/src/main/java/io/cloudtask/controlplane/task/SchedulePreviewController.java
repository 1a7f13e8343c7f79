package io.cloudtask.controlplane.task;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import java.util.UUID;

/**
 * REST adapter for schedule previews. Unsaved schedules are previewed with POST because they
 * travel in a JSON body, which a GET should not carry.
 */
@Controller("/api/v1")
class SchedulePreviewController {
    private final SchedulePreviews previews;

    SchedulePreviewController(SchedulePreviews previews) {
        this.previews = previews;
    }

    @Post("/schedules/preview")
    SchedulePreview preview(@Body @Nullable SchedulePreviewRequest request) {
        return previews.preview(request);
    }

    @Get("/tasks/{id}/preview")
    SchedulePreview previewTask(@PathVariable UUID id, @QueryValue @Nullable Integer count,
            @QueryValue @Nullable String after) {
        return previews.previewTask(id, count, after);
    }
}
