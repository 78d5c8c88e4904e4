package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import qunar.tc.qmq.internal.SendTable;
import qunar.tc.qmq.producer.MessageProducerProvider;

class ProducerTest {
    @Test
    void generated_message_has_an_id_and_the_subject() {
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            Message a = producer.generateMessage("java.ids");
            Message b = producer.generateMessage("java.ids");
            assertEquals("java.ids", a.getSubject());
            assertNotNull(a.getMessageId());
            assertTrue(!a.getMessageId().equals(b.getMessageId()), "ids are unique");
            assertTrue(Math.abs(a.getCreatedTime().getTime() - System.currentTimeMillis()) < 5000);
            assertTrue(producer.getClientId().contains("@@"), producer.getClientId());
        }
    }

    @Test
    void listener_learns_each_success() throws Exception {
        String subject = QmqTestSupport.subject();
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            int n = 200;
            CountDownLatch done = new CountDownLatch(n);
            AtomicInteger ok = new AtomicInteger();
            List<String> threads = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Message m = producer.generateMessage(subject);
                m.setProperty("i", i);
                producer.sendMessage(m, new MessageSendStateListener() {
                    @Override
                    public void onSuccess(Message message) {
                        ok.incrementAndGet();
                        synchronized (threads) {
                            threads.add(Thread.currentThread().getName());
                        }
                        done.countDown();
                    }

                    @Override
                    public void onFailed(Message message) {
                        done.countDown();
                    }
                });
            }
            assertTrue(done.await(30, TimeUnit.SECONDS));
            assertEquals(n, ok.get());
            // Completions run on the bridge thread, never on a tokio worker.
            assertTrue(threads.stream().allMatch(t -> t.equals("qmq-java-completions")), threads.get(0));
        }
    }

    @Test
    void future_variant_completes_with_the_message() throws Exception {
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            Message m = producer.generateMessage(QmqTestSupport.subject());
            CompletableFuture<Message> f = producer.sendMessageAsync(m);
            assertSame(m, f.get(30, TimeUnit.SECONDS));
        }
    }

    @Test
    void fire_and_forget_then_flush() {
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            String subject = QmqTestSupport.subject();
            for (int i = 0; i < 100; i++) {
                producer.sendMessage(producer.generateMessage(subject));
            }
            producer.flush(30_000);
            assertEquals(0, producer.pending());
        }
    }

    @Test
    void every_send_completes_exactly_once_and_leaves_no_token() throws Exception {
        String subject = QmqTestSupport.subject();
        int n = 20_000;
        Set<Message> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger twice = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(n);
        MessageSendStateListener listener = new MessageSendStateListener() {
            @Override
            public void onSuccess(Message message) {
                record(message);
            }

            @Override
            public void onFailed(Message message) {
                failed.incrementAndGet();
                record(message);
            }

            private void record(Message message) {
                if (!seen.add(message)) {
                    twice.incrementAndGet();
                }
                done.countDown();
            }
        };
        long strayBefore = SendTable.strayCompletions();
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            for (int i = 0; i < n; i++) {
                producer.sendMessage(producer.generateMessage(subject), listener);
            }
            assertTrue(done.await(60, TimeUnit.SECONDS), done.getCount() + " sends never completed");
            producer.flush(30_000);
        }
        assertEquals(n, seen.size());
        assertEquals(0, twice.get(), "listeners called twice");
        assertEquals(0, failed.get());
        assertEquals(strayBefore, SendTable.strayCompletions(), "completions without a send");
        assertEquals(0, SendTable.inFlight(), "tokens left in the send table");
    }

    @Test
    void a_refused_send_gives_its_token_back() {
        MessageProducerProvider producer = QmqTestSupport.producer();
        Message m = producer.generateMessage(QmqTestSupport.subject());
        m.setProperty("big", "x".repeat(40_000)); // over the 32767-byte value limit
        int before = SendTable.inFlight();
        try {
            assertThrows(InvalidArgumentException.class,
                    () -> producer.sendMessage(m));
            assertEquals(before, SendTable.inFlight());
        } finally {
            producer.destroy();
        }
    }
}
