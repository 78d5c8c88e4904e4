package qunar.tc.qmq.consumer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ThreadPoolExecutor;

import qunar.tc.qmq.ClosedException;
import qunar.tc.qmq.InvalidArgumentException;
import qunar.tc.qmq.ListenerHolder;
import qunar.tc.qmq.MessageConsumer;
import qunar.tc.qmq.MessageListener;
import qunar.tc.qmq.PullConsumer;
import qunar.tc.qmq.SubscribeParam;
import qunar.tc.qmq.internal.DefaultListenerHolder;
import qunar.tc.qmq.internal.DefaultPullConsumer;
import qunar.tc.qmq.internal.ListenerDispatcher;
import qunar.tc.qmq.internal.Native;
import qunar.tc.qmq.internal.NativeHandle;

/**
 * QMQ's consumer, over the Rust client core. Configure with the setters, call {@link #init()}
 * (or let the first {@code addListener} do it), and {@link #destroy()} at shutdown.
 *
 * <p>Listener messages are handed to the executor given to {@code addListener}: no user code
 * runs on a client thread. At most {@link #setListenerConcurrency(int)} messages of one
 * listener are in the executor at a time (default: four per thread of a
 * {@link ThreadPoolExecutor} or {@link ForkJoinPool}, at least 16, at most 256). Thread-safe.
 */
public class MessageConsumerProvider implements MessageConsumer, AutoCloseable {
    private static final long CLOSE_TIMEOUT_MILLIS = 10_000;

    private final long[] options = new long[Native.OPT_COUNT];
    private final ConcurrentHashMap<String, DefaultPullConsumer> pullConsumers =
            new ConcurrentHashMap<>();
    private final List<DefaultListenerHolder> listeners = new ArrayList<>();
    private volatile NativeHandle handle;
    private volatile String clientIdValue;
    private String appCode;
    private String metaServer;
    private String clientId;
    private int listenerConcurrency;

    /** A consumer to configure with the setters. */
    public MessageConsumerProvider() {
        Arrays.fill(options, -1);
    }

    /** @param appCode the application's unique name (required) */
    public void setAppCode(String appCode) {
        this.appCode = appCode;
    }

    /**
     * @param metaServer the meta server's HTTP locator URL (required)
     * @return this
     */
    public MessageConsumerProvider setMetaServer(String metaServer) {
        this.metaServer = metaServer;
        return this;
    }

    /** @param clientId a fixed client id instead of the generated {@code host@@hex} one */
    public void setClientId(String clientId) {
        this.clientId = clientId;
    }

    /** @param maxRetryNum deliveries before a failed message is dead-lettered (default 32) */
    public void setMaxRetryNum(int maxRetryNum) {
        options[Native.OPT_MAX_RETRY] = maxRetryNum;
    }

    /** @param millis delay before a failed message is delivered again (default 5000) */
    public void setRetryDelayMillis(long millis) {
        options[Native.OPT_RETRY_DELAY_MS] = millis;
    }

    /** @param n most messages of one listener handed to its executor at a time */
    public void setListenerConcurrency(int n) {
        this.listenerConcurrency = n;
    }

    /** @param threads runtime worker threads of the client */
    public void setClientThreads(int threads) {
        options[Native.OPT_WORKER_THREADS] = threads;
    }

    /** @param seconds ignored (kept for source compatibility) */
    public void setDestroyWaitInSeconds(int seconds) {
    }

    /** @param autoOnline ignored: consumers are online while registered */
    public void setAutoOnline(boolean autoOnline) {
    }

    /**
     * Starts the client (idempotent).
     *
     * @throws InvalidArgumentException if the app code or meta server is missing or invalid
     */
    public synchronized void init() {
        if (handle != null) {
            return;
        }
        if (appCode == null || appCode.isEmpty()) {
            throw new InvalidArgumentException("appCode must be set before init()", "Config", false);
        }
        if (metaServer == null || metaServer.isEmpty()) {
            throw new InvalidArgumentException("metaServer must be set before init()", "Config",
                    false);
        }
        long p = Native.clientNew(metaServer, appCode, clientId, options);
        clientIdValue = Native.clientId(p);
        handle = new NativeHandle("consumer", p);
    }

    private NativeHandle started() {
        init();
        NativeHandle h = handle;
        if (h.isFreed()) {
            throw new ClosedException("the consumer is closed", "Closed", false);
        }
        return h;
    }

    /** @return this client's id (also the group of broadcast subscriptions) */
    public String getClientId() {
        started();
        return clientIdValue;
    }

    @Override
    public ListenerHolder addListener(String subject, String consumerGroup,
            MessageListener listener, Executor executor) {
        return addListener(subject, consumerGroup, listener, executor, SubscribeParam.DEFAULT);
    }

