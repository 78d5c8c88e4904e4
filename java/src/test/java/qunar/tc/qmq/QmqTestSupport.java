package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import qunar.tc.qmq.consumer.MessageConsumerProvider;
import qunar.tc.qmq.producer.MessageProducerProvider;

/**
 * Shared helpers: the server's meta URL (system property {@code qmq.meta.url}, set by
 * surefire from {@code QMQ_META_URL}), providers, fresh subjects, and warm-ups (a new
 * consumer group starts at the end of the log, so tests send markers until one arrives).
 */
final class QmqTestSupport {
    static final String APP = "junit";

    private QmqTestSupport() {
    }

    static String metaUrl() {
        String url = System.getProperty("qmq.meta.url");
        if (url == null || url.isEmpty() || url.startsWith("${")) {
            url = System.getenv("QMQ_META_URL");
        }
        if (url == null || url.isEmpty()) {
            fail("set QMQ_META_URL to a running qmq-server's meta address (ci/java-tests.sh does)");
        }
        return url;
    }

    static String subject() {
        return "java." + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }

    static MessageProducerProvider producer() {
        MessageProducerProvider p = new MessageProducerProvider();
        p.setAppCode(APP);
        p.setMetaServer(metaUrl());
        p.init();
        return p;
    }

    static MessageConsumerProvider consumer() {
        MessageConsumerProvider c = new MessageConsumerProvider();
        c.setAppCode(APP);
        c.setMetaServer(metaUrl());
        c.init();
        return c;
    }

    static boolean eventually(BooleanSupplier check, long timeoutMillis) {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline) {
            if (check.getAsBoolean()) {
                return true;
            }
            sleep(20);
        }
        return check.getAsBoolean();
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static void sendSync(MessageProducerProvider producer, Message m) {
        try {
            producer.sendMessageAsync(m).get();
        } catch (Exception e) {
            throw new AssertionError("send failed", e);
        }
    }

    static Message marker(MessageProducerProvider producer, String subject, String... tags) {
        Message m = producer.generateMessage(subject);
        m.setProperty("warmup", "1");
        for (String t : tags) {
            m.addTag(t);
        }
        return m;
    }

    /** Sends markers until the pull consumer gets one; acks every marker it sees. */
    static void warmUp(MessageProducerProvider producer, PullConsumer pc, String subject,
            String... tags) {
        long deadline = System.currentTimeMillis() + 30_000;
        while (System.currentTimeMillis() < deadline) {
            sendSync(producer, marker(producer, subject, tags));
            List<Message> got = pc.pull(16, 500);
            for (Message m : got) {
                m.ack(0, null);
            }
            if (!got.isEmpty()) {
                return;
            }
        }
        fail("the pull consumer never received a warm-up message");
    }

    /** Sends markers until the listener has seen one. */
    static void warmUp(MessageProducerProvider producer, List<Message> seen, String subject) {
        long deadline = System.currentTimeMillis() + 30_000;
        while (System.currentTimeMillis() < deadline) {
            sendSync(producer, marker(producer, subject));
            if (eventually(() -> seen.stream().anyMatch(m -> m.getStringProperty("warmup") != null),
                    500)) {
                return;
            }
        }
        fail("the listener never received a warm-up message");
    }

    static List<String> bodies(List<Message> messages) {
        List<String> out = new ArrayList<>();
        for (Message m : messages) {
            if (m.getStringProperty("warmup") == null) {
                out.add(m.getStringProperty("body"));
            }
        }
        return out;
    }

    static List<Message> seenList() {
        return new CopyOnWriteArrayList<>();
    }

    /** Pulls for {@code millis}, acking everything; returns what arrived (markers excluded). */
    static List<Message> drain(PullConsumer pc, long millis) {
        List<Message> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < deadline) {
            for (Message m : pc.pull(32, 200)) {
                m.ack(0, null);
                if (m.getStringProperty("warmup") == null) {
                    out.add(m);
                }
            }
        }
        return out;
    }
}
