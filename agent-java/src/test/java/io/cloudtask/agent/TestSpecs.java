package io.cloudtask.agent;

import io.cloudtask.proto.v1.Argv;
import io.cloudtask.proto.v1.Command;
import io.cloudtask.proto.v1.CronSchedule;
import io.cloudtask.proto.v1.CronSyntax;
import io.cloudtask.proto.v1.Schedule;
import io.cloudtask.proto.v1.TaskSpec;
import java.time.Duration;

/** Task specs for tests. */
public final class TestSpecs {
    /** Every second, Quartz syntax. */
    public static final String EVERY_SECOND = "* * * * * ?";

    private TestSpecs() {}

    public static TaskSpec.Builder cron(String taskId, long version, String quartz) {
        return TaskSpec.newBuilder()
                .setTaskId(taskId)
                .setVersion(version)
                .setName("task " + taskId)
                .setCluster("default")
                .setTimeZone("UTC")
                .setCommand(Command.newBuilder().setShell("true"))
                .addSchedules(Schedule.newBuilder().setEnabled(true)
                        .setCron(CronSchedule.newBuilder().setExpression(quartz).setSyntax(CronSyntax.CRON_SYNTAX_QUARTZ)));
    }

    public static TaskSpec shell(String taskId, String command) {
        return cron(taskId, 1, EVERY_SECOND).setCommand(Command.newBuilder().setShell(command)).build();
    }

    public static TaskSpec argv(String taskId, String... args) {
        return cron(taskId, 1, EVERY_SECOND)
                .setCommand(Command.newBuilder().setArgv(Argv.newBuilder().addAllArgs(java.util.List.of(args))))
                .build();
    }

    public static com.google.protobuf.Duration duration(Duration d) {
        return com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()).build();
    }
}
