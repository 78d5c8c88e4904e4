package qunar.tc.qmq;

/** The producer's in-memory queue stayed full for longer than allowed; the message was not sent. */
public class QueueFullException extends QmqException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception (also called by the native library).
     *
     * @param message   what went wrong
     * @param kind      the failure's name
     * @param retriable whether the same operation may succeed later
     */
    public QueueFullException(String message, String kind, boolean retriable) {
        super(message, kind, retriable);
    }
}
