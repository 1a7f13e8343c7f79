package io.cloudtask.controlplane.pkg;

import io.micronaut.http.HttpHeaders;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.PathVariable;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.multipart.StreamingFileUpload;
import io.micronaut.http.server.types.files.StreamedFile;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.UUID;

/** REST adapter for task packages, under {@code /api/v1/tasks/{id}}. */
@Controller("/api/v1/tasks")
class PackageController {
    private final PackageService packages;

    PackageController(PackageService packages) {
        this.packages = packages;
    }

    /** Multipart upload: the archive in the part named {@code file}. Streams; blocks while reading it. */
    @Post(value = "/{id}/package", consumes = MediaType.MULTIPART_FORM_DATA)
    @ExecuteOn(TaskExecutors.BLOCKING)
    HttpResponse<PackageView> upload(@PathVariable UUID id, StreamingFileUpload file) {
        PackageView created;
        try (InputStream content = file.asInputStream()) {
            created = packages.upload(id, file.getFilename(), content);
        } catch (IOException e) {
            throw new UncheckedIOException("reading the uploaded file failed", e);
        }
        return HttpResponse.created(created, URI.create("/api/v1/tasks/" + id + "/packages/" + created.version()));
    }

    @Get("/{id}/packages")
    PackageList list(@PathVariable UUID id) {
        return packages.list(id);
    }

    @Get("/{id}/packages/{version}")
    PackageView version(@PathVariable UUID id, @PathVariable long version) {
        return packages.version(id, version);
    }

    @Get("/{id}/packages/{version}/content")
    HttpResponse<StreamedFile> content(@PathVariable UUID id, @PathVariable long version) {
        PackageView stored = packages.version(id, version);
        ArchiveFormat format = ArchiveFormat.valueOf(stored.format());
        StreamedFile body = new StreamedFile(packages.content(id, version), MediaType.of(format.mediaType()));
        return HttpResponse.ok(body)
                .contentLength(stored.sizeBytes())
                .header(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\""
                        + stored.fileName().replace("\"", "") + "\"")
                .header("X-Package-Sha256", stored.sha256());
    }

    @Post("/{id}/packages/{version}/revert")
    PackageView revert(@PathVariable UUID id, @PathVariable long version) {
        return packages.revert(id, version);
    }

    @Delete("/{id}/package")
    HttpResponse<Void> remove(@PathVariable UUID id) {
        packages.remove(id);
        return HttpResponse.noContent();
    }
}
