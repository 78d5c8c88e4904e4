package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import qunar.tc.qmq.consumer.MessageConsumerProvider;
import qunar.tc.qmq.internal.DefaultListenerHolder;
import qunar.tc.qmq.producer.MessageProducerProvider;

class ConsumeOptionsTest {
    private static Message withBody(MessageProducerProvider p, String subject, String body,
            String... tags) {
        Message m = p.generateMessage(subject);
        m.setProperty("body", body);
        for (String t : tags) {
            m.addTag(t);
        }
        return m;
    }

    @Test
    void delay_message_arrives_after_two_seconds() {
        String subject = QmqTestSupport.subject();
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            PullConsumer pc = consumer.getOrCreatePullConsumer(subject, "g", false);
            QmqTestSupport.warmUp(producer, pc, subject);
            long sentAt = System.currentTimeMillis();
            Message byUnit = withBody(producer, subject, "unit");
            byUnit.setDelayTime(2, TimeUnit.SECONDS);
            Message byDate = withBody(producer, subject, "date");
            byDate.setDelayTime(new Date(sentAt + 2000));
            QmqTestSupport.sendSync(producer, byUnit);
            QmqTestSupport.sendSync(producer, byDate);
            List<String> got = new java.util.ArrayList<>();
            long first = 0;
            while (got.size() < 2 && System.currentTimeMillis() - sentAt < 20_000) {
                for (Message m : pc.pull(2, 500)) {
                    m.ack(0, null);
                    if (m.getStringProperty("warmup") == null) {
                        if (got.isEmpty()) {
                            first = System.currentTimeMillis();
                        }
                        got.add(m.getStringProperty("body"));
                        assertTrue(m.getScheduleReceiveTime() != null);
                    }
                }
            }
            long elapsed = first - sentAt;
            assertEquals(Arrays.asList("date", "unit"), got.stream().sorted().collect(Collectors.toList()));
            assertTrue(elapsed >= 1900, "arrived after " + elapsed + " ms");
            assertTrue(elapsed < 10_000, "arrived after " + elapsed + " ms");
        }
    }

    @Test
    void tags_filter_with_or_and_and() {
        String subject = QmqTestSupport.subject();
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            java.util.Set<String> ab = new HashSet<>(Arrays.asList("a", "b"));
            PullConsumer any = consumer.getOrCreatePullConsumer(subject, "or", false,
                    new SubscribeParam.SubscribeParamBuilder().setTags(ab).setTagType(TagType.OR).create());
            PullConsumer all = consumer.getOrCreatePullConsumer(subject, "and", false,
                    new SubscribeParam.SubscribeParamBuilder().setTags(ab).setTagType(TagType.AND).create());
            QmqTestSupport.warmUp(producer, any, subject, "a", "b");
            QmqTestSupport.warmUp(producer, all, subject, "a", "b");
            QmqTestSupport.sendSync(producer, withBody(producer, subject, "a", "a"));
            QmqTestSupport.sendSync(producer, withBody(producer, subject, "b", "b"));
            QmqTestSupport.sendSync(producer, withBody(producer, subject, "ab", "a", "b"));
            QmqTestSupport.sendSync(producer, withBody(producer, subject, "none"));
            assertEquals(Arrays.asList("a", "ab", "b"), QmqTestSupport.bodies(QmqTestSupport.drain(any, 3000))
                    .stream().sorted().collect(Collectors.toList()));
            assertEquals(Collections.singletonList("ab"), QmqTestSupport.bodies(QmqTestSupport.drain(all, 3000)));
        }
    }

    @Test
    void broadcast_gives_every_consumer_every_message() {
        String subject = QmqTestSupport.subject();
        ExecutorService executor = Executors.newFixedThreadPool(2);
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider c1 = QmqTestSupport.consumer();
                MessageConsumerProvider c2 = QmqTestSupport.consumer()) {
            List<Message> seen1 = QmqTestSupport.seenList();
            List<Message> seen2 = QmqTestSupport.seenList();
            ListenerHolder h1 = c1.addListener(subject, "", seen1::add, executor);
            ListenerHolder h2 = c2.addListener(subject, null, seen2::add, executor);
            QmqTestSupport.warmUp(producer, seen1, subject);
            QmqTestSupport.warmUp(producer, seen2, subject);
            for (int i = 0; i < 5; i++) {
                producer.sendMessage(withBody(producer, subject, String.valueOf(i)));
            }
            for (List<Message> seen : Arrays.asList(seen1, seen2)) {
                assertTrue(QmqTestSupport.eventually(() -> QmqTestSupport.bodies(seen).size() >= 5, 20_000));
                assertEquals(Arrays.asList("0", "1", "2", "3", "4"),
                        QmqTestSupport.bodies(seen).stream().sorted().collect(Collectors.toList()));
            }
            String g1 = ((DefaultListenerHolder) h1).getConsumerGroup();
            String g2 = ((DefaultListenerHolder) h2).getConsumerGroup();
            assertNotEquals(g1, g2, "each broadcast consumer is its own group");
            assertEquals(c1.getClientId(), g1);
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void at_most_once_never_redelivers() {
        String subject = QmqTestSupport.subject();
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            PullConsumer pc = consumer.getOrCreatePullConsumer(subject, "g", false);
            pc.setConsumeMostOnce(true);
            assertTrue(pc.isConsumeMostOnce());
            QmqTestSupport.warmUp(producer, pc, subject);
            Message sent = withBody(producer, subject, "once");
            QmqTestSupport.sendSync(producer, sent);
            List<Message> got = QmqTestSupport.drain(pc, 1500);
            assertEquals(Collections.singletonList("once"), QmqTestSupport.bodies(got));
            got.get(0).ack(0, new RuntimeException("fails, but at most once"));
            assertEquals(Collections.emptyList(), QmqTestSupport.bodies(QmqTestSupport.drain(pc, 3000)));
        }
    }
}
