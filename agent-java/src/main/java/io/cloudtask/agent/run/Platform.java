package io.cloudtask.agent.run;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What differs between operating systems when starting a task's process. Implementations are
 * stateless and thread-safe.
 */
public interface Platform {
    /** The argv that runs {@code command} through the platform shell. */
    List<String> shellCommand(String command);

    /**
     * {@code argument} quoted so the platform shell passes it to the program as one word, unchanged.
     *
     * @throws IllegalArgumentException when the shell cannot be given this argument safely
     */
    String quoteForShell(String argument);

    /** The null device, used as the child's stdin so it never waits for input. */
    File nullDevice();

    /**
     * Whether the process still runs. Unlike {@link ProcessHandle#isAlive()} an exited but unreaped
     * process (a zombie, left behind when the parent of a killed child dies and PID 1 does not reap,
     * as in many containers) counts as gone: it holds no resources and can run no code.
     */
    boolean isRunning(ProcessHandle process);

    /** The platform of the running JVM. */
    static Platform current() {
        return forOsName(System.getProperty("os.name", ""));
    }

    /** The platform for a JVM {@code os.name} value. */
    static Platform forOsName(String osName) {
        return osName.toLowerCase(Locale.ROOT).startsWith("windows") ? Windows.INSTANCE : Unix.INSTANCE;
    }

    /** Linux, macOS and other Unix systems: {@code /bin/sh -c <command>}. */
    final class Unix implements Platform {
        static final Unix INSTANCE = new Unix();

        private Unix() {}

        @Override
        public List<String> shellCommand(String command) {
            return List.of("/bin/sh", "-c", command);
        }

        /** Single quotes keep everything literal; a single quote itself closes, escapes and reopens. */
        @Override
        public String quoteForShell(String argument) {
            if (argument.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("an argument cannot contain a NUL character");
            }
            return "'" + argument.replace("'", "'\\''") + "'";
        }

        @Override
        public File nullDevice() {
            return new File("/dev/null");
        }

        @Override
        public boolean isRunning(ProcessHandle process) {
            if (!process.isAlive()) {
                return false;
            }
            Path stat = Path.of("/proc", Long.toString(process.pid()), "stat");
            try {
                String content = Files.readString(stat);
                // The state follows the parenthesised command name, which may itself contain ')'.
                int close = content.lastIndexOf(')');
                return close < 0 || close + 2 >= content.length() || content.charAt(close + 2) != 'Z';
            } catch (NoSuchFileException e) {
                return false;
            } catch (IOException e) {
                // No procfs (macOS) or not readable: trust the JVM's answer.
                return true;
            }
        }

        @Override
        public String toString() {
            return "unix";
        }
    }

    /**
     * Windows: {@code cmd.exe /d /s /c "<command>"}. {@code /d} skips AutoRun commands from the
     * registry; {@code /s} makes cmd strip exactly the outer quotes we add, so the command line
     * reaches cmd unchanged whatever quotes it contains. Because the argument is already quoted,
     * the JVM passes it through without quoting it again.
     */
    final class Windows implements Platform {
        static final Windows INSTANCE = new Windows();

        private Windows() {}

        @Override
        public List<String> shellCommand(String command) {
            return List.of("cmd.exe", "/d", "/s", "/c", "\"" + command + "\"");
        }

        /**
         * Double quotes as the C runtime parses them (backslashes are literal except before a quote).
         * cmd.exe still expands {@code %VAR%} and treats {@code "} specially inside quotes, so
         * arguments with those characters, or line breaks, are refused rather than passed altered.
         */
        @Override
        public String quoteForShell(String argument) {
            for (char c : new char[] {'"', '%', '\n', '\r', '\0'}) {
                if (argument.indexOf(c) >= 0) {
                    throw new IllegalArgumentException("the argument " + argument.replace("\n", "\\n").replace("\r", "\\r")
                            + " cannot be passed through cmd.exe unaltered (it contains quote, percent or line-break"
                            + " characters); give the task an argv command to pass it as is");
                }
            }
            int trailingBackslashes = 0;
            while (trailingBackslashes < argument.length()
                    && argument.charAt(argument.length() - 1 - trailingBackslashes) == '\\') {
                trailingBackslashes++;
            }
            // Doubled so the closing quote is not taken as escaped.
            return "\"" + argument + "\\".repeat(trailingBackslashes) + "\"";
        }

        @Override
        public File nullDevice() {
            return new File("NUL");
        }

        @Override
        public boolean isRunning(ProcessHandle process) {
            return process.isAlive();
        }

        @Override
        public String toString() {
            return "windows";
        }
    }
}
