package io.cloudtask.controlplane.allocation;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A conjunction of requirements on an agent's labels, written {@code os=windows,zone=a}. Every
 * requirement must hold. Forms: {@code key=value} (also {@code key==value}), {@code key!=value}
 * (holds when the label is missing too, as in Kubernetes), {@code key} (the label is present)
 * and {@code !key} (the label is absent).
 *
 * <p>Requirements are kept sorted and without duplicates, so two selectors that say the same
 * thing in a different order are equal: the allocator groups tasks by placement.
 */
public record LabelSelector(List<Requirement> requirements) {
    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?");
    private static final Pattern VALUE = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?");

    public LabelSelector {
        requirements = List.copyOf(new TreeSet<>(requirements));
    }

    /** How a requirement compares the label with its value. */
    public enum Operator {
        EQUALS("="),
        NOT_EQUALS("!="),
        EXISTS(""),
        NOT_EXISTS("!");

        private final String symbol;

        Operator(String symbol) {
            this.symbol = symbol;
        }
    }

    /** One requirement; {@code value} is empty for {@link Operator#EXISTS} and {@link Operator#NOT_EXISTS}. */
    public record Requirement(String key, Operator operator, String value) implements Comparable<Requirement> {
        public Requirement {
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(operator, "operator");
            Objects.requireNonNull(value, "value");
        }

        boolean matches(Map<String, String> labels) {
            String actual = labels.get(key);
            return switch (operator) {
                case EQUALS -> value.equals(actual);
                case NOT_EQUALS -> !value.equals(actual);
                case EXISTS -> actual != null;
                case NOT_EXISTS -> actual == null;
            };
        }

        @Override
        public int compareTo(Requirement other) {
            int byKey = key.compareTo(other.key);
            if (byKey != 0) {
                return byKey;
            }
            int byOperator = operator.compareTo(other.operator);
            return byOperator != 0 ? byOperator : value.compareTo(other.value);
        }

        @Override
        public String toString() {
            return switch (operator) {
                case EQUALS, NOT_EQUALS -> key + operator.symbol + value;
                case EXISTS -> key;
                case NOT_EXISTS -> "!" + key;
            };
        }
    }

    /**
     * Parses {@code os=windows,zone=a}. Blank text gives the empty selector (matches every agent).
     *
     * @throws IllegalArgumentException naming the requirement that is malformed and why
     */
    public static LabelSelector parse(String text) {
        Objects.requireNonNull(text, "text");
        List<Requirement> requirements = new ArrayList<>();
        if (text.isBlank()) {
            return new LabelSelector(requirements);
        }
        String[] parts = text.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            requirements.add(parseRequirement(text, i + 1, parts[i].trim()));
        }
        return new LabelSelector(requirements);
    }

    private static Requirement parseRequirement(String text, int position, String part) {
        String where = "label selector '" + text + "': requirement " + position + " '" + part + "' ";
        if (part.isEmpty()) {
            throw new IllegalArgumentException(where + "is empty; separate requirements with single commas");
        }
        Operator operator;
        String key;
        String value = "";
        int notEquals = part.indexOf("!=");
        int equals = part.indexOf('=');
        if (notEquals >= 0) {
            operator = Operator.NOT_EQUALS;
            key = part.substring(0, notEquals).trim();
            value = part.substring(notEquals + 2).trim();
        } else if (equals >= 0) {
            operator = Operator.EQUALS;
            key = part.substring(0, equals).trim();
            int valueStart = part.startsWith("==", equals) ? equals + 2 : equals + 1;
            value = part.substring(valueStart).trim();
        } else if (part.startsWith("!")) {
            operator = Operator.NOT_EXISTS;
            key = part.substring(1).trim();
        } else {
            operator = Operator.EXISTS;
            key = part;
        }
        if (!KEY.matcher(key).matches()) {
            throw new IllegalArgumentException(where + "has an invalid key '" + key
                    + "': use letters, digits, '.', '_', '-' or '/', starting and ending with a letter or digit");
        }
        if ((operator == Operator.EQUALS || operator == Operator.NOT_EQUALS) && !VALUE.matcher(value).matches()) {
            throw new IllegalArgumentException(where + "has an invalid value '" + value
                    + "': use letters, digits, '.', '_' or '-', starting and ending with a letter or digit"
                    + " (to require that a label is absent, write '!" + key + "')");
        }
        return new Requirement(key, operator, value);
    }

    /** Whether every requirement holds for these labels. */
    public boolean matches(Map<String, String> labels) {
        for (Requirement requirement : requirements) {
            if (!requirement.matches(labels)) {
                return false;
            }
        }
        return true;
    }

    public boolean isEmpty() {
        return requirements.isEmpty();
    }

    /** The canonical text form, which {@link #parse} reads back to an equal selector. */
    @Override
    public String toString() {
        return requirements.stream().map(Requirement::toString).collect(Collectors.joining(","));
    }
}
