package qunar.tc.qmq.consumer.idempotent;

import java.sql.Connection;

import qunar.tc.qmq.Message;

/**
 * A message handler doing its business work on the given connection, inside the transaction
 * that also records the message as processed ({@link TransactionalJdbcIdempotentChecker}).
 */
@FunctionalInterface
public interface JdbcMessageListener {
    /**
     * @param message    the message
     * @param connection the connection, in a transaction; do not commit, roll back or close it
     * @throws Exception to roll the transaction back (the key goes with it) and retry the message
     */
    void onMessage(Message message, Connection connection) throws Exception;
}
