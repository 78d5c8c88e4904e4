package qunar.tc.qmq.producer.tx;

import java.sql.Connection;

/**
 * Work done in one database transaction by {@link JdbcOutbox#inTransaction}: business
 * statements and {@link JdbcOutbox#stage} calls on the given connection.
 *
 * @param <T> the work's result
 */
@FunctionalInterface
public interface TransactionWork<T> {
    /**
     * @param connection the connection, in a transaction (auto-commit off); do not commit or
     *                   roll back yourself
     * @return the result handed back by {@code inTransaction}
     * @throws Exception to roll the transaction back (nothing is sent)
     */
    T run(Connection connection) throws Exception;
}
