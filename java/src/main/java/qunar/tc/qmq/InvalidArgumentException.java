package qunar.tc.qmq;

/** An argument was rejected: a null or malformed subject or group, a reserved or over-long property, a bad delay time, too many tags. */
public class InvalidArgumentException extends QmqException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception (also called by the native library).
     *
     * @param message   what went wrong
     * @param kind      the failure's name
     * @param retriable whether the same operation may succeed later
     */
    public InvalidArgumentException(String message, String kind, boolean retriable) {
        super(message, kind, retriable);
    }
}
