package qunar.tc.qmq.consumer.idempotent;

/** A checked failure of an idempotent listener (a {@link java.sql.SQLException}, ...), rethrown unchecked so the message is retried. */
public class ConsumeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed
     * @param cause   the failure
     */
    public ConsumeException(String message, Throwable cause) {
        super(message, cause);
    }
}
