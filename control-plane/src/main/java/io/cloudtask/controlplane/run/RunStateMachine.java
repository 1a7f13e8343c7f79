package io.cloudtask.controlplane.run;

import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The run lifecycle as data: every legal (from, event, to) transition, and nothing else. Ingestion
 * derives its SQL guards from this table ({@link #sources(RunEvent)}), a test drives every row
 * through the real database, and docs/runs-and-logs.md shows {@link #mermaid()}. Immutable and
 * thread-safe.
 */
public final class RunStateMachine {
    /** One legal transition. */
    public record Transition(RunState from, RunEvent event, RunState to) {}

    private static final List<Transition> TRANSITIONS = List.of(
            new Transition(RunState.NONE, RunEvent.START, RunState.RUNNING),
            new Transition(RunState.RUNNING, RunEvent.SUCCEED, RunState.SUCCEEDED),
            new Transition(RunState.RUNNING, RunEvent.FAIL, RunState.FAILED),
            new Transition(RunState.RUNNING, RunEvent.TIME_OUT, RunState.TIMED_OUT),
            new Transition(RunState.RUNNING, RunEvent.KILL, RunState.KILLED),
            new Transition(RunState.RUNNING, RunEvent.LOSE, RunState.LOST),
            // A finish whose start never reached us (its journal record was dropped or is
            // replayed after a gap) still records the result: nothing finished is lost.
            new Transition(RunState.NONE, RunEvent.SUCCEED, RunState.SUCCEEDED),
            new Transition(RunState.NONE, RunEvent.FAIL, RunState.FAILED),
            new Transition(RunState.NONE, RunEvent.TIME_OUT, RunState.TIMED_OUT),
            new Transition(RunState.NONE, RunEvent.KILL, RunState.KILLED),
            // An agent declared lost (session expired) that later reports the run's end was
            // partitioned, not dead: its report is the truth.
            new Transition(RunState.LOST, RunEvent.SUCCEED, RunState.SUCCEEDED),
            new Transition(RunState.LOST, RunEvent.FAIL, RunState.FAILED),
            new Transition(RunState.LOST, RunEvent.TIME_OUT, RunState.TIMED_OUT),
            new Transition(RunState.LOST, RunEvent.KILL, RunState.KILLED),
            new Transition(RunState.NONE, RunEvent.SKIP, RunState.SKIPPED),
            new Transition(RunState.NONE, RunEvent.MISS, RunState.MISSED));

    private RunStateMachine() {}

    public static List<Transition> transitions() {
        return TRANSITIONS;
    }

    /** The state after {@code event} in state {@code from}; throws on an illegal transition. */
    public static RunState next(RunState from, RunEvent event) {
        for (Transition transition : TRANSITIONS) {
            if (transition.from() == from && transition.event() == event) {
                return transition.to();
            }
        }
        throw new IllegalStateException("illegal run transition: " + event + " in state " + from);
    }

    /** Whether {@code event} is legal in state {@code from}. */
    public static boolean allows(RunState from, RunEvent event) {
        for (Transition transition : TRANSITIONS) {
            if (transition.from() == from && transition.event() == event) {
                return true;
            }
        }
        return false;
    }

    /** The states from which {@code event} is legal. */
    public static Set<RunState> sources(RunEvent event) {
        Set<RunState> sources = EnumSet.noneOf(RunState.class);
        for (Transition transition : TRANSITIONS) {
            if (transition.event() == event) {
                sources.add(transition.from());
            }
        }
        return sources;
    }

    /** The stored states from which {@code event} is legal, as a SQL list: {@code 'RUNNING', 'LOST'}. */
    static String storedSourcesSql(RunEvent event) {
        return sources(event).stream().filter(state -> state != RunState.NONE)
                .map(state -> "'" + state.name() + "'").collect(Collectors.joining(", "));
    }

    /** The event that a status reported in run_finished stands for. */
    static RunEvent finishEvent(RunState status) {
        return switch (status) {
            case SUCCEEDED -> RunEvent.SUCCEED;
            case FAILED -> RunEvent.FAIL;
            case TIMED_OUT -> RunEvent.TIME_OUT;
            case KILLED -> RunEvent.KILL;
            case SKIPPED -> RunEvent.SKIP;
            case MISSED -> RunEvent.MISS;
            default -> throw new IllegalArgumentException(status + " is not a status an agent finishes a run with");
        };
    }

    /** The lifecycle as a Mermaid state diagram, generated from the table. */
    public static String mermaid() {
        StringBuilder diagram = new StringBuilder("stateDiagram-v2\n");
        Set<String> lines = new LinkedHashSet<>();
        for (Transition transition : TRANSITIONS) {
            String from = transition.from() == RunState.NONE ? "[*]" : transition.from().name();
            lines.add("    " + from + " --> " + transition.to().name() + " : " + transition.event().name());
        }
        for (RunState state : RunState.values()) {
            if (state.isTerminal()) {
                lines.add("    " + state.name() + " --> [*]");
            }
        }
        lines.forEach(line -> diagram.append(line).append('\n'));
        return diagram.toString();
    }
}
