package qunar.tc.qmq;

/** Sends messages. */
public interface MessageProducer {
    /**
     * A new message with a fresh, globally unique id; it expires 15 minutes after this call.
     *
     * @param subject the message's subject
     * @return the message, to fill in and pass to {@link #sendMessage(Message)}
     */
    Message generateMessage(String subject);

    /**
     * Sends a message asynchronously.
     *
     * @param message a message from {@link #generateMessage(String)}
     * @throws InvalidArgumentException if the message is invalid (subject, property, tag,
     *                                  delay)
     * @throws ClosedException          if the producer is closed
     */
    void sendMessage(Message message);

    /**
     * Sends a message asynchronously; {@code listener} learns how it ended.
     *
     * @param message  a message from {@link #generateMessage(String)}
     * @param listener called once with the outcome; may be null
     */
    void sendMessage(Message message, MessageSendStateListener listener);

    /**
     * Ordered messages are not supported by this client.
     *
     * @param message         the message
     * @param orderIdentifier its order key
     * @throws UnsupportedOperationException always
     */
    void sendMessage(Message message, int orderIdentifier);

    /**
     * Ordered messages are not supported by this client.
     *
     * @param message         the message
     * @param listener        its listener
     * @param orderIdentifier its order key
     * @throws UnsupportedOperationException always
     */
    void sendMessage(Message message, MessageSendStateListener listener, int orderIdentifier);
}
