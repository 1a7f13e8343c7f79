package io.cloudtask.agent.run;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What makes a run asked for by a {@code RunNow} command differ from a scheduled fire: the
 * command it answers (its fire identity and the base of its run ids) and the overrides of that
 * one run.
 *
 * @param commandId the RunNow command's id
 * @param arguments replacement arguments (see {@code RunNow.arguments}), or null to keep the task's
 * @param environment variables added over the task's environment
 */
public record ManualRun(String commandId, List<String> arguments, Map<String, String> environment) {
    public ManualRun {
        Objects.requireNonNull(commandId, "commandId");
        arguments = arguments == null ? null : List.copyOf(arguments);
        environment = Map.copyOf(environment);
    }
}
