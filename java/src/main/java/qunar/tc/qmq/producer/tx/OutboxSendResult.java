package qunar.tc.qmq.producer.tx;

import qunar.tc.qmq.Message;

/** What became of one staged message after its transaction committed. */
public final class OutboxSendResult {
    private final long rowId;
    private final Message message;
    private final RuntimeException error;

    OutboxSendResult(long rowId, Message message, RuntimeException error) {
        this.rowId = rowId;
        this.message = message;
        this.error = error;
    }

    /** @return the outbox row's id */
    public long getRowId() {
        return rowId;
    }

    /** @return the staged message */
    public Message getMessage() {
        return message;
    }

    /** @return whether a broker stored the message (its row was then deleted) */
    public boolean isSent() {
        return error == null;
    }

    /**
     * @return null when sent; otherwise why not — a {@link qunar.tc.qmq.QmqException} whose
     *         kind is {@code NotCommitted} (rolled back: nothing sent, no row), {@code
     *         Send.LeftForWatchdog} / {@code Send.Blocked} / {@code Send.Unchanged} (the row
     *         stays: the watchdog resends it, except when blocked), {@code Timeout}, or a
     *         database failure (the row, if committed, stays for the watchdog)
     */
    public RuntimeException getError() {
        return error;
    }

    @Override
    public String toString() {
        return "OutboxSendResult{row=" + rowId + ", message=" + message.getMessageId()
                + (error == null ? ", sent" : ", error=" + error) + "}";
    }
}
