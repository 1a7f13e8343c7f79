package io.cloudtask.agent.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiskFireMarkersTest {
    private static final String TASK = "6f1c2a8e-0000-4000-8000-000000000001";
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
}
