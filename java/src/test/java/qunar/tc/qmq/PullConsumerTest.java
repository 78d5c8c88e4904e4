package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import qunar.tc.qmq.consumer.MessageConsumerProvider;
import qunar.tc.qmq.producer.MessageProducerProvider;

class PullConsumerTest {
    @Test
    void pull_returns_what_was_sent_with_properties_tags_and_large_strings() {
        String subject = QmqTestSupport.subject();
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            PullConsumer pc = consumer.getOrCreatePullConsumer(subject, "g", false);
            assertSame(pc, consumer.getOrCreatePullConsumer(subject, "g", false));
            QmqTestSupport.warmUp(producer, pc, subject);
            StringBuilder large = new StringBuilder();
            for (int i = 0; i < 20_000; i++) {
                large.append("\u4e2d\u6587x");
            }
            Date when = new Date(1_700_000_000_123L);
            Message m = producer.generateMessage(subject);
            m.setProperty("body", "hello");
            m.setProperty("n", 42L);
            m.setProperty("flag", true);
            m.setProperty("pi", 3.5d);
            m.setProperty("when", when);
            m.setLargeString("big", large.toString());
            m.addTag("red").addTag("blue");
            QmqTestSupport.sendSync(producer, m);
            List<Message> got = QmqTestSupport.drain(pc, 2000);
            assertEquals(1, got.size());
            Message r = got.get(0);
            assertEquals(m.getMessageId(), r.getMessageId());
            assertEquals(subject, r.getSubject());
            assertEquals("hello", r.getStringProperty("body"));
            assertEquals(42L, r.getLongProperty("n"));
            assertEquals(42, r.getIntProperty("n"));
            assertTrue(r.getBooleanProperty("flag"));
            assertEquals(3.5d, r.getDoubleProperty("pi"));
            assertEquals(when, r.getDateProperty("when"));
            assertEquals(large.toString(), r.getLargeString("big"));
            assertEquals(new HashSet<>(Arrays.asList("red", "blue")), r.getTags());
            assertEquals(1, r.times());
            assertEquals(APP_CODE, r.getStringProperty("qmq_appCode"));
            pc.close();
        }
    }

    private static final String APP_CODE = QmqTestSupport.APP;

    @Test
    void a_failed_ack_redelivers_the_message() {
        String subject = QmqTestSupport.subject();
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            PullConsumer pc = consumer.getOrCreatePullConsumer(subject, "g", false);
            QmqTestSupport.warmUp(producer, pc, subject);
            Message sent = producer.generateMessage(subject);
            sent.setProperty("body", "retry-me");
            QmqTestSupport.sendSync(producer, sent);
            List<Integer> times = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 20_000;
            while (times.size() < 2 && System.currentTimeMillis() < deadline) {
                for (Message m : pc.pull(8, 500)) {
                    if (m.getMessageId().equals(sent.getMessageId())) {
                        times.add(m.times());
                        m.ack(5, times.size() == 1 ? new RuntimeException("first try fails") : null);
                    } else {
                        m.ack(0, null);
                    }
                }
            }
            assertEquals(Arrays.asList(1, 2), times);
            pc.close();
        }
    }

    @Test
    void pull_future_and_close() throws Exception {
        String subject = QmqTestSupport.subject();
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            PullConsumer pc = consumer.getOrCreatePullConsumer(subject, "g", false);
            QmqTestSupport.warmUp(producer, pc, subject);
            Future<List<Message>> f = pc.pullFuture(1, 10_000);
            Message m = producer.generateMessage(subject);
            m.setProperty("body", "async");
            producer.sendMessage(m);
            List<Message> got = f.get(20, TimeUnit.SECONDS);
            assertEquals(Collections.singletonList("async"), QmqTestSupport.bodies(got));
            got.get(0).ack(1, null);
            got.get(0).ack(1, null); // a second ack does nothing
            pc.close();
            pc.close();
            assertFalse(QmqTestSupport.bodies(got).isEmpty());
            try {
                pc.pull(1, 10);
                throw new AssertionError("pull after close must throw");
            } catch (ClosedException expected) {
                assertEquals("Closed", expected.getKind());
            }
        }
    }
}
