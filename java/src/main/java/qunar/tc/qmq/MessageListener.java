package qunar.tc.qmq;

/**
 * Handles consumed messages. Runs on the executor given to
 * {@link MessageConsumer#addListener}. Returning normally acks the message; throwing (for
 * example a {@link NeedRetryException}) delivers it again later, up to the retry limit, after
 * which it goes to the dead-letter subject.
 */
public interface MessageListener {
    /** @param msg the message */
    void onMessage(Message msg);
}
