package io.cloudtask.agent.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiskFireMarkersTest {
    private static final String TASK = "6f1c2a8e-0000-4000-8000-000000000001";
    private static final String OTHER = "6f1c2a8e-0000-4000-8000-000000000002";
    private static final Instant FIRE = Instant.parse("2030-01-01T10:00:00Z");

    @TempDir
    Path dir;

    @Test
    void keepsOnlyTheLatestMarkerAndWritesItOnFlush() {
        DiskFireMarkers markers = new DiskFireMarkers(dir);
        markers.save(TASK, FIRE);
        markers.save(TASK, FIRE.plusSeconds(1));
        markers.flush();
        assertThat(new DiskFireMarkers(dir).loadAll()).isEqualTo(Map.of(TASK, FIRE.plusSeconds(1)));
        markers.close();
    }

    @Test
    void aDeleteAfterASaveLeavesNoMarker() {
        DiskFireMarkers markers = new DiskFireMarkers(dir);
        markers.save(TASK, FIRE);
        markers.flush();
        markers.delete(TASK);
        markers.close();
        assertThat(new DiskFireMarkers(dir).loadAll()).isEmpty();
    }

    @Test
    void closeWritesWhatIsPending() {
        DiskFireMarkers markers = new DiskFireMarkers(dir);
        markers.save(TASK, FIRE);
        markers.close();
        assertThat(new DiskFireMarkers(dir).loadAll()).containsEntry(TASK, FIRE);
    }

    @Test
    void markersOfTasksNotTouchedSinceARestartSurviveTheNextWrite() {
        DiskFireMarkers before = new DiskFireMarkers(dir);
        before.save(TASK, FIRE);
        before.save(OTHER, FIRE);
        before.close();

        DiskFireMarkers after = new DiskFireMarkers(dir);
        after.save(OTHER, FIRE.plusSeconds(5));
        after.close();

        assertThat(new DiskFireMarkers(dir).loadAll()).isEqualTo(Map.of(TASK, FIRE, OTHER, FIRE.plusSeconds(5)));
    }

    @Test
    void allMarkersAreOneFileAndMarkersOfTheEarlierFilePerTaskLayoutAreReadThenRemoved() throws IOException {
        Files.writeString(dir.resolve(TASK), FIRE.toString());
        Files.writeString(dir.resolve(OTHER), "not an instant");

        DiskFireMarkers markers = new DiskFireMarkers(dir);
        assertThat(markers.loadAll()).isEqualTo(Map.of(TASK, FIRE));
        markers.save(OTHER, FIRE.plusSeconds(1));
        markers.close();

        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(file -> file.getFileName().toString())).containsExactly(DiskFireMarkers.SNAPSHOT);
        }
        assertThat(new DiskFireMarkers(dir).loadAll()).isEqualTo(Map.of(TASK, FIRE, OTHER, FIRE.plusSeconds(1)));
    }

    @Test
    void anUnreadableLineLosesOnlyThatTasksMarker() throws IOException {
        Files.writeString(dir.resolve(DiskFireMarkers.SNAPSHOT), TASK + " " + FIRE + "\ngarbage\n" + OTHER + " soon\n");

        assertThat(new DiskFireMarkers(dir).loadAll()).isEqualTo(Map.of(TASK, FIRE));
    }
}
