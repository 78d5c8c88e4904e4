package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import qunar.tc.qmq.consumer.MessageConsumerProvider;
import qunar.tc.qmq.consumer.idempotent.AbstractJdbcIdempotentChecker;
import qunar.tc.qmq.consumer.idempotent.JdbcIdempotentChecker;
import qunar.tc.qmq.consumer.idempotent.TransactionalJdbcIdempotentChecker;
import qunar.tc.qmq.producer.MessageProducerProvider;
import qunar.tc.qmq.producer.tx.JdbcOutbox;

/**
 * Idempotent consumption with JDBC against a real qmq-server and real databases: duplicate
 * deliveries and a handler failing once still have their business effect exactly once.
 */
class IdempotentConsumeTest {
    private static ExecutorService pool() {
        return Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "idem-pool");
            t.setDaemon(true);
            return t;
        });
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
    void duplicates_and_a_failure_have_their_effect_exactly_once(String kind) throws Exception {
        TxTestDb db = TxTestDb.of(kind);
        String subject = QmqTestSupport.subject();
        String group = "billing";
        String dedup = TxTestDb.table("dedup");
        String bills = TxTestDb.table("bills");
        db.exec("CREATE TABLE " + bills + " (msg_id VARCHAR(64) NOT NULL, body VARCHAR(64))");
        TransactionalJdbcIdempotentChecker checker =
                new TransactionalJdbcIdempotentChecker(db::open, dedup);
        checker.createTable();
        checker.createTable();
        assertEquals(kind, checker.getDialect());

        Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
        List<Message> seen = QmqTestSupport.seenList();
        MessageListener business = checker.listener(subject, group, (m, c) -> {
            String body = m.getStringProperty("body");
            int call = calls.computeIfAbsent(m.getMessageId(), k -> new AtomicInteger())
                    .incrementAndGet();
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO " + bills + " (msg_id, body) VALUES (?, ?)")) {
                ps.setString(1, m.getMessageId());
                ps.setString(2, body);
                ps.executeUpdate();
            }
            if ("fail-once".equals(body) && call == 1) {
                // After the business insert: the rollback must take it back, key and all.
                throw new java.sql.SQLException("transient failure");
            }
        });
        ExecutorService executor = pool();
        MessageConsumerProvider consumer = new MessageConsumerProvider();
        consumer.setAppCode(QmqTestSupport.APP);
        consumer.setMetaServer(QmqTestSupport.metaUrl());
        consumer.setRetryDelayMillis(200);
        consumer.init();
        try (MessageProducerProvider producer = QmqTestSupport.producer(); consumer) {
            consumer.addListener(subject, group, m -> {
                seen.add(m);
                if (m.getStringProperty("warmup") != null) {
                    return;
                }
                // Every delivery arrives twice: the second is a duplicate.
                business.onMessage(m);
                business.onMessage(m);
            }, executor);
            QmqTestSupport.warmUp(producer, seen, subject);

            List<Message> sent = new ArrayList<>();
            for (String body : new String[] {"a", "b", "fail-once", "c"}) {
                Message m = producer.generateMessage(subject);
                m.setProperty("body", body);
                QmqTestSupport.sendSync(producer, m);
                sent.add(m);
            }
            // The same message sent again by the producer (a resend by the outbox watchdog
            // keeps the id, too).
            QmqTestSupport.sendSync(producer, sent.get(0));

            assertTrue(QmqTestSupport.eventually(
                    () -> count(db, "SELECT COUNT(*) FROM " + bills) >= 4
                            && calls.getOrDefault(sent.get(2).getMessageId(), new AtomicInteger())
                                    .get() >= 2, 30_000),
                    "bills: " + count(db, "SELECT COUNT(*) FROM " + bills) + ", calls " + calls);
            QmqTestSupport.sleep(1_500); // time for any stray redelivery
            assertEquals(4, db.count("SELECT COUNT(*) FROM " + bills), "one bill per message");
            for (Message m : sent) {
                assertEquals(1, db.count("SELECT COUNT(*) FROM " + bills + " WHERE msg_id = '"
                        + m.getMessageId() + "'"), m.getStringProperty("body"));
            }
            assertEquals(2, calls.get(sent.get(2).getMessageId()).get(),
                    "fail-once: the failed try and the retry");
            assertEquals(1, calls.get(sent.get(1).getMessageId()).get(), "duplicates never run");
            assertEquals(4, db.count("SELECT COUNT(*) FROM " + dedup));
            // A replay of every message is recognised as a duplicate.
            for (Message m : sent) {
                assertFalse(checker.process(subject, group, m, (x, c) -> {
                    throw new AssertionError("ran a duplicate");
                }));
            }
            // Another group has keys of its own.
            assertTrue(checker.process(subject, "other", sent.get(0), (x, c) -> { }));
        } finally {
            executor.shutdownNow();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres", "mysql"})
    void outbox_to_idempotent_consumer_end_to_end(String kind) throws Exception {
        TxTestDb db = TxTestDb.of(kind);
        String subject = QmqTestSupport.subject();
        String table = TxTestDb.table("outbox");
        String dedup = TxTestDb.table("dedup");
        String ledger = TxTestDb.table("ledger");
        db.exec("CREATE TABLE " + ledger + " (msg_id VARCHAR(64) NOT NULL)");
        TransactionalJdbcIdempotentChecker checker =
                new TransactionalJdbcIdempotentChecker(db::open, dedup);
        checker.createTable();
        ExecutorService executor = pool();
        List<Message> seen = QmqTestSupport.seenList();
        MessageListener business = checker.listener(subject, "ledger", (m, c) -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO " + ledger + " (msg_id) VALUES (?)")) {
                ps.setString(1, m.getMessageId());
                ps.executeUpdate();
            }
        });
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer();
                JdbcOutbox outbox = new JdbcOutbox(producer, db.jdbcUrl, null, table);
                Connection c = db.open()) {
            outbox.createTable();
            consumer.addListener(subject, "ledger", m -> {
                seen.add(m);
                if (m.getStringProperty("warmup") == null) {
                    business.onMessage(m);
                }
            }, executor);
            QmqTestSupport.warmUp(producer, seen, subject);
            for (int i = 0; i < 3; i++) {
                int n = i;
                outbox.inTransaction(c, conn -> {
                    Message m = producer.generateMessage(subject);
                    m.setProperty("body", "t" + n);
                    return outbox.stage(conn, m);
                });
            }
            assertTrue(QmqTestSupport.eventually(
                    () -> count(db, "SELECT COUNT(*) FROM " + ledger) >= 3, 20_000));
            QmqTestSupport.sleep(1_000);
            assertEquals(3, db.count("SELECT COUNT(*) FROM " + ledger));
            assertEquals(0, db.count("SELECT COUNT(*) FROM " + table));
        } finally {
            executor.shutdownNow();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres", "mysql"})
    void non_transactional_checker_skips_duplicates_and_forgets_failures(String kind)
            throws Exception {
        TxTestDb db = TxTestDb.of(kind);
        JdbcIdempotentChecker checker = new JdbcIdempotentChecker(db::open, TxTestDb.table("dd"));
        checker.createTable();
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            Message m = producer.generateMessage("java.idem.plain");
            AtomicInteger runs = new AtomicInteger();
            assertThrows(IllegalStateException.class, () -> checker.process("s", "g", m, x -> {
                runs.incrementAndGet();
                throw new IllegalStateException("fails once");
            }));
            assertTrue(checker.process("s", "g", m, x -> runs.incrementAndGet()),
                    "the failure forgot the key: the retry runs");
            assertFalse(checker.process("s", "g", m, x -> runs.incrementAndGet()), "duplicate");
            MessageListener l = checker.listener("s", "g", x -> runs.incrementAndGet());
            l.onMessage(m);
            assertEquals(2, runs.get());
            assertEquals("s%g%" + m.getMessageId(),
                    AbstractJdbcIdempotentChecker.keyOf("s", "g", m));
            String longKey = AbstractJdbcIdempotentChecker.keyOf("s".repeat(200), "g", m);
            assertTrue(longKey.length() <= 100, longKey);
        }
    }
}
