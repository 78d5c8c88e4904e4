package qunar.tc.qmq.internal;

import java.util.concurrent.Semaphore;

/**
 * Internal: the native library's entry points ({@code bindings/java} in the repository) and
 * its send-completion thread. Not an API; shipped in lock-step with the library.
 *
 * <p>Handles are {@code long} pointers owned by a {@link NativeHandle}; every method throws a
 * {@link qunar.tc.qmq.QmqException} subclass on failure, never crashes the JVM.
 */
public final class Native {
    /** Option positions of {@link #clientNew}; -1 = the core's default. */
    public static final int OPT_WORKER_THREADS = 0;
    /** Send attempts per message. */
    public static final int OPT_SEND_TRIES = 1;
    /** Per-attempt send timeout, ms. */
    public static final int OPT_SEND_TIMEOUT_MS = 2;
    /** Messages per batch. */
    public static final int OPT_BATCH_SIZE = 3;
    /** Producer queue capacity. */
    public static final int OPT_QUEUE_CAPACITY = 4;
    /** Messages asked for per pull request. */
    public static final int OPT_PULL_BATCH_SIZE = 5;
    /** Long-poll timeout, ms. */
    public static final int OPT_PULL_TIMEOUT_MS = 6;
    /** Deliveries before a failed message is dead-lettered. */
    public static final int OPT_MAX_RETRY = 7;
    /** Delay before a failed message is redelivered, ms. */
    public static final int OPT_RETRY_DELAY_MS = 8;
    /** Number of options. */
    public static final int OPT_COUNT = 9;

    /** {@link #producerSend} result: queued. */
    public static final int SEND_ACCEPTED = 0;
    /** {@link #producerSend} result: the queue is full, nothing was queued. */
    public static final int SEND_QUEUE_FULL = 1;

    /** {@link #producerSend} token for a send nobody waits for. */
    public static final long NO_COMPLETION = -1;

    /** Name of the Java thread completing sends. */
    public static final String COMPLETION_THREAD = "qmq-java-completions";
    /** Name of the Java thread of a listener that pulls its messages and hands them to the executor. */
    public static final String LISTENER_THREAD = "qmq-listener-dispatch";

    /** The native library version this jar was built with (the crate's version). */
    public static final String EXPECTED_VERSION = "0.1.0";

    static {
        NativeLoader.load();
        String v = version();
        if (!EXPECTED_VERSION.equals(v)) {
            throw new UnsatisfiedLinkError("QMQ native library version " + v
                    + " does not match the jar's " + EXPECTED_VERSION
                    + " (check -D" + NativeLoader.PATH_PROPERTY + ")");
        }
    }

    /** @return the loaded native library's version */
    public static native String version();

    private Native() {
    }

    /** Makes sure the library is loaded (throws {@link UnsatisfiedLinkError} if it cannot be). */
    public static void ensureLoaded() {
        // The static initialiser did the work.
    }

    public static native long clientNew(String metaUrl, String appCode, String clientId,
            long[] options);

    public static native String clientId(long client);

    public static native void clientClose(long client, long timeoutMillis);

    public static native void clientFree(long client);

    public static native String[] producerNextIds(long client, int count);

    /**
     * Queues one encoded message.
     *
     * @param client  the client
     * @param message the encoding ({@link qunar.tc.qmq.base.MessageCodec#encode})
     * @param token   the {@link SendTable} token completed through the completion thread, or
     *                {@link #NO_COMPLETION}
     * @return {@link #SEND_ACCEPTED} or {@link #SEND_QUEUE_FULL}; other refusals throw and the
     *         token is never completed
     */
    public static native int producerSend(long client, byte[] message, long token);

    public static native void producerFlush(long client, long timeoutMillis);

    public static native int producerPending(long client);

    public static native long pullNew(long client, String subject, String group, String[] tags,
            int tagType, boolean broadcast, boolean atMostOnce);

    public static native byte[] pullPull(long pull, int max, long timeoutMillis, long[] acks);

    public static native String pullGroup(long pull);

    public static native void pullClose(long pull);

    public static native void pullFree(long pull);

    public static native void ack(long ack, String reason);

    public static native long subscribe(long client, String subject, String group,
            String[] tags, int tagType, boolean broadcast, boolean atMostOnce, int concurrency);

    /**
     * Waits up to {@code timeoutMillis} for messages of a listener subscription.
     *
     * @param sub           the subscription
     * @param completions   receives each message's completion handle (owned by Java from here
     *                      on); its length is the most messages returned
     * @param timeoutMillis the longest wait
     * @return the messages (listener encoding, count first), or null when none came
     */
    public static native byte[] listenerNext(long sub, long[] completions, long timeoutMillis);

    public static native void listenerComplete(long completion, String reason);

    public static native boolean subStop(long sub, long timeoutMillis);

    public static native String subGroup(long sub);

    public static native void subFree(long sub);

    /** Test builds only (cargo feature {@code testing}): panics inside the native guard. */
    public static native void testingPanic();

    /**
     * Test builds only: fails with the core error {@code QueueFull}.
     *
     * @return never returns normally
     */
    public static native long testingFail();

    /**
     * Waits up to {@code timeoutMillis} for finished sends; fills {@code tokens} (the
     * {@link SendTable} tokens) and, for each failed send only, {@code errors} (the exception;
     * the caller keeps every other entry null).
     *
     * @return how many entries were filled
     */
    static native int completionsNext(long[] tokens, Object[] errors, long timeoutMillis);

    /** Starts the completion thread once (called before the first send with a completion). */
    public static void startCompletions() {
        CompletionThread.START.run();
    }

    /** The daemon thread that pulls send completions and calls listeners and futures. */
    private static final class CompletionThread implements Runnable {
        static final Runnable START = new Runnable() {
            private boolean started;

            @Override
            public synchronized void run() {
                if (!started) {
                    Thread t = new Thread(new CompletionThread(), COMPLETION_THREAD);
                    t.setDaemon(true);
                    t.start();
                    started = true;
                }
            }
        };

        @Override
        public void run() {
            long[] tokens = new long[1024];
            Object[] errors = new Object[tokens.length];
            SendCompletion[] completions = new SendCompletion[tokens.length];
            while (true) {
                int n;
                try {
                    n = completionsNext(tokens, errors, 1000);
                } catch (Throwable t) {
                    report(t);
                    continue;
                }
                SendTable.takeAll(tokens, n, completions);
                // Permits go back per window once per batch: a sender blocked on a full window
                // then wakes once per batch, not once per message.
                Semaphore window = null;
                int permits = 0;
                for (int i = 0; i < n; i++) {
                    SendCompletion c = completions[i];
                    completions[i] = null;
                    Throwable error = (Throwable) errors[i];
                    errors[i] = null;
                    if (c == null) {
                        continue; // a stray token, counted by SendTable
                    }
                    if (c.window() != window) {
                        if (window != null) {
                            window.release(permits);
                        }
                        window = c.window();
                        permits = 0;
                    }
                    permits++;
                    try {
                        c.notifyOutcome(error);
                    } catch (Throwable t) {
                        // A listener's failure must not stop the other completions.
                        report(t);
                    }
                }
                if (window != null) {
                    window.release(permits);
                }
            }
        }

        private static void report(Throwable t) {
            Thread th = Thread.currentThread();
            th.getUncaughtExceptionHandler().uncaughtException(th, t);
        }
    }
}
