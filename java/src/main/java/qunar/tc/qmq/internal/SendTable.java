package qunar.tc.qmq.internal;

import java.util.Arrays;

/**
 * The sends in flight, by token. A send hands the native library a token (a slot number) instead
 * of a JNI global reference to its {@link SendCompletion}, so a send creates no global reference
 * and the completion thread receives plain {@code long}s in one array copy per batch instead of
 * one object store (and one global-reference delete) per message. {@link #take} empties the
 * slot, so a token completes at most once; a second completion finds nothing and is counted in
 * {@link #strayCompletions()}, which the tests check stays 0.
 */
public final class SendTable {
    private static final Object LOCK = new Object();
    private static SendCompletion[] slots = new SendCompletion[1024];
    private static int[] free = new int[1024];
    private static int freeCount;
    /** Slots {@code [0, next)} have been used at least once. */
    private static int next;
    private static long stray;

    private SendTable() {
    }

    /**
     * Stores {@code c} until its completion.
     *
     * @param c the send's completion
     * @return its token (never negative)
     */
    public static long add(SendCompletion c) {
        synchronized (LOCK) {
            int i;
            if (freeCount > 0) {
                i = free[--freeCount];
            } else {
                if (next == slots.length) {
                    slots = Arrays.copyOf(slots, slots.length * 2);
                    free = Arrays.copyOf(free, free.length * 2);
                }
                i = next++;
            }
            slots[i] = c;
            return i;
        }
    }

    /**
     * Removes the send of {@code token}.
     *
     * @param token a token from {@link #add}
     * @return its completion, or null if it is not in flight (counted as stray)
     */
    public static SendCompletion take(long token) {
        synchronized (LOCK) {
            return takeLocked(token);
        }
    }

    /**
     * Removes the sends of {@code tokens[0..n)} into {@code out[0..n)} under one lock (null for
     * a token not in flight, counted as stray).
     *
     * @param tokens the tokens
     * @param n      how many
     * @param out    receives the completions
     */
    static void takeAll(long[] tokens, int n, SendCompletion[] out) {
        synchronized (LOCK) {
            for (int k = 0; k < n; k++) {
                out[k] = takeLocked(tokens[k]);
            }
        }
    }

    private static SendCompletion takeLocked(long token) {
        if (token < 0 || token >= next) {
            stray++;
            return null;
        }
        int i = (int) token;
        SendCompletion c = slots[i];
        if (c == null) {
            stray++;
            return null;
        }
        slots[i] = null;
        free[freeCount++] = i;
        return c;
    }

    /** @return sends added and not yet taken */
    public static int inFlight() {
        synchronized (LOCK) {
            return next - freeCount;
        }
    }

    /** @return completions that named no send in flight; 0 while each completes exactly once */
    public static long strayCompletions() {
        synchronized (LOCK) {
            return stray;
        }
    }
}
