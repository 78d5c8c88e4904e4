package qunar.tc.qmq.producer.tx;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import qunar.tc.qmq.InvalidArgumentException;
import qunar.tc.qmq.Message;
import qunar.tc.qmq.QmqException;
import qunar.tc.qmq.SendException;
import qunar.tc.qmq.base.BaseMessage;
import qunar.tc.qmq.base.MessageCodec;
import qunar.tc.qmq.internal.JdbcSupport;
import qunar.tc.qmq.internal.NativeHandle;
import qunar.tc.qmq.internal.TxNative;
import qunar.tc.qmq.producer.MessageProducerProvider;

/**
 * Transactional messages (QMQ's {@code qmq_msg_queue} local message table): a message is
 * written as a row through the application's own JDBC {@link Connection}, inside the
 * application's transaction, so it exists if and only if that transaction commits. After the
 * commit the message is sent and its row deleted; a row whose send failed stays in the table
 * and {@code qmq-server watchdog} resends it.
 *
 * <pre>{@code
 * JdbcOutbox outbox = new JdbcOutbox(producer, "jdbc:postgresql://db/app?user=app");
 * outbox.createTable();
 * outbox.inTransaction(connection, c -> {
 *     try (PreparedStatement ps = c.prepareStatement("UPDATE account SET ...")) { ps.executeUpdate(); }
 *     Message m = producer.generateMessage("account.changed");
 *     m.setProperty("accountId", 42L);
 *     outbox.stage(c, m);          // INSERT INTO qmq_msg_queue, in this transaction
 *     return null;
 * });                              // commit, then send; an exception rolls back, sends nothing
 * }</pre>
 *
 * <p>Or by hand: {@code connection.setAutoCommit(false)}, {@link #stage}, {@code commit()},
 * then {@link #sendCommitted(Connection)}; after a {@code rollback()} call
 * {@link #discard(Connection)} (a staged message of a rolled-back transaction is never sent
 * anyway: its row is checked first).
 *
 * <p>The INSERT, the row's {@code content} (QMQ's JSON of the message, compatible with QMQ's
 * watchdog) and the DDL come from the Rust core. For PostgreSQL and MySQL/MariaDB the core
 * checks, sends and deletes committed rows through its own connection (the JDBC URL
 * translated to its {@code postgres://} / {@code mysql://} form). For SQLite this class does
 * that through a JDBC connection of its own: the core's copy of SQLite must not share a file
 * with the JDBC driver's copy in one process.
 *
 * <p>Thread-safe; staged messages are kept per {@link Connection} object until sent or
 * discarded.
 */
public final class JdbcOutbox implements AutoCloseable {
    /** QMQ's table name. */
    public static final String DEFAULT_TABLE = "qmq_msg_queue";

    private static final long DEFAULT_SEND_TIMEOUT_MILLIS = 30_000;

    private final MessageProducerProvider producer;
    private final String jdbcUrl;
    private final Properties info;
    private final String table;
    private final String dialect;
    private final String[] sql;
    private final NativeHandle outbox;
    private final Map<Connection, List<Staged>> staged =
            Collections.synchronizedMap(new IdentityHashMap<>());
    private final Object ownLock = new Object();
    private Connection own;
    private volatile long sendTimeoutMillis = DEFAULT_SEND_TIMEOUT_MILLIS;

    private static final class Staged {
        final long rowId;
        final Message message;

        Staged(long rowId, Message message) {
            this.rowId = rowId;
            this.message = message;
        }
    }

    /**
     * An outbox in {@value #DEFAULT_TABLE}.
     *
     * @param producer an initialised producer (sends the messages)
     * @param jdbcUrl  the database the application's connections write to: {@code
     *                 jdbc:postgresql://...}, {@code jdbc:mysql://...}, {@code
     *                 jdbc:mariadb://...} or {@code jdbc:sqlite:FILE}; user and password as URL
     *                 parameters
     */
    public JdbcOutbox(MessageProducerProvider producer, String jdbcUrl) {
        this(producer, jdbcUrl, null, DEFAULT_TABLE);
    }

