package qunar.tc.qmq;

/** The producer, consumer or client was closed (or not initialised with {@code init()}); nothing was done. */
public class ClosedException extends QmqException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception (also called by the native library).
     *
     * @param message   what went wrong
     * @param kind      the failure's name
     * @param retriable whether the same operation may succeed later
     */
    public ClosedException(String message, String kind, boolean retriable) {
        super(message, kind, retriable);
    }
}
