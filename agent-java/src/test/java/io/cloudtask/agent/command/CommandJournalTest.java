package io.cloudtask.agent.command;

import static org.assertj.core.api.Assertions.assertThat;

import io.cloudtask.agent.MutableClock;
import io.cloudtask.proto.v1.CommandOutcome;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CommandJournalTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));

    @Test
    void keepsAnswersAcrossReopeningWithTheirMessages() throws IOException {
        try (CommandJournal journal = open()) {
            journal.record("a", CommandOutcome.COMMAND_OUTCOME_ACCEPTED, "run r handed over");
            journal.record("b", CommandOutcome.COMMAND_OUTCOME_REJECTED, "two\nlines\tand a tab");
        }
        try (CommandJournal journal = open()) {
            assertThat(journal.find("a")).hasValueSatisfying(entry -> {
                assertThat(entry.outcome()).isEqualTo(CommandOutcome.COMMAND_OUTCOME_ACCEPTED);
                assertThat(entry.message()).isEqualTo("run r handed over");
            });
            assertThat(journal.find("b").orElseThrow().message()).isEqualTo("two lines and a tab");
            assertThat(journal.find("c")).isEmpty();
        }
    }

    @Test
    void dropsEntriesOlderThanTheRetentionAndTornLines() throws IOException {
        try (CommandJournal journal = open()) {
            journal.record("old", CommandOutcome.COMMAND_OUTCOME_ACCEPTED, "");
            clock.advance(CommandJournal.RETENTION.minus(Duration.ofMinutes(1)));
            journal.record("recent", CommandOutcome.COMMAND_OUTCOME_ACCEPTED, "");
        }
        // A crash in the middle of an append leaves a line without its last fields.
        Files.writeString(dir.resolve("handled-commands"), "1893456000000\ttorn", StandardCharsets.UTF_8,
                StandardOpenOption.APPEND);
        clock.advance(Duration.ofMinutes(2));
        try (CommandJournal journal = open()) {
            assertThat(journal.find("old")).isEmpty();
            assertThat(journal.find("recent")).isPresent();
            assertThat(journal.find("torn")).isEmpty();
            journal.record("next", CommandOutcome.COMMAND_OUTCOME_ACCEPTED, "");
        }
        try (CommandJournal journal = open()) {
            assertThat(journal.find("recent")).isPresent();
            assertThat(journal.find("next")).isPresent();
        }
    }

    private CommandJournal open() throws IOException {
        CommandJournal journal = new CommandJournal(dir, clock);
        journal.open();
        return journal;
    }
}
