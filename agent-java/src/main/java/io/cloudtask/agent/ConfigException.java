package io.cloudtask.agent;

/**
 * The agent's configuration is invalid. The message names the key (and its environment variable)
 * and says what value is expected, so an operator can fix it without reading the code.
 */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
