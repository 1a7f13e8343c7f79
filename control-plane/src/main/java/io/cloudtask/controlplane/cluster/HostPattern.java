package io.cloudtask.controlplane.cluster;

import com.google.common.net.InetAddresses;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One entry of a cluster's {@code allowedHosts}: a host name glob matched against the host name
 * the agent reports, or an address or CIDR block matched against the address its stream comes
 * from. Pure and immutable.
 *
 * <p>Globs: letters, digits, '.', '-' and '*', compared without regard to case; '*' stands for any
 * run of characters within one dot-separated label, so {@code *.example.com} admits
 * {@code a.example.com} but not {@code a.b.example.com}. Addresses are parsed as literals only
 * (never resolved through DNS), so validating a pattern does no I/O.
 */
final class HostPattern {
    private static final Pattern GLOB = Pattern.compile("[A-Za-z0-9*][A-Za-z0-9.*-]{0,252}");

    private final String text;
    private final Pattern glob;
    private final byte[] network;
    private final int prefixBits;

    private HostPattern(String text, Pattern glob, byte[] network, int prefixBits) {
        this.text = text;
        this.glob = glob;
        this.network = network;
        this.prefixBits = prefixBits;
    }

    /**
     * Parses one entry.
     *
     * @throws IllegalArgumentException with a message saying what a valid entry looks like
     */
    static HostPattern parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("an allowed host must not be empty: give a host name glob such as"
                    + " 'build-*.example.com' or a CIDR block such as '10.0.0.0/8'");
        }
        String trimmed = text.trim();
        int slash = trimmed.indexOf('/');
        String address = slash < 0 ? trimmed : trimmed.substring(0, slash);
        if (slash >= 0 || InetAddresses.isInetAddress(address)) {
            if (!InetAddresses.isInetAddress(address)) {
                throw new IllegalArgumentException("'" + trimmed + "' is not a CIDR block: '" + address
                        + "' is not an IPv4 or IPv6 address; write e.g. '10.1.0.0/16' or 'fd00::/8'");
            }
            byte[] bytes = InetAddresses.forString(address).getAddress();
            int maxBits = bytes.length * 8;
            int bits = maxBits;
            if (slash >= 0) {
                String length = trimmed.substring(slash + 1);
                try {
                    bits = Integer.parseInt(length);
                } catch (NumberFormatException e) {
                    bits = -1;
                }
                if (bits < 0 || bits > maxBits || !length.matches("[0-9]{1,3}")) {
                    throw new IllegalArgumentException("'" + trimmed + "' is not a CIDR block: the prefix length '"
                            + length + "' must be a number from 0 to " + maxBits);
                }
            }
            return new HostPattern(trimmed, null, mask(bytes, bits), bits);
        }
        if (!GLOB.matcher(trimmed).matches() || trimmed.contains("..")) {
            throw new IllegalArgumentException("'" + trimmed + "' is not a host name glob: use letters, digits, '.', '-'"
                    + " and '*' (any characters within one label), e.g. 'build-*.example.com'");
        }
        StringBuilder regex = new StringBuilder();
        for (String part : trimmed.toLowerCase(Locale.ROOT).split("\\*", -1)) {
            if (regex.length() > 0) {
                regex.append("[^.]*");
            }
            regex.append(Pattern.quote(part));
        }
        return new HostPattern(trimmed, Pattern.compile(regex.toString()), null, 0);
    }

    /** Whether this entry admits an agent reporting {@code hostname} and connecting from {@code remote}. */
    boolean admits(String hostname, InetAddress remote) {
        if (glob != null) {
            return hostname != null && !hostname.isEmpty()
                    && glob.matcher(hostname.toLowerCase(Locale.ROOT)).matches();
        }
        if (remote == null) {
            return false;
        }
        byte[] address = remote.getAddress();
        if (address.length != network.length) {
            return false;
        }
        return Arrays.equals(mask(address, prefixBits), network);
    }

    private static byte[] mask(byte[] address, int bits) {
        byte[] masked = address.clone();
        for (int i = 0; i < masked.length; i++) {
            int keep = Math.max(0, Math.min(8, bits - i * 8));
            masked[i] = (byte) (masked[i] & (0xff << (8 - keep)));
        }
        return masked;
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof HostPattern pattern && pattern.text.equals(text);
    }

    @Override
    public int hashCode() {
        return Objects.hash(text);
    }
}
