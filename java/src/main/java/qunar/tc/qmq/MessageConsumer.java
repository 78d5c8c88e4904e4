package qunar.tc.qmq;

import java.util.concurrent.Executor;

/** Consumes messages, with a listener (push) or a {@link PullConsumer}. */
public interface MessageConsumer {
    /**
     * Registers a listener.
     *
     * @param subject       the subject to consume
     * @param consumerGroup the group sharing the messages; null or empty for broadcast (every
     *                      consumer process gets every message)
     * @param listener      the handler
     * @param executor      where the handler runs
     * @return the registration
     */
    ListenerHolder addListener(String subject, String consumerGroup, MessageListener listener,
            Executor executor);

    /**
     * Registers a listener with options (tags, broadcast, at-most-once).
     *
     * @param subject        the subject to consume
     * @param consumerGroup  the group; null or empty for broadcast
     * @param listener       the handler
     * @param executor       where the handler runs
     * @param subscribeParam the options
     * @return the registration
     */
    ListenerHolder addListener(String subject, String consumerGroup, MessageListener listener,
            Executor executor, SubscribeParam subscribeParam);

    /**
     * The pull consumer of a subject and group, made on first use.
     *
     * @param subject     the subject to consume
     * @param group       the group; ignored for broadcast
     * @param isBroadcast whether every consumer process gets every message
     * @return the pull consumer
     */
    PullConsumer getOrCreatePullConsumer(String subject, String group, boolean isBroadcast);
}
