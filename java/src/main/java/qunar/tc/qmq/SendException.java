package qunar.tc.qmq;

/** A message could not be sent: the broker refused it, or every attempt failed. */
public class SendException extends QmqException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception (also called by the native library).
     *
     * @param message   what went wrong
     * @param kind      the failure's name
     * @param retriable whether the same operation may succeed later
     */
    public SendException(String message, String kind, boolean retriable) {
        super(message, kind, retriable);
    }
}
