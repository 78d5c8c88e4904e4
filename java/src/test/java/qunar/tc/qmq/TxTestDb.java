package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * A database for the transactional tests: a fresh SQLite file, the PostgreSQL server of
 * {@code QMQ_TEST_POSTGRES_URL} or the MariaDB server of {@code QMQ_TEST_MYSQL_URL} (both
 * started by ci/java-tests.sh; a missing URL fails the test).
 */
final class TxTestDb {
    final String kind;
    final String jdbcUrl;

    private TxTestDb(String kind, String jdbcUrl) {
        this.kind = kind;
        this.jdbcUrl = jdbcUrl;
    }

    static TxTestDb of(String kind) {
        if ("sqlite".equals(kind)) {
            try {
                Path dir = Files.createTempDirectory("qmq-java-tx");
                dir.toFile().deleteOnExit();
                return new TxTestDb(kind, "jdbc:sqlite:" + dir.resolve("app.db"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        boolean mysql = "mysql".equals(kind);
        String env = mysql ? "QMQ_TEST_MYSQL_URL" : "QMQ_TEST_POSTGRES_URL";
        String url = System.getenv(env);
        if (url == null || url.isEmpty()) {
            fail("set " + env + "=" + (mysql ? "mysql" : "postgres")
                    + "://user@host:port/db (ci/java-tests.sh does)");
        }
        // postgres://user@host:port/db -> jdbc:postgresql://host:port/db?user=user (and
        // mysql:// -> jdbc:mariadb://, Debian's driver for MariaDB and MySQL)
        String rest = url.substring(url.indexOf("://") + 3);
        String user = mysql ? "root" : "postgres";
        int at = rest.indexOf('@');
        if (at >= 0) {
            user = rest.substring(0, at);
            rest = rest.substring(at + 1);
        }
        return new TxTestDb(kind, (mysql ? "jdbc:mariadb://" : "jdbc:postgresql://") + rest
                + "?user=" + user);
    }

    /** A fresh table name, so tests sharing a server database do not meet. */
    static String table(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    }

    Connection open() throws SQLException {
        return DriverManager.getConnection(jdbcUrl);
    }

    void exec(String sql) throws SQLException {
        try (Connection c = open(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    long count(String sql) throws SQLException {
        try (Connection c = open(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Override
    public String toString() {
        return kind;
    }
}
