package io.cloudtask.agent.run;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PlatformTest {
    @Test
    void windowsRunsTheCommandLineThroughCmdWithOneQuotedArgument() {
        Platform windows = Platform.forOsName("Windows Server 2022");

        assertThat(windows.shellCommand("\"C:\\Program Files\\tool.exe\" --flag \"a b\" & echo done"))
                .containsExactly("cmd.exe", "/d", "/s", "/c",
                        "\"\"C:\\Program Files\\tool.exe\" --flag \"a b\" & echo done\"");
        assertThat(windows.nullDevice().getPath()).isEqualTo("NUL");
    }

    @Test
    void unixRunsTheCommandLineThroughBinSh() {
        Platform unix = Platform.forOsName("Linux");

        assertThat(unix.shellCommand("echo $HOME | wc -c")).containsExactly("/bin/sh", "-c", "echo $HOME | wc -c");
        assertThat(unix.nullDevice().getPath()).isEqualTo("/dev/null");
        assertThat(Platform.forOsName("Mac OS X")).isSameAs(unix);
    }

    @Test
    void theCurrentProcessIsRunning() {
        assertThat(Platform.current().isRunning(ProcessHandle.current())).isTrue();
    }
}
