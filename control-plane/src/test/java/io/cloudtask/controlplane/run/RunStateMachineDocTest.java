package io.cloudtask.controlplane.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Keeps the lifecycle diagram in docs/runs-and-logs.md generated from the table. */
class RunStateMachineDocTest {
    @Test
    void theDocumentedDiagramIsTheOneGeneratedFromTheTable() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "runs-and-logs.md"), StandardCharsets.UTF_8);
        assertThat(doc).as("docs/runs-and-logs.md must contain RunStateMachine.mermaid() verbatim;"
                + " copy the expected"
                + " text from this failure into it").contains(RunStateMachine.mermaid());
    }
}
