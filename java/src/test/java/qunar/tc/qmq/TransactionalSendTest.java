package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import qunar.tc.qmq.consumer.MessageConsumerProvider;
import qunar.tc.qmq.internal.JdbcSupport;
import qunar.tc.qmq.producer.MessageProducerProvider;
import qunar.tc.qmq.producer.tx.JdbcOutbox;
import qunar.tc.qmq.producer.tx.OutboxSendResult;

/**
 * Transactional messages through JDBC against a real qmq-server and real databases (a SQLite
 * file, and the PostgreSQL of QMQ_TEST_POSTGRES_URL): a committed message is delivered once
 * and its row deleted, a rolled-back one never exists, a failed send keeps its row.
 */
class TransactionalSendTest {
    private static JdbcOutbox outbox(MessageProducerProvider producer, TxTestDb db, String table)
            throws Exception {
        JdbcOutbox outbox = new JdbcOutbox(producer, db.jdbcUrl, null, table);
        outbox.createTable();
        outbox.createTable(); // idempotent
        return outbox;
    }

    private static void insertOrder(Connection c, String orders, String id) throws Exception {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + orders + " (id) VALUES (?)")) {
            ps.setString(1, id);
            ps.executeUpdate();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres", "mysql"})
    void a_committed_message_is_delivered_once_and_its_row_deleted(String kind) throws Exception {
        TxTestDb db = TxTestDb.of(kind);
        String subject = QmqTestSupport.subject();
        // SQLite: QMQ's own table name; PostgreSQL (shared by the tests): a fresh one.
        String table = "sqlite".equals(kind) ? JdbcOutbox.DEFAULT_TABLE : TxTestDb.table("outbox");
        String orders = TxTestDb.table("orders");
        db.exec("CREATE TABLE " + orders + " (id VARCHAR(64) PRIMARY KEY)");
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer();
                JdbcOutbox outbox = outbox(producer, db, table);
                Connection c = db.open()) {
            assertEquals(kind, outbox.getDialect());
            PullConsumer pc = consumer.getOrCreatePullConsumer(subject, "tx", false);
            QmqTestSupport.warmUp(producer, pc, subject);

            // inTransaction: business row + message, commit, send.
            String result = outbox.inTransaction(c, conn -> {
                insertOrder(conn, orders, "o1");
                Message m = producer.generateMessage(subject);
                m.setProperty("body", "o1");
                long row = outbox.stage(conn, m);
                assertEquals(0, db.count("SELECT COUNT(*) FROM " + table),
                        "an uncommitted row is invisible to other connections");
                assertTrue(row > 0);
                return "done";
            });
            assertEquals("done", result);
            assertTrue(c.getAutoCommit(), "auto-commit restored");

            // By hand: stage two, commit, sendCommitted.
            c.setAutoCommit(false);
            insertOrder(c, orders, "o2");
            Message m2 = producer.generateMessage(subject);
            m2.setProperty("body", "o2");
            Message m3 = producer.generateMessage(subject);
            m3.setProperty("body", "o3");
            long r2 = outbox.stage(c, m2);
            long r3 = outbox.stage(c, m3);
            assertEquals(2, outbox.stagedCount(c));
            assertEquals(0, db.count("SELECT COUNT(*) FROM " + table),
                    "o1's row was deleted after its send; o2's and o3's are not committed yet");
            c.commit();
            List<OutboxSendResult> results = outbox.sendCommitted(c);
            assertEquals(2, results.size());
            assertEquals(List.of(r2, r3), results.stream().map(OutboxSendResult::getRowId)
                    .collect(Collectors.toList()));
            for (OutboxSendResult r : results) {
                assertTrue(r.isSent(), r.toString());
            }
            assertSame(m2, results.get(0).getMessage());
            assertEquals(0, outbox.stagedCount(c));
            assertTrue(outbox.sendCommitted(c).isEmpty(), "sent once only");

            List<Message> got = QmqTestSupport.drain(pc, 3_000);
            assertEquals(List.of("o1", "o2", "o3"), QmqTestSupport.bodies(got).stream().sorted()
                    .collect(Collectors.toList()), "each committed message exactly once");
            assertEquals(m2.getMessageId(), got.stream()
                    .filter(m -> "o2".equals(m.getStringProperty("body"))).findFirst()
                    .orElseThrow().getMessageId(), "sent with the id the row holds");
            assertTrue(QmqTestSupport.eventually(() -> count(db, "SELECT COUNT(*) FROM " + table) == 0,
                    5_000), "rows deleted after the send");
            assertEquals(2, db.count("SELECT COUNT(*) FROM " + orders));
        }
    }

    private static long count(TxTestDb db, String sql) {
        try {
            return db.count(sql);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres", "mysql"})
    void a_rolled_back_message_is_never_sent_and_leaves_no_row(String kind) throws Exception {
        TxTestDb db = TxTestDb.of(kind);
        String subject = QmqTestSupport.subject();
        String table = TxTestDb.table("outbox");
        String orders = TxTestDb.table("orders");
        db.exec("CREATE TABLE " + orders + " (id VARCHAR(64) PRIMARY KEY)");
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer();
                JdbcOutbox outbox = outbox(producer, db, table);
                Connection c = db.open()) {
            PullConsumer pc = consumer.getOrCreatePullConsumer(subject, "tx", false);
            QmqTestSupport.warmUp(producer, pc, subject);

            IllegalStateException boom = assertThrows(IllegalStateException.class,
                    () -> outbox.inTransaction(c, conn -> {
                        insertOrder(conn, orders, "r1");
                        Message m = producer.generateMessage(subject);
                        m.setProperty("body", "r1");
                        outbox.stage(conn, m);
                        throw new IllegalStateException("business failure");
                    }));
            assertEquals("business failure", boom.getMessage());
            assertEquals(0, outbox.stagedCount(c));

            // By hand, and sendCommitted called anyway after the rollback: the row is checked
            // first, so nothing is sent.
            c.setAutoCommit(false);
            insertOrder(c, orders, "r2");
            Message m = producer.generateMessage(subject);
            m.setProperty("body", "r2");
            outbox.stage(c, m);
            c.rollback();
            List<OutboxSendResult> results = outbox.sendCommitted(c);
            assertEquals(1, results.size());
            assertFalse(results.get(0).isSent());
            assertEquals("NotCommitted", ((QmqException) results.get(0).getError()).getKind(),
                    results.get(0).toString());

            assertEquals(List.of(), QmqTestSupport.bodies(QmqTestSupport.drain(pc, 2_000)));
            assertEquals(0, db.count("SELECT COUNT(*) FROM " + table));
            assertEquals(0, db.count("SELECT COUNT(*) FROM " + orders));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres", "mysql"})
    void a_failed_send_keeps_the_row_for_the_watchdog(String kind) throws Exception {
        TxTestDb db = TxTestDb.of(kind);
        String table = TxTestDb.table("outbox");
        // No meta server on port 1: every send fails.
        MessageProducerProvider producer = new MessageProducerProvider();
        producer.setAppCode(QmqTestSupport.APP);
        producer.setMetaServer("http://127.0.0.1:1/meta/address");
        producer.setSendTryCount(1);
        producer.setSendTimeoutMillis(1_000);
        producer.init();
        try (producer; JdbcOutbox outbox = outbox(producer, db, table); Connection c = db.open()) {
            outbox.setSendTimeoutMillis(60_000);
            c.setAutoCommit(false);
            Message m = producer.generateMessage("java.tx.unreachable");
            m.setProperty("body", "kept");
            long row = outbox.stage(c, m);
            c.commit();
            List<OutboxSendResult> results = outbox.sendCommitted(c);
            assertEquals(1, results.size());
            OutboxSendResult r = results.get(0);
            assertFalse(r.isSent());
            QmqException e = (QmqException) r.getError();
            assertEquals("Send.LeftForWatchdog", e.getKind(), e.toString());
            try (Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("SELECT id, status, error, content FROM " + table)) {
                assertTrue(rs.next(), "the row stays");
                assertEquals(row, rs.getLong(1));
                assertEquals(0, rs.getInt(2), "still pending: the watchdog resends it");
                assertEquals(1, rs.getInt(3), "the failure is counted");
                String content = rs.getString(4);
                assertTrue(content.contains(m.getMessageId()) && content.contains("kept"), content);
                assertFalse(rs.next());
            }
            c.commit();
        }
    }

    @Test
    void stage_needs_a_transaction_and_a_matching_database() throws Exception {
        TxTestDb db = TxTestDb.of("sqlite");
        TxTestDb other = TxTestDb.of("sqlite");
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                JdbcOutbox outbox = outbox(producer, db, JdbcOutbox.DEFAULT_TABLE);
                Connection c = other.open()) {
            Message m = producer.generateMessage("java.tx.misuse");
            assertThrows(IllegalStateException.class, () -> outbox.stage(c, m));
            assertThrows(InvalidArgumentException.class,
                    () -> new JdbcOutbox(producer, db.jdbcUrl, null, "bad;name"));
            assertThrows(InvalidArgumentException.class,
                    () -> new JdbcOutbox(producer, "jdbc:sqlite::memory:"));
            assertThrows(InvalidArgumentException.class,
                    () -> new JdbcOutbox(producer, "jdbc:oracle:thin:@h:1521:x"));
        }
    }

    @Test
    void jdbc_urls_translate_to_core_locations() {
        assertEquals("postgres://postgres@127.0.0.1:5432/qmq",
                JdbcSupport.coreLocation("jdbc:postgresql://127.0.0.1:5432/qmq?user=postgres", null));
        Properties info = new Properties();
        info.setProperty("user", "app");
        info.setProperty("password", "p@ss word");
        assertEquals("postgres://app:p%40ss%20word@db/app",
                JdbcSupport.coreLocation("jdbc:postgresql://db/app?sslmode=disable", info));
        assertEquals("postgres://localhost/app", JdbcSupport.coreLocation("jdbc:postgresql:app", null));
        assertEquals("mysql://root:x@h:3306/qmq",
                JdbcSupport.coreLocation("jdbc:mariadb://h:3306/qmq?user=root&password=x", null));
        assertEquals("mysql://h/qmq", JdbcSupport.coreLocation("jdbc:mysql://h/qmq", null));
        assertEquals("/tmp/a.db", JdbcSupport.coreLocation("jdbc:sqlite:/tmp/a.db", null));
        assertEquals("/tmp/b.db", JdbcSupport.coreLocation("jdbc:sqlite:file:/tmp/b.db?cache=shared", null));
        assertThrows(IllegalArgumentException.class,
                () -> JdbcSupport.coreLocation("jdbc:sqlite::memory:", null));
        assertNotNull(JdbcSupport.redact("jdbc:mysql://h/x?password=secret"));
        assertFalse(JdbcSupport.redact("jdbc:mysql://h/x?password=secret").contains("secret"));
    }
}