    @Override
    public ListenerHolder addListener(String subject, String consumerGroup,
            MessageListener listener, Executor executor, SubscribeParam subscribeParam) {
        if (subject == null) {
            throw new InvalidArgumentException("subject must not be null", "InvalidName", false);
        }
        if (listener == null || executor == null || subscribeParam == null) {
            throw new InvalidArgumentException("listener, executor and subscribeParam must not be null",
                    "InvalidArgument", false);
        }
        NativeHandle h = started();
        boolean broadcast = subscribeParam.isBroadcast() || consumerGroup == null
                || consumerGroup.isEmpty();
        String[] tags = subscribeParam.getTags().toArray(new String[0]);
        DefaultListenerHolder holder = new DefaultListenerHolder(h, subject,
                broadcast ? "" : consumerGroup, tags, subscribeParam.getTagType(), broadcast,
                subscribeParam.isConsumeMostOnce(), concurrency(executor),
                new ListenerDispatcher(listener, executor));
        synchronized (listeners) {
            listeners.add(holder);
        }
        return holder;
    }

    private int concurrency(Executor executor) {
        if (listenerConcurrency > 0) {
            return listenerConcurrency;
        }
        // Enough messages in the executor to keep its threads busy while completions travel
        // back: four per thread of a sized pool, at least 16, at most 256.
        int threads = 4;
        if (executor instanceof ThreadPoolExecutor) {
            ThreadPoolExecutor pool = (ThreadPoolExecutor) executor;
            threads = Math.max(pool.getCorePoolSize(), Math.min(pool.getMaximumPoolSize(), 64));
        } else if (executor instanceof ForkJoinPool) {
            threads = ((ForkJoinPool) executor).getParallelism();
        }
        return Math.max(16, Math.min(256, threads * 4));
    }

    @Override
    public PullConsumer getOrCreatePullConsumer(String subject, String group, boolean isBroadcast) {
        return getOrCreatePullConsumer(subject, group, isBroadcast, SubscribeParam.DEFAULT);
    }

    /**
     * As {@link #getOrCreatePullConsumer(String, String, boolean)}, with tags (and
     * at-most-once) from {@code param}.
     *
     * @param subject     the subject
     * @param group       the group; ignored for broadcast
     * @param isBroadcast whether every consumer gets every message
     * @param param       tags, tag type and at-most-once
     * @return the pull consumer (the same one for the same arguments until closed)
     */
    public PullConsumer getOrCreatePullConsumer(String subject, String group, boolean isBroadcast,
            SubscribeParam param) {
        if (subject == null || subject.isEmpty()) {
            throw new InvalidArgumentException("subject must not be null or empty", "InvalidName",
                    false);
        }
        if (!isBroadcast && (group == null || group.isEmpty())) {
            throw new InvalidArgumentException(
                    "group must not be null or empty unless isBroadcast", "InvalidName", false);
        }
        NativeHandle h = started();
        String[] tags = param.getTags().toArray(new String[0]);
        String key = subject + '\u0000' + (isBroadcast ? "" : group) + '\u0000' + isBroadcast
                + '\u0000' + String.join("\u0001", tags) + '\u0000' + param.getTagType();
        DefaultPullConsumer pc = pullConsumers.compute(key, (k, old) -> {
            if (old != null && !old.isClosed()) {
                return old;
            }
            return new DefaultPullConsumer(h, clientIdValue, subject, group, isBroadcast, tags,
                    param.getTagType());
        });
        if (param.isConsumeMostOnce()) {
            pc.setConsumeMostOnce(true);
        }
        return pc;
    }

    /** Stops every listener and pull consumer, then the client. Idempotent. */
    public void destroy() {
        NativeHandle h;
        synchronized (this) {
            h = handle;
        }
        if (h == null || h.isFreed()) {
            return;
        }
        List<DefaultListenerHolder> toStop;
        synchronized (listeners) {
            toStop = new ArrayList<>(listeners);
            listeners.clear();
        }
        for (DefaultListenerHolder l : toStop) {
            l.stopListen();
        }
        for (DefaultPullConsumer pc : pullConsumers.values()) {
            pc.close();
        }
        pullConsumers.clear();
        try {
            long p = h.acquire();
            try {
                Native.clientClose(p, CLOSE_TIMEOUT_MILLIS);
            } finally {
                h.release();
            }
        } catch (ClosedException alreadyFreed) {
            return;
        }
        h.free(Native::clientFree);
    }

    /** Same as {@link #destroy()}. */
    @Override
    public void close() {
        destroy();
    }
}
