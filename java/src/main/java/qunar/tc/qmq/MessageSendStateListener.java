package qunar.tc.qmq;

/**
 * Learns how a send ended. Called once per message, on the client's completion thread: do not
 * block in it.
 */
public interface MessageSendStateListener {
    /** @param message the message a broker stored */
    void onSuccess(Message message);

    /** @param message the message that could not be sent */
    void onFailed(Message message);
}
