package io.cloudtask.controlplane.run;

import io.cloudtask.proto.v1.RunFinished;
import io.cloudtask.proto.v1.RunStarted;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What one batch of events says about one run: its first run_started, its distinct run_finished
 * events in arrival order (a redelivered event equals the first copy and is dropped), and the
 * state these lead to from no row at all, by the state machine's table. That state (with the
 * finish that reached it) is the row ingestion inserts when the run is new; a run already stored
 * is finished by {@link #finishes()} instead. As before, a batch's starts count before its
 * finishes, whatever their order in the batch. Not thread-safe; built and read by one call.
 */
final class RunReport {
    private final UUID id;
    private RunStarted start;
    private final List<RunFinished> finishes = new ArrayList<>(1);
    private RunState state = RunState.NONE;
    private RunFinished end;

    private RunReport(UUID id) {
        this.id = id;
    }

    /**
     * One report per run that the events mention, runs with a start first (each group in the
     * order of its first event), so when two new runs claim one fire the first start wins, as
     * before. The events must carry valid ids.
     */
    static Collection<RunReport> fold(List<RunStarted> started, List<RunFinished> finished) {
        Map<UUID, RunReport> reports = new LinkedHashMap<>();
        for (RunStarted event : started) {
            RunReport report = reports.computeIfAbsent(UUID.fromString(event.getRunId()), RunReport::new);
            if (report.start == null) {
                report.start = event;
            }
        }
        for (RunFinished event : finished) {
            RunReport report = reports.computeIfAbsent(UUID.fromString(event.getRunId()), RunReport::new);
            if (!report.finishes.contains(event)) {
                report.finishes.add(event);
            }
        }
        for (RunReport report : reports.values()) {
            report.resolve();
        }
        return reports.values();
    }

    /** Applies the events to no row at all; an event the table does not allow changes nothing. */
    private void resolve() {
        if (start != null) {
            state = RunStateMachine.next(state, RunEvent.START);
        }
        for (RunFinished finish : finishes) {
            RunEvent event = RunIngestion.finishEvent(finish);
            if (RunStateMachine.allows(state, event)) {
                state = RunStateMachine.next(state, event);
                end = finish;
            }
        }
    }

    UUID id() {
        return id;
    }

    /** The first run_started of the run in the batch, or null. */
    RunStarted start() {
        return start;
    }

    /** The run's distinct run_finished events in arrival order (empty when it has none). */
    List<RunFinished> finishes() {
        return finishes;
    }

    /** The state the run's events lead to from no row; never NONE (every report can be recorded). */
    RunState state() {
        return state;
    }

    /** The finish that ended the run from no row, or null when it ends RUNNING. */
    RunFinished end() {
        return end;
    }
}
