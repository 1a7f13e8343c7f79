package io.cloudtask.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudtask.proto.v1.AssignedTask;
import io.cloudtask.proto.v1.Assignment;
import io.cloudtask.proto.v1.AssignmentPart;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AssignmentReaderTest {
    private final Map<String, byte[]> nodes = new HashMap<>();

    private static AssignedTask task(String id) {
        return AssignedTask.newBuilder().setTaskId(id).setSpecVersion(1).build();
    }

    private void part(long epoch, int index, String... taskIds) {
        AssignmentPart.Builder part = AssignmentPart.newBuilder().setEpoch(epoch).setIndex(index);
        for (String id : taskIds) {
            part.addTasks(task(id));
        }
        nodes.put(ZkLayout.allocationPart("c", "a", epoch, index), ZkLayout.encode(part.build()));
    }

    private void header(long epoch, Long... partEpochs) {
        nodes.put(ZkLayout.allocation("c", "a"), ZkLayout.encode(Assignment.newBuilder().setEpoch(epoch)
                .setAgentId("a").setCluster("c").addAllPartEpochs(List.of(partEpochs)).build()));
    }

    @Test
    void anAssignmentThatIsNotSplitIsReadAsItIs() throws Exception {
        Assignment inline = Assignment.newBuilder().setEpoch(3).addTasks(task("t1")).build();
        nodes.put(ZkLayout.allocation("c", "a"), ZkLayout.encode(inline));

        assertThat(AssignmentReader.read(nodes::get, "c", "a", 1)).contains(inline);
        assertThat(AssignmentReader.read(nodes::get, "c", "other", 1)).isEmpty();
    }

    @Test
    void assemblesASplitAssignmentFromPartsOfDifferentEpochs() throws Exception {
        part(4, 0, "t1", "t2");
        part(7, 1, "t3");
        header(7, 4L, 7L);

        Assignment read = AssignmentReader.read(nodes::get, "c", "a", 1).orElseThrow();

        assertThat(read.getEpoch()).isEqualTo(7);
        assertThat(read.getPartEpochsCount()).isZero();
        assertThat(read.getTasksList()).extracting(AssignedTask::getTaskId).containsExactly("t1", "t2", "t3");
    }

    @Test
    void aMissingOrMismatchedPartIsATornRead() {
        part(4, 0, "t1");
        header(9, 4L, 9L);
        assertThatThrownBy(() -> AssignmentReader.read(nodes::get, "c", "a", 3))
                .isInstanceOf(AssignmentReader.TornReadException.class).hasMessageContaining("part-9-1");

        nodes.put(ZkLayout.allocationPart("c", "a", 9, 1), ZkLayout.encode(AssignmentPart.newBuilder().setEpoch(8)
                .setIndex(1).build()));
        assertThatThrownBy(() -> AssignmentReader.read(nodes::get, "c", "a", 1))
                .isInstanceOf(AssignmentReader.TornReadException.class);
    }

    @Test
    void partNamesCarryTheirEpoch() {
        assertThat(ZkLayout.allocationPartName(42, 3)).isEqualTo("part-42-3");
        assertThat(ZkLayout.allocationPartEpoch("part-42-3")).isEqualTo(42);
        assertThat(ZkLayout.allocationPartEpoch("something-else")).isEqualTo(-1);
        assertThat(ZkLayout.allocationPartEpoch("part-x-1")).isEqualTo(-1);
    }
}
