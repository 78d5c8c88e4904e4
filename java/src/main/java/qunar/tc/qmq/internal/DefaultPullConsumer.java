package qunar.tc.qmq.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import qunar.tc.qmq.ClosedException;
import qunar.tc.qmq.InvalidArgumentException;
import qunar.tc.qmq.Message;
import qunar.tc.qmq.PullConsumer;
import qunar.tc.qmq.TagType;
import qunar.tc.qmq.base.BaseMessage;
import qunar.tc.qmq.base.MessageCodec;

/**
 * A {@link PullConsumer} over a native pull consumer, created on the first pull (so that
 * {@link #setConsumeMostOnce(boolean)} can still change it). Pulls block the calling thread;
 * the {@code pullFuture} variants run them on a shared daemon pool.
 */
public final class DefaultPullConsumer implements PullConsumer {
    private static final long SLICE_MILLIS = 1000;
    private static final ExecutorService PULLS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "qmq-pull-future-" + Counter.NEXT.incrementAndGet());
        t.setDaemon(true);
        return t;
    });

    private static final class Counter {
        static final AtomicInteger NEXT = new AtomicInteger();
    }

    private final NativeHandle client;
    private final String clientId;
    private final String subject;
    private final String group;
    private final boolean broadcast;
    private final String[] tags;
    private final TagType tagType;
    private volatile boolean consumeMostOnce;
    private volatile NativeHandle pull;
    private volatile boolean closed;

    /**
     * @param client    the consumer provider's client handle
     * @param clientId  its client id
     * @param subject   the subject
     * @param group     the group (ignored for broadcast)
     * @param broadcast whether every consumer gets every message
     * @param tags      tags to filter on, or null
     * @param tagType   how they combine
     */
    public DefaultPullConsumer(NativeHandle client, String clientId, String subject, String group,
            boolean broadcast, String[] tags, TagType tagType) {
        this.client = client;
        this.clientId = clientId;
        this.subject = subject;
        this.group = broadcast ? "" : group;
        this.broadcast = broadcast;
        this.tags = tags;
        this.tagType = tagType == null ? TagType.NO_TAG : tagType;
    }

    @Override
    public void setConsumeMostOnce(boolean consumeMostOnce) {
        if (pull != null && consumeMostOnce != this.consumeMostOnce) {
            throw new IllegalStateException("setConsumeMostOnce must be called before the first pull");
        }
        this.consumeMostOnce = consumeMostOnce;
    }

    @Override
    public boolean isConsumeMostOnce() {
        return consumeMostOnce;
    }

    private NativeHandle pullHandle() {
        NativeHandle h = pull;
        if (h != null) {
            return h;
        }
        synchronized (this) {
            if (closed) {
                throw new ClosedException("the pull consumer is closed", "Closed", false);
            }
            if (pull == null) {
                long c = client.acquire();
                try {
                    pull = new NativeHandle("pull consumer", Native.pullNew(c, subject, group, tags,
                            tagType.getCode(), broadcast, consumeMostOnce));
                } finally {
                    client.release();
                }
            }
            return pull;
        }
    }

    @Override
    public List<Message> pull(int size) {
        List<Message> out = new ArrayList<>(Math.max(0, size));
        while (out.size() < size) {
            out.addAll(pull(size - out.size(), SLICE_MILLIS));
            if (Thread.currentThread().isInterrupted()) {
                break;
            }
        }
        return out;
    }

    @Override
    public List<Message> pull(int size, long timeoutMillis) {
        if (size <= 0) {
            return Collections.emptyList();
        }
        if (size > 100_000) {
            throw new InvalidArgumentException("pull size " + size + " is above 100000",
                    "InvalidArgument", false);
        }
        NativeHandle h = pullHandle();
        long timeout = Math.max(0, Math.min(timeoutMillis, MAX_PULL_TIMEOUT_MILLIS));
        long[] acks = new long[size];
        byte[] bytes;
        long p = h.acquire();
        try {
            bytes = Native.pullPull(p, size, timeout, acks);
        } finally {
            h.release();
        }
        List<BaseMessage> got = MessageCodec.decodePulled(bytes, acks);
        if (consumeMostOnce) {
            // Already acked on receipt by the core; this only releases the native handles.
            for (BaseMessage m : got) {
                m.ack(0, null);
            }
        }
        return new ArrayList<>(got);
    }

    @Override
    public List<Message> pull(int size, long timeoutMillis, boolean waitIfNotComplete) {
        return pull(size, timeoutMillis);
    }

    @Override
    public Future<List<Message>> pullFuture(int size) {
        return CompletableFuture.supplyAsync(() -> pull(size), PULLS);
    }

    @Override
    public Future<List<Message>> pullFuture(int size, long timeoutMillis) {
        return CompletableFuture.supplyAsync(() -> pull(size, timeoutMillis), PULLS);
    }

    @Override
    public Future<List<Message>> pullFuture(int size, long timeoutMillis,
            boolean isResetCreateTime) {
        return pullFuture(size, timeoutMillis);
    }

    @Override
    public String getClientId() {
        return clientId;
    }

    @Override
    public String getSubject() {
        return subject;
    }

    @Override
    public String getConsumerGroup() {
        return broadcast ? clientId : group;
    }

    @Override
    public boolean isBroadcast() {
        return broadcast;
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        NativeHandle h;
        synchronized (this) {
            closed = true;
            h = pull;
        }
        if (h == null) {
            return;
        }
        try {
            long p = h.acquire();
            try {
                Native.pullClose(p);
            } finally {
                h.release();
            }
        } catch (ClosedException alreadyFreed) {
            return;
        }
        h.free(Native::pullFree);
    }
}
