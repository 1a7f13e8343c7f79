package io.cloudtask.agent.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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

    @Test
    void windowsQuotesArgumentsForTheCRuntimeAndRefusesWhatCmdWouldAlter() {
        Platform windows = Platform.forOsName("Windows 11");

        assertThat(windows.quoteForShell("a b")).isEqualTo("\"a b\"");
        assertThat(windows.quoteForShell("C:\\dir\\")).isEqualTo("\"C:\\dir\\\\\"");
        assertThat(windows.quoteForShell("x & y | z")).isEqualTo("\"x & y | z\"");
        assertThatThrownBy(() -> windows.quoteForShell("%PATH%")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("argv command");
        assertThatThrownBy(() -> windows.quoteForShell("say \"hi\"")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unixQuotesEveryArgumentLiterally() {
        Platform unix = Platform.forOsName("Linux");

        assertThat(unix.quoteForShell("it's $HOME")).isEqualTo("'it'\\''s $HOME'");
        assertThat(unix.quoteForShell("")).isEqualTo("''");
    }
}
