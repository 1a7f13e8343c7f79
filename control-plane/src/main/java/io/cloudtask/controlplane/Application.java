package io.cloudtask.controlplane;

import io.cloudtask.controlplane.standalone.StandaloneMain;
import io.micronaut.runtime.Micronaut;
import java.util.Arrays;

/** Entry point: {@code java -jar cloudtask-control-plane.jar [standalone]}. */
public final class Application {
    private Application() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("standalone")) {
            StandaloneMain.main(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        Micronaut.run(Application.class, args);
    }
}
