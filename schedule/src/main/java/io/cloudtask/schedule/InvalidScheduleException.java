package io.cloudtask.schedule;

/**
 * A schedule that cannot be evaluated, or can never fire. {@link #field()} names the offending
 * field as a REST API path (for example {@code schedules[0].expression} or
 * {@code schedules[2].dayOfMonth}); the message says what is wrong and what a valid value looks
 * like.
 */
public final class InvalidScheduleException extends Exception {
    private final String field;

    public InvalidScheduleException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
