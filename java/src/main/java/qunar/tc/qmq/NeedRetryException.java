package qunar.tc.qmq;

import java.util.Date;

/**
 * Thrown by a {@link MessageListener} to ask for the message to be delivered again. Any other
 * exception retries the message too; this one only documents the intent. The retry delay is
 * the consumer's (the {@code next} time is informational: the core schedules retries itself).
 */
public class NeedRetryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long next;

    /**
     * @param next    when the caller would like the next try
     * @param message why the message must be retried
     */
    public NeedRetryException(Date next, String message) {
        super(message);
        this.next = next == null ? 0 : next.getTime();
    }

    /**
     * @param next    when the caller would like the next try, epoch milliseconds
     * @param message why the message must be retried
     */
    public NeedRetryException(long next, String message) {
        super(message);
        this.next = next;
    }

    /** @return the requested time of the next try, epoch milliseconds (0 = none) */
    public long getNext() {
        return next;
    }
}
