package qunar.tc.qmq.internal;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Properties;

/**
 * Internal: JDBC helpers of the transactional classes — the dialect of a connection or URL,
 * and a JDBC URL translated to the core's database location form.
 */
public final class JdbcSupport {
    /** SQLite. */
    public static final String SQLITE = "sqlite";
    /** PostgreSQL. */
    public static final String POSTGRES = "postgres";
    /** MySQL or MariaDB. */
    public static final String MYSQL = "mysql";

    private JdbcSupport() {
    }

    /**
     * @param connection an open connection
     * @return {@link #SQLITE}, {@link #POSTGRES} or {@link #MYSQL}
     * @throws SQLException             if the metadata cannot be read
     * @throws IllegalArgumentException for another database
     */
    public static String dialectOf(Connection connection) throws SQLException {
        String product = connection.getMetaData().getDatabaseProductName();
        String p = product == null ? "" : product.toLowerCase(Locale.ROOT);
        if (p.contains("sqlite")) {
            return SQLITE;
        }
        if (p.contains("postgres")) {
            return POSTGRES;
        }
        if (p.contains("mysql") || p.contains("mariadb")) {
            return MYSQL;
        }
        throw new IllegalArgumentException("unsupported database " + product
                + ": use SQLite, PostgreSQL, MySQL or MariaDB");
    }

    /**
     * @param jdbcUrl {@code jdbc:sqlite:...}, {@code jdbc:postgresql:...},
     *                {@code jdbc:mysql:...} or {@code jdbc:mariadb:...}
     * @return its dialect
     */
    public static String dialectOfUrl(String jdbcUrl) {
        String u = jdbcUrl == null ? "" : jdbcUrl.toLowerCase(Locale.ROOT);
        if (u.startsWith("jdbc:sqlite:")) {
            return SQLITE;
        }
        if (u.startsWith("jdbc:postgresql:")) {
            return POSTGRES;
        }
        if (u.startsWith("jdbc:mysql:") || u.startsWith("jdbc:mariadb:")) {
            return MYSQL;
        }
        throw new IllegalArgumentException("unsupported JDBC URL " + redact(jdbcUrl)
                + ": use jdbc:sqlite:, jdbc:postgresql:, jdbc:mysql: or jdbc:mariadb:");
    }

    /**
     * The core's location of the database a JDBC URL names: the SQLite file path, or a
     * {@code postgres://} / {@code mysql://} URL with the user and password taken from the
     * URL's parameters or {@code info} (other parameters are not carried over).
     *
     * @param jdbcUrl the JDBC URL
     * @param info    connection properties ({@code user}, {@code password}), may be null
     * @return the location
     */
    public static String coreLocation(String jdbcUrl, Properties info) {
        String dialect = dialectOfUrl(jdbcUrl);
        if (SQLITE.equals(dialect)) {
            String path = jdbcUrl.substring("jdbc:sqlite:".length());
            if (path.startsWith("file:")) {
                path = path.substring("file:".length());
            }
            int q = path.indexOf('?');
            if (q >= 0) {
                path = path.substring(0, q);
            }
            if (path.isEmpty() || path.startsWith(":memory:") || path.startsWith(":resource:")) {
                throw new IllegalArgumentException(
                        "a SQLite outbox needs a database file, not " + jdbcUrl);
            }
            return path;
        }
        String rest = jdbcUrl.substring(jdbcUrl.indexOf(':', 5) + 1);
        String scheme = POSTGRES.equals(dialect) ? "postgres" : "mysql";
        String user = info == null ? null : info.getProperty("user");
        String password = info == null ? null : info.getProperty("password");
        int q = rest.indexOf('?');
        if (q >= 0) {
            for (String kv : rest.substring(q + 1).split("&")) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    continue;
                }
                String k = kv.substring(0, eq);
                String v = URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
                if (k.equals("user")) {
                    user = v;
                } else if (k.equals("password")) {
                    password = v;
                }
            }
            rest = rest.substring(0, q);
        }
        String hostAndDb;
        if (rest.startsWith("//")) {
            hostAndDb = rest.substring(2);
            if (hostAndDb.startsWith("/")) {
                hostAndDb = "localhost" + hostAndDb;
            }
        } else {
            hostAndDb = "localhost/" + rest;
        }
        StringBuilder out = new StringBuilder(scheme).append("://");
        if (user != null && !user.isEmpty()) {
            out.append(enc(user));
            if (password != null && !password.isEmpty()) {
                out.append(':').append(enc(password));
            }
            out.append('@');
        }
        return out.append(hostAndDb).toString();
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /**
     * @param jdbcUrl a JDBC URL
     * @return the URL without the value of a {@code password} parameter
     */
    public static String redact(String jdbcUrl) {
        return jdbcUrl == null ? null : jdbcUrl.replaceAll("(?i)(password=)[^&;]*", "$1***");
    }
}
