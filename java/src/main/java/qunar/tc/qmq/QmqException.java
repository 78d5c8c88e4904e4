package qunar.tc.qmq;

/**
 * Base class of every error raised by this client. Unchecked, like the runtime exceptions
 * QMQ's own client throws.
 *
 * <p>{@link #getKind()} names the exact failure (the Rust core's error variant, e.g.
 * {@code "PropertyTooLong"}), and {@link #isRetriable()} tells whether trying the same
 * operation later may succeed. Subclasses: {@link ClosedException},
 * {@link QueueFullException}, {@link InvalidArgumentException}, {@link SendException}.
 */
public class QmqException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String kind;
    private final boolean retriable;

    /**
     * Creates an exception (also called by the native library).
     *
     * @param message   what went wrong, with its chain of causes
     * @param kind      the failure's name
     * @param retriable whether the same operation may succeed later
     */
    public QmqException(String message, String kind, boolean retriable) {
        super(message);
        this.kind = kind;
        this.retriable = retriable;
    }

    /** @return the failure's name, e.g. {@code "QueueFull"} */
    public String getKind() {
        return kind;
    }

    /** @return whether trying the same operation again later may succeed */
    public boolean isRetriable() {
        return retriable;
    }
}
