package qunar.tc.qmq.consumer.idempotent;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

import javax.sql.DataSource;

import qunar.tc.qmq.InvalidArgumentException;
import qunar.tc.qmq.Message;
import qunar.tc.qmq.internal.JdbcSupport;
import qunar.tc.qmq.internal.TxNative;

/**
 * What the JDBC idempotent checkers share: where connections come from, the table (QMQ's
 * {@code deduplicate_tbl} by default), its SQL per dialect (from the Rust core) and the key
 * {@code <subject>%<group>%<messageId>} (at most 100 bytes, as the core's stores make it).
 */
public abstract class AbstractJdbcIdempotentChecker {
    /** QMQ's table name. */
    public static final String DEFAULT_TABLE = "deduplicate_tbl";

    private final ConnectionSupplier connections;
    private final String table;
    private volatile String dialect;
    private volatile String[] sql;

    AbstractJdbcIdempotentChecker(ConnectionSupplier connections, String table) {
        if (connections == null || table == null) {
            throw new InvalidArgumentException("connections and table must not be null",
                    "InvalidArgument", false);
        }
        this.connections = connections;
        this.table = table;
        // Validates the name now (an InvalidArgumentException), whatever the dialect.
        TxNative.dedupSql(JdbcSupport.SQLITE, table);
    }

    static ConnectionSupplier of(DataSource dataSource) {
        if (dataSource == null) {
            throw new InvalidArgumentException("dataSource must not be null", "InvalidArgument",
                    false);
        }
        return dataSource::getConnection;
    }

    /** @return the table name */
    public String getTable() {
        return table;
    }

    /**
     * Creates the table and its indexes if missing (the core's shipped DDL).
     *
     * @throws SQLException if the DDL fails
     */
    public void createTable() throws SQLException {
        try (Connection c = connections.get()) {
            String[] s = sql(c);
            try (Statement st = c.createStatement()) {
                for (int i = TxNative.DEDUP_DDL; i < s.length; i++) {
                    st.execute(s[i]);
                }
            }
            if (!c.getAutoCommit()) {
                c.commit();
            }
        }
    }

    /**
     * @param subject the subject consumed
     * @param group   the consumer group
     * @param message the message
     * @return the key under which the message is remembered
     */
    public static String keyOf(String subject, String group, Message message) {
        return TxNative.idempotenceKey(subject, group, message.getMessageId());
    }

    Connection connection() throws SQLException {
        return connections.get();
    }

    /** The statements for {@code c}'s database (looked up once, from the first connection). */
    String[] sql(Connection c) throws SQLException {
        String[] s = sql;
        if (s == null) {
            String d = JdbcSupport.dialectOf(c);
            s = TxNative.dedupSql(d, table);
            dialect = d;
            sql = s;
        }
        return s;
    }

    /** @return the dialect seen, or null before the first connection */
    public String getDialect() {
        return dialect;
    }

    static RuntimeException unchecked(String what, Throwable t) {
        if (t instanceof RuntimeException) {
            return (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
        return new ConsumeException(what + ": " + t, t);
    }
}
