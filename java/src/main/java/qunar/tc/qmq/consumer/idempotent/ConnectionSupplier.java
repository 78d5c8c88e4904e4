package qunar.tc.qmq.consumer.idempotent;

import java.sql.Connection;
import java.sql.SQLException;

/** Where the idempotent checkers get a connection for each message ({@code dataSource::getConnection}). */
@FunctionalInterface
public interface ConnectionSupplier {
    /**
     * @return an open connection; the checker closes it when done with the message
     * @throws SQLException if none can be had (the message is retried)
     */
    Connection get() throws SQLException;
}
