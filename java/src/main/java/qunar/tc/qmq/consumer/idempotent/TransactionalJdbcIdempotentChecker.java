package qunar.tc.qmq.consumer.idempotent;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

import javax.sql.DataSource;

import qunar.tc.qmq.Message;
import qunar.tc.qmq.MessageListener;
import qunar.tc.qmq.internal.TxNative;

/**
 * Exactly-once business effects for at-least-once delivery: the message's key is inserted into
 * the idempotence table in the same database transaction as the handler's business work.
 *
 * <p>Per message: take a connection, begin a transaction, run the core's dedup INSERT with the
 * key {@code <subject>%<group>%<messageId>}. No row inserted ⇒ a duplicate: roll back and ack
 * without calling the handler. Otherwise run the handler with that connection; it returns ⇒
 * commit (work and key together) and ack; it throws ⇒ roll back (the key goes with the work)
 * and the message is retried.
 *
 * <pre>{@code
 * TransactionalJdbcIdempotentChecker checker = new TransactionalJdbcIdempotentChecker(dataSource);
 * checker.createTable();
 * consumer.addListener("order.changed", "billing",
 *     checker.listener("order.changed", "billing", (message, connection) -> {
 *         try (PreparedStatement ps = connection.prepareStatement("INSERT INTO bill ...")) { ... }
 *     }), executor);
 * }</pre>
 *
 * <p>The table must live in the same database as the business tables. Thread-safe.
 */
public class TransactionalJdbcIdempotentChecker extends AbstractJdbcIdempotentChecker {
    /** @param dataSource the business database; keys go to {@value #DEFAULT_TABLE} */
    public TransactionalJdbcIdempotentChecker(DataSource dataSource) {
        this(of(dataSource), DEFAULT_TABLE);
    }

    /**
     * @param dataSource the business database
     * @param table      the idempotence table
     */
    public TransactionalJdbcIdempotentChecker(DataSource dataSource, String table) {
        this(of(dataSource), table);
    }

    /**
     * @param connections a connection per message (closed after it)
     * @param table       the idempotence table
     */
    public TransactionalJdbcIdempotentChecker(ConnectionSupplier connections, String table) {
        super(connections, table);
    }

    /**
     * Processes one delivery.
     *
     * @param subject  the subject
     * @param group    the consumer group
     * @param message  the message
     * @param handler  the business work
     * @return true if the handler ran and committed, false for a duplicate (nothing ran)
     * @throws Exception what the handler, the database or the commit threw (rolled back)
     */
    public boolean process(String subject, String group, Message message,
            JdbcMessageListener handler) throws Exception {
        String key = keyOf(subject, group, message);
        try (Connection c = connection()) {
            String[] sql = sql(c);
            boolean auto = c.getAutoCommit();
            if (auto) {
                c.setAutoCommit(false);
            }
            try {
                int inserted;
                try (PreparedStatement ps = c.prepareStatement(sql[TxNative.DEDUP_INSERT])) {
                    ps.setString(1, key);
                    inserted = ps.executeUpdate();
                }
                if (inserted == 0) {
                    c.rollback();
                    return false;
                }
                handler.onMessage(message, c);
                c.commit();
                return true;
            } catch (Throwable t) {
                try {
                    c.rollback();
                } catch (SQLException e) {
                    t.addSuppressed(e);
                }
                throw t;
            } finally {
                if (auto) {
                    try {
                        c.setAutoCommit(true);
                    } catch (SQLException ignored) {
                        // The connection is closed next anyway.
                    }
                }
            }
        }
    }

    /**
     * @param subject the subject the listener is registered for
     * @param group   its consumer group
     * @param handler the business work
     * @return a listener for {@code MessageConsumerProvider.addListener}: a duplicate is acked
     *         without running {@code handler}; a failure is rethrown (unchecked), so the
     *         message is retried
     */
    public MessageListener listener(String subject, String group, JdbcMessageListener handler) {
        return message -> {
            try {
                process(subject, group, message, handler);
            } catch (Exception e) {
                throw unchecked("message " + message.getMessageId() + " failed", e);
            }
        };
    }
}
