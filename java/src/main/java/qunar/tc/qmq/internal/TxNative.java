package qunar.tc.qmq.internal;

/**
 * Internal: the native entry points of transactional messages and transactional idempotence
 * ({@code bindings/java/src/transaction.rs}). Not an API; shipped in lock-step with the
 * library, which {@link Native} loads.
 */
public final class TxNative {
    /** {@link #outboxSql} positions: the staging INSERT (one parameter, the content). */
    public static final int OUTBOX_INSERT = 0;
    /** {@code status, error} of a row (parameter: id). */
    public static final int OUTBOX_STATUS = 1;
    /** Deletes a row (parameter: id). */
    public static final int OUTBOX_DELETE = 2;
    /** QMQ's BLOCK: {@code status = -100, error + 1} (parameter: id). */
    public static final int OUTBOX_BLOCK = 3;
    /** {@code error + 1}, left for the watchdog (parameter: id). */
    public static final int OUTBOX_COUNT_ERROR = 4;
    /** First DDL statement; the rest follow. */
    public static final int OUTBOX_DDL = 5;

    /** {@link #dedupSql} positions: the dedup INSERT (parameter: key; 1 row = first time). */
    public static final int DEDUP_INSERT = 0;
    /** Deletes a key (parameter: key). */
    public static final int DEDUP_FORGET = 1;
    /** First DDL statement; the rest follow. */
    public static final int DEDUP_DDL = 2;

    static {
        Native.ensureLoaded();
    }

    private TxNative() {
    }

    /**
     * @param dialect {@code sqlite}, {@code postgres} or {@code mysql}
     * @param table   the outbox table
     * @return the statements, at the {@code OUTBOX_*} positions ({@code ?} parameters)
     */
    public static native String[] outboxSql(String dialect, String table);

    /**
     * @param client  a client handle
     * @param message an encoded outgoing message
     * @return the row's {@code content}
     */
    public static native String outboxContent(long client, byte[] message);

    /**
     * @param client   a client handle (its producer sends)
     * @param location a {@code postgres://} or {@code mysql://} URL or a SQLite file path
     * @param table    the outbox table
     * @return the outbox handle
     */
    public static native long outboxNew(long client, String location, String table);

    /**
     * Sends committed rows through the core (read back, sent, deleted or counted there).
     *
     * @return per row, null when sent, else the exception
     */
    public static native Object[] outboxSendRows(long outbox, long[] rowIds, long timeoutMillis);

    public static native void outboxFree(long outbox);

    /**
     * @return the statements at the {@code DEDUP_*} positions ({@code ?} parameters)
     */
    public static native String[] dedupSql(String dialect, String table);

    /** @return {@code <subject>%<group>%<messageId>}, at most 100 bytes */
    public static native String idempotenceKey(String subject, String group, String messageId);
}