    /**
     * @param producer an initialised producer
     * @param jdbcUrl  the database (see {@link #JdbcOutbox(MessageProducerProvider, String)})
     * @param info     JDBC connection properties ({@code user}, {@code password}), or null
     * @param table    the table ({@code name} or {@code schema.name})
     */
    public JdbcOutbox(MessageProducerProvider producer, String jdbcUrl, Properties info,
            String table) {
        if (producer == null || jdbcUrl == null || table == null) {
            throw new InvalidArgumentException("producer, jdbcUrl and table must not be null",
                    "InvalidArgument", false);
        }
        this.producer = producer;
        this.jdbcUrl = jdbcUrl;
        this.info = info == null ? new Properties() : info;
        this.table = table;
        String location;
        try {
            dialect = JdbcSupport.dialectOfUrl(jdbcUrl);
            location = JdbcSupport.coreLocation(jdbcUrl, this.info);
        } catch (IllegalArgumentException e) {
            throw new InvalidArgumentException(e.getMessage(), "UnsupportedLocation", false);
        }
        sql = TxNative.outboxSql(dialect, table);
        if (JdbcSupport.SQLITE.equals(dialect)) {
            outbox = null;
        } else {
            NativeHandle client = producer.nativeHandle();
            long p = client.acquire();
            try {
                outbox = new NativeHandle("outbox", TxNative.outboxNew(p, location, table));
            } finally {
                client.release();
            }
        }
    }

    /** @return {@code sqlite}, {@code postgres} or {@code mysql} */
    public String getDialect() {
        return dialect;
    }

    /** @return the table name */
    public String getTable() {
        return table;
    }

    /** @param millis longest wait of {@link #sendCommitted(Connection)} (default 30 s) */
    public void setSendTimeoutMillis(long millis) {
        this.sendTimeoutMillis = millis;
    }

