package qunar.tc.qmq;

import java.util.List;
import java.util.concurrent.Future;

/**
 * Consumes by explicit pulls. Each message pulled must be acked with
 * {@link Message#ack(long, Throwable)} (a throwable fails it: it is delivered again later),
 * unless the consumer consumes at most once.
 */
public interface PullConsumer extends AutoCloseable {
    /** The longest timeout a pull accepts. */
    long MAX_PULL_TIMEOUT_MILLIS = Long.MAX_VALUE / 2;

    /**
     * At most once: messages are acked on receipt, never redelivered. Must be set before the
     * first pull.
     *
     * @param consumeMostOnce whether to consume at most once
     */
    void setConsumeMostOnce(boolean consumeMostOnce);

    /** @return whether this consumer consumes at most once */
    boolean isConsumeMostOnce();

    /**
     * Waits until {@code size} messages arrived.
     *
     * @param size how many messages
     * @return the messages
     */
    List<Message> pull(int size);

    /**
     * Waits until {@code size} messages arrived or {@code timeoutMillis} passed (a negative
     * timeout returns what is already there).
     *
     * @param size          the most messages to return
     * @param timeoutMillis how long to wait
     * @return what arrived, possibly nothing
     */
    List<Message> pull(int size, long timeoutMillis);

    /**
     * As {@link #pull(int, long)}.
     *
     * @param size              the most messages to return
     * @param timeoutMillis     how long to wait
     * @param waitIfNotComplete ignored
     * @return what arrived
     */
    List<Message> pull(int size, long timeoutMillis, boolean waitIfNotComplete);

    /**
     * {@link #pull(int)} on a background thread.
     *
     * @param size how many messages
     * @return the messages, later (a {@link java.util.concurrent.CompletableFuture})
     */
    Future<List<Message>> pullFuture(int size);

    /**
     * {@link #pull(int, long)} on a background thread.
     *
     * @param size          the most messages to return
     * @param timeoutMillis how long to wait
     * @return what arrived, later (a {@link java.util.concurrent.CompletableFuture})
     */
    Future<List<Message>> pullFuture(int size, long timeoutMillis);

    /**
     * As {@link #pullFuture(int, long)}.
     *
     * @param size              the most messages to return
     * @param timeoutMillis     how long to wait
     * @param isResetCreateTime ignored
     * @return what arrived, later
     */
    Future<List<Message>> pullFuture(int size, long timeoutMillis, boolean isResetCreateTime);

    /** @return the id this client consumes as */
    String getClientId();

    /** @return the subject consumed */
    String getSubject();

    /** @return the consumer group (the client id for broadcast) */
    String getConsumerGroup();

    /** @return whether this is a broadcast consumer */
    boolean isBroadcast();

    /** Stops pulling and sends the acks made so far. */
    @Override
    void close();
}
