package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.junit.jupiter.api.Test;

import qunar.tc.qmq.consumer.MessageConsumerProvider;
import qunar.tc.qmq.internal.Native;
import qunar.tc.qmq.producer.MessageProducerProvider;

class ListenerTest {
    private static ExecutorService pool(String name) {
        return Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    @Test
    void listener_runs_on_the_users_executor_and_acks_on_return() {
        String subject = QmqTestSupport.subject();
        ExecutorService executor = pool("user-pool");
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            List<Message> seen = QmqTestSupport.seenList();
            Set<String> threads = ConcurrentHashMap.newKeySet();
            ListenerHolder holder = consumer.addListener(subject, "g", m -> {
                threads.add(Thread.currentThread().getName());
                seen.add(m);
            }, executor);
            QmqTestSupport.warmUp(producer, seen, subject);
            for (int i = 0; i < 20; i++) {
                Message m = producer.generateMessage(subject);
                m.setProperty("body", "m" + i);
                producer.sendMessage(m);
            }
            assertTrue(QmqTestSupport.eventually(() -> QmqTestSupport.bodies(seen).size() >= 20, 20_000),
                    QmqTestSupport.bodies(seen).toString());
            List<String> expected = IntStream.range(0, 20).mapToObj(i -> "m" + i).sorted()
                    .collect(Collectors.toList());
            assertEquals(expected, QmqTestSupport.bodies(seen).stream().sorted().collect(Collectors.toList()));
            assertEquals(Set.of("user-pool"), threads);
            holder.stopListen();
            holder.stopListen();
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void an_exception_retries_the_message_and_max_retry_dead_letters_it() {
        String subject = QmqTestSupport.subject();
        ExecutorService executor = pool("retry-pool");
        MessageConsumerProvider consumer = new MessageConsumerProvider();
        consumer.setAppCode(QmqTestSupport.APP);
        consumer.setMetaServer(QmqTestSupport.metaUrl());
        consumer.setMaxRetryNum(2);
        try (MessageProducerProvider producer = QmqTestSupport.producer(); consumer) {
            List<Message> seen = QmqTestSupport.seenList();
            consumer.addListener(subject, "g", m -> {
                seen.add(m);
                if ("poison".equals(m.getStringProperty("body"))) {
                    throw new NeedRetryException(0, "cannot process");
                }
            }, executor);
            QmqTestSupport.warmUp(producer, seen, subject);
            Message poison = producer.generateMessage(subject);
            poison.setProperty("body", "poison");
            QmqTestSupport.sendSync(producer, poison);
            assertTrue(QmqTestSupport.eventually(
                    () -> seen.stream().filter(m -> m.getMessageId().equals(poison.getMessageId())).count() >= 2,
                    20_000));
            QmqTestSupport.sleep(2500); // a third try would be back by now (retry delay 0.5 s)
            List<Integer> tries = new ArrayList<>();
            for (Message m : seen) {
                if (m.getMessageId().equals(poison.getMessageId())) {
                    tries.add(m.times());
                }
            }
            assertEquals(Arrays.asList(1, 2), tries, "two tries, then the dead-letter subject");
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void manual_ack_after_auto_ack_off() {
        String subject = QmqTestSupport.subject();
        ExecutorService executor = pool("manual-pool");
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            List<Message> seen = QmqTestSupport.seenList();
            List<Message> later = QmqTestSupport.seenList();
            consumer.addListener(subject, "g", m -> {
                seen.add(m);
                if (m.getStringProperty("warmup") == null) {
                    m.autoAck(false);
                    later.add(m);
                }
            }, executor);
            QmqTestSupport.warmUp(producer, seen, subject);
            Message m = producer.generateMessage(subject);
            m.setProperty("body", "manual");
            QmqTestSupport.sendSync(producer, m);
            assertTrue(QmqTestSupport.eventually(() -> later.size() == 1, 20_000));
            // Acked from another thread, after the listener returned: not redelivered.
            later.get(0).ack(10, null);
            QmqTestSupport.sleep(1500);
            assertEquals(1, later.size());
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void stop_then_resume_listening() {
        String subject = QmqTestSupport.subject();
        ExecutorService executor = pool("resume-pool");
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            List<Message> seen = QmqTestSupport.seenList();
            // Other tests' registrations end before theirs do; wait for their pull threads.
            assertTrue(QmqTestSupport.eventually(() -> pullThreads() == 0, 5_000));
            ListenerHolder holder = consumer.addListener(subject, "g", seen::add, executor);
            assertEquals(1, pullThreads());
            QmqTestSupport.warmUp(producer, seen, subject);
            holder.stopListen();
            Message whileStopped = producer.generateMessage(subject);
            whileStopped.setProperty("body", "while-stopped");
            QmqTestSupport.sendSync(producer, whileStopped);
            QmqTestSupport.sleep(500);
            assertTrue(QmqTestSupport.bodies(seen).isEmpty(), QmqTestSupport.bodies(seen).toString());
            // Stopping ended the registration's pull thread; resuming starts one again.
            assertTrue(QmqTestSupport.eventually(() -> pullThreads() == 0, 5_000),
                    pullThreads() + " pull threads left after stopListen");
            holder.resumeListen();
            assertEquals(1, pullThreads());
            assertTrue(QmqTestSupport.eventually(
                    () -> QmqTestSupport.bodies(seen).contains("while-stopped"), 20_000));
            holder.stopListen();
            assertTrue(QmqTestSupport.eventually(() -> pullThreads() == 0, 5_000));
        } finally {
            executor.shutdownNow();
        }
    }

    private static long pullThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && Native.LISTENER_THREAD.equals(t.getName())).count();
    }
}
