package qunar.tc.qmq.consumer.idempotent;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

import javax.sql.DataSource;

import qunar.tc.qmq.Message;
import qunar.tc.qmq.MessageListener;
import qunar.tc.qmq.internal.TxNative;

/**
 * QMQ's non-transactional JDBC idempotence: before the handler runs, the message's key is
 * inserted (auto-commit) into the idempotence table — no row inserted ⇒ a duplicate, acked
 * without running the handler; if the handler throws, the key is deleted again so the retry
 * runs. The mark and the handler's effects are separate writes: a key whose delete fails (the
 * database went away) makes the retry look like a duplicate. Use {@link
 * TransactionalJdbcIdempotentChecker} when the handler's work is in the same database.
 * Thread-safe.
 */
public class JdbcIdempotentChecker extends AbstractJdbcIdempotentChecker {
    /** @param dataSource where {@value #DEFAULT_TABLE} lives */
    public JdbcIdempotentChecker(DataSource dataSource) {
        this(of(dataSource), DEFAULT_TABLE);
    }

    /**
     * @param dataSource where the table lives
     * @param table      the idempotence table
     */
    public JdbcIdempotentChecker(DataSource dataSource, String table) {
        this(of(dataSource), table);
    }

    /**
     * @param connections a connection per call (closed after it)
     * @param table       the idempotence table
     */
    public JdbcIdempotentChecker(ConnectionSupplier connections, String table) {
        super(connections, table);
    }

    /**
     * Processes one delivery.
     *
     * @return true if the handler ran, false for a duplicate
     * @throws RuntimeException what the handler threw (after the key was deleted), or a
     *                          {@link ConsumeException} for a database failure
     */
    public boolean process(String subject, String group, Message message,
            MessageListener handler) {
        String key = keyOf(subject, group, message);
        if (!update(TxNative.DEDUP_INSERT, key)) {
            return false;
        }
        try {
            handler.onMessage(message);
            return true;
        } catch (RuntimeException | Error e) {
            try {
                update(TxNative.DEDUP_FORGET, key);
            } catch (RuntimeException forget) {
                e.addSuppressed(forget);
            }
            throw e;
        }
    }

    /** @return whether a row changed */
    private boolean update(int statement, String key) {
        try (Connection c = connection()) {
            String[] sql = sql(c);
            boolean auto = c.getAutoCommit();
            int n;
            try (PreparedStatement ps = c.prepareStatement(sql[statement])) {
                ps.setString(1, key);
                n = ps.executeUpdate();
            }
            if (!auto) {
                c.commit();
            }
            return n > 0;
        } catch (SQLException e) {
            throw new ConsumeException("idempotence table: " + e.getMessage(), e);
        }
    }

    /**
     * @return a listener for {@code MessageConsumerProvider.addListener} running {@code
     *         handler} once per message id
     */
    public MessageListener listener(String subject, String group, MessageListener handler) {
        return message -> process(subject, group, message, handler);
    }
}