    /**
     * Creates the table and its index if missing (the core's shipped DDL), through a
     * connection of its own opened from the JDBC URL.
     *
     * @throws SQLException if the DDL fails
     */
    public void createTable() throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, info)) {
            createTable(c);
        }
    }

    /**
     * Creates the table and its index if missing on {@code connection} (committed here if
     * auto-commit is off).
     *
     * @param connection a connection to the outbox's database
     * @throws SQLException if the DDL fails
     */
    public void createTable(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement()) {
            for (int i = TxNative.OUTBOX_DDL; i < sql.length; i++) {
                st.execute(sql[i]);
            }
        }
        if (!connection.getAutoCommit()) {
            connection.commit();
        }
    }

    /**
     * Inserts {@code message}'s row through {@code connection}, inside its current transaction;
     * the message is sent by {@link #sendCommitted(Connection)} after the commit.
     *
     * @param connection the application's connection, auto-commit off
     * @param message    a message from {@link MessageProducerProvider#generateMessage}
     * @return the row's id
     * @throws SQLException           if the INSERT fails (roll the transaction back)
     * @throws IllegalStateException  if auto-commit is on (the row would commit on its own)
     * @throws InvalidArgumentException for an invalid message or a connection to another kind
     *                                of database
     */
    public long stage(Connection connection, Message message) throws SQLException {
        if (connection.getAutoCommit()) {
            throw new IllegalStateException(
                    "stage() needs a transaction: call connection.setAutoCommit(false) first");
        }
        if (!(message instanceof BaseMessage) || ((BaseMessage) message).isReceived()) {
            throw new InvalidArgumentException(
                    "message must come from generateMessage (got " + message + ")",
                    "InvalidMessage", false);
        }
        String given = JdbcSupport.dialectOf(connection);
        if (!dialect.equals(given)) {
            throw new InvalidArgumentException("the connection is " + given
                    + ", but the outbox database is " + dialect, "DialectMismatch", false);
        }
        String content;
        NativeHandle client = producer.nativeHandle();
        long p = client.acquire();
        try {
            content = TxNative.outboxContent(p, MessageCodec.encode((BaseMessage) message));
        } finally {
            client.release();
        }
        long rowId;
        if (JdbcSupport.POSTGRES.equals(dialect)) {
            // PostgreSQL's INSERT ends in RETURNING id.
            try (PreparedStatement ps = connection.prepareStatement(sql[TxNative.OUTBOX_INSERT])) {
                ps.setString(1, content);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new SQLException("outbox INSERT returned no id");
                    }
                    rowId = rs.getLong(1);
                }
            }
        } else {
            try (PreparedStatement ps = connection.prepareStatement(sql[TxNative.OUTBOX_INSERT],
                    Statement.RETURN_GENERATED_KEYS)) {
                ps.setString(1, content);
                ps.executeUpdate();
                try (ResultSet rs = ps.getGeneratedKeys()) {
                    if (!rs.next()) {
                        throw new SQLException("outbox INSERT returned no generated key");
                    }
                    rowId = rs.getLong(1);
                }
            }
        }
        staged.computeIfAbsent(connection, k -> Collections.synchronizedList(new ArrayList<>()))
                .add(new Staged(rowId, message));
        return rowId;
    }

    /** @return how many messages are staged on {@code connection} and not sent yet */
    public int stagedCount(Connection connection) {
        List<Staged> list = staged.get(connection);
        return list == null ? 0 : list.size();
    }

    /**
     * Forgets the messages staged on {@code connection} (after a rollback: their rows are
     * gone). Nothing is sent.
     *
     * @param connection the connection they were staged on
     */
    public void discard(Connection connection) {
        staged.remove(connection);
    }

    /**
     * Sends the messages staged on {@code connection} once its transaction committed, and
     * deletes their rows after a broker stored them; waits for the outcomes (up to {@link
     * #setSendTimeoutMillis}). A message whose send failed keeps its row for the watchdog; a
     * message whose row is not committed (rolled back) is not sent.
     *
     * @param connection the connection the messages were staged on, after {@code commit()}
     * @return one result per staged message, in staging order
     */
    public List<OutboxSendResult> sendCommitted(Connection connection) {
        List<Staged> list = staged.remove(connection);
        if (list == null || list.isEmpty()) {
            return Collections.emptyList();
        }
        List<Staged> items;
        synchronized (list) {
            items = new ArrayList<>(list);
        }
        return outbox == null ? sendHostSettled(items) : sendThroughCore(items);
    }

    /**
     * Runs {@code work} in a transaction on {@code connection} and commits it, then sends the
     * messages the work staged ({@link #sendCommitted}; a failed send leaves its row for the
     * watchdog). If the work or the commit throws, the transaction is rolled back, nothing is
     * sent, and the exception is rethrown. Auto-commit is restored afterwards.
     *
     * @param connection the application's connection
     * @param work       the business statements and {@link #stage} calls
     * @param <T>        the work's result
     * @return the work's result
     * @throws Exception what the work, the commit or the rollback threw
     */
    public <T> T inTransaction(Connection connection, TransactionWork<T> work) throws Exception {
        boolean auto = connection.getAutoCommit();
        if (auto) {
            connection.setAutoCommit(false);
        }
        T result;
        try {
            result = work.run(connection);
            connection.commit();
        } catch (Throwable t) {
            discard(connection);
            try {
                connection.rollback();
            } catch (SQLException e) {
                t.addSuppressed(e);
            }
            throw t;
        } finally {
            if (auto) {
                connection.setAutoCommit(true);
            }
        }
        sendCommitted(connection);
        return result;
    }

    private List<OutboxSendResult> sendThroughCore(List<Staged> items) {
        long[] ids = new long[items.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = items.get(i).rowId;
        }
        Object[] errors;
        long p = outbox.acquire();
        try {
            errors = TxNative.outboxSendRows(p, ids, sendTimeoutMillis);
        } finally {
            outbox.release();
        }
        List<OutboxSendResult> out = new ArrayList<>(items.size());
        for (int i = 0; i < ids.length; i++) {
            out.add(new OutboxSendResult(ids[i], items.get(i).message,
                    (RuntimeException) errors[i]));
        }
        return out;
    }

    /** SQLite: check, send with the producer, then delete or count through our own JDBC connection. */
    private List<OutboxSendResult> sendHostSettled(List<Staged> items) {
        List<OutboxSendResult> out = new ArrayList<>(items.size());
        List<CompletableFuture<Message>> futures = new ArrayList<>(items.size());
        RuntimeException[] errors = new RuntimeException[items.size()];
        for (int i = 0; i < items.size(); i++) {
            Staged s = items.get(i);
            futures.add(null);
            try {
                if (!committed(s.rowId)) {
                    errors[i] = new QmqException("outbox row " + s.rowId
                            + " is not committed (rolled back, or not committed yet); nothing sent",
                            "NotCommitted", false);
                    continue;
                }
                futures.set(i, producer.sendMessageAsync(s.message));
            } catch (SQLException e) {
                errors[i] = new QmqException("outbox row " + s.rowId + " not checked ("
                        + e.getMessage() + "); left for the watchdog", "Database", true);
            } catch (RuntimeException e) {
                errors[i] = settleFailure(s.rowId, s.message, e);
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(sendTimeoutMillis);
        for (int i = 0; i < items.size(); i++) {
            Staged s = items.get(i);
            CompletableFuture<Message> f = futures.get(i);
            if (f != null) {
                try {
                    f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    try {
                        ownUpdate(TxNative.OUTBOX_DELETE, s.rowId);
                    } catch (SQLException e) {
                        // Sent; the watchdog will send it again (same id: consumers deduplicate).
                    }
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    errors[i] = settleFailure(s.rowId, s.message, cause instanceof RuntimeException
                            ? (RuntimeException) cause : new RuntimeException(cause));
                } catch (TimeoutException e) {
                    errors[i] = new QmqException("outbox row " + s.rowId + ": no outcome within "
                            + sendTimeoutMillis + " ms; left for the watchdog", "Timeout", true);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    errors[i] = new QmqException("outbox row " + s.rowId
                            + ": interrupted; left for the watchdog", "Interrupted", true);
                }
            }
            out.add(new OutboxSendResult(s.rowId, s.message, errors[i]));
        }
        return out;
    }

    /** Records a failed send on the row, as the core does; returns the error to report. */
    private RuntimeException settleFailure(long rowId, Message message, RuntimeException cause) {
        boolean blocked = cause instanceof QmqException
                && "SendRejected".equals(((QmqException) cause).getKind())
                && String.valueOf(cause.getMessage()).contains("with code 5:");
        String fate;
        try {
            ownUpdate(blocked ? TxNative.OUTBOX_BLOCK : TxNative.OUTBOX_COUNT_ERROR, rowId);
            fate = blocked ? "Blocked" : "LeftForWatchdog";
        } catch (SQLException e) {
            fate = "Unchanged";
        }
        SendException e = new SendException("outbox row " + rowId + ": message "
                + message.getMessageId() + " not sent (" + fate + "): " + cause.getMessage(),
                "Send." + fate, cause instanceof QmqException && ((QmqException) cause).isRetriable());
        e.initCause(cause);
        return e;
    }

    private boolean committed(long rowId) throws SQLException {
        synchronized (ownLock) {
            try (PreparedStatement ps = ownConnection().prepareStatement(sql[TxNative.OUTBOX_STATUS])) {
                ps.setLong(1, rowId);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() && rs.getInt(1) == 0;
                }
            } catch (SQLException e) {
                dropOwn();
                throw e;
            }
        }
    }

    private void ownUpdate(int statement, long rowId) throws SQLException {
        synchronized (ownLock) {
            try (PreparedStatement ps = ownConnection().prepareStatement(sql[statement])) {
                ps.setLong(1, rowId);
                ps.executeUpdate();
            } catch (SQLException e) {
                dropOwn();
                throw e;
            }
        }
    }

    private Connection ownConnection() throws SQLException {
        if (own == null) {
            own = DriverManager.getConnection(jdbcUrl, info);
            own.setAutoCommit(true);
        }
        return own;
    }

    private void dropOwn() {
        if (own != null) {
            try {
                own.close();
            } catch (SQLException ignored) {
                // Reconnect next time.
            }
            own = null;
        }
    }

    /** Closes this outbox's own database connections; staged, unsent messages wait for the watchdog. */
    @Override
    public void close() {
        synchronized (ownLock) {
            dropOwn();
        }
        if (outbox != null) {
            outbox.free(TxNative::outboxFree);
        }
    }
}
