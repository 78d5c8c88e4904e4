package qunar.tc.qmq.internal;

import java.util.concurrent.locks.LockSupport;

import qunar.tc.qmq.ClosedException;
import qunar.tc.qmq.ListenerHolder;
import qunar.tc.qmq.TagType;

/** A listener registration: a native subscription that can be stopped and started again. */
public final class DefaultListenerHolder implements ListenerHolder {
    private static final long STOP_TIMEOUT_MILLIS = 10_000;
    /** Most messages taken per pull. */
    private static final int PULL_BATCH = 64;
    /** How long a pull waits; also how long freeing the handle may wait for the puller. */
    private static final long PULL_WAIT_MILLIS = 100;

    private final NativeHandle client;
    private final String subject;
    private final String group;
    private final String[] tags;
    private final TagType tagType;
    private final boolean broadcast;
    private final boolean atMostOnce;
    private final int concurrency;
    private final ListenerDispatcher dispatcher;
    private NativeHandle sub;

    /**
     * Registers at once.
     *
     * @param client      the consumer provider's client handle
     * @param subject     the subject
     * @param group       the group ("" for broadcast)
     * @param tags        tags, or null
     * @param tagType     how they combine
     * @param broadcast   whether every consumer gets every message
     * @param atMostOnce  ack on receipt
     * @param concurrency most handlers running at once
     * @param dispatcher  hands messages to the user's executor
     */
    public DefaultListenerHolder(NativeHandle client, String subject, String group, String[] tags,
            TagType tagType, boolean broadcast, boolean atMostOnce, int concurrency,
            ListenerDispatcher dispatcher) {
        this.client = client;
        this.subject = subject;
        this.group = group;
        this.tags = tags;
        this.tagType = tagType == null ? TagType.NO_TAG : tagType;
        this.broadcast = broadcast;
        this.atMostOnce = atMostOnce;
        this.concurrency = concurrency;
        this.dispatcher = dispatcher;
        resumeListen();
    }

    @Override
    public synchronized void resumeListen() {
        if (sub != null) {
            return;
        }
        long c = client.acquire();
        try {
            sub = new NativeHandle("listener", Native.subscribe(c, subject, group, tags,
                    tagType.getCode(), broadcast, atMostOnce, concurrency));
        } finally {
            client.release();
        }
        NativeHandle h = sub;
        Thread puller = new Thread(() -> pull(h), Native.LISTENER_THREAD);
        puller.setDaemon(true);
        puller.start();
    }

    /**
     * The registration's pull thread: takes batches of messages from the subscription and hands
     * them to the executor, until the handle is freed. It keeps pulling while the subscription
     * stops, so that handlers still running get their messages completed.
     */
    private void pull(NativeHandle h) {
        long[] completions = new long[PULL_BATCH];
        while (true) {
            byte[] bytes;
            try {
                long p = h.acquire();
                try {
                    bytes = Native.listenerNext(p, completions, PULL_WAIT_MILLIS);
                } finally {
                    h.release();
                }
            } catch (ClosedException freed) {
                return;
            } catch (RuntimeException e) {
                Thread t = Thread.currentThread();
                t.getUncaughtExceptionHandler().uncaughtException(t, e);
                LockSupport.parkNanos(10_000_000L); // never a hot loop on a broken handle
                continue;
            }
            if (bytes != null) {
                dispatcher.dispatchAll(bytes, completions);
            }
        }
    }

    @Override
    public void stopListen() {
        NativeHandle h;
        synchronized (this) {
            h = sub;
            sub = null;
        }
        if (h == null) {
            return;
        }
        try {
            long p = h.acquire();
            try {
                Native.subStop(p, STOP_TIMEOUT_MILLIS);
            } finally {
                h.release();
            }
        } catch (ClosedException alreadyFreed) {
            return;
        }
        h.free(Native::subFree);
    }

    /** @return the group on the wire (the client id for broadcast), or null when stopped */
    public synchronized String getConsumerGroup() {
        if (sub == null) {
            return null;
        }
        long p = sub.acquire();
        try {
            return Native.subGroup(p);
        } finally {
            sub.release();
        }
    }
}
