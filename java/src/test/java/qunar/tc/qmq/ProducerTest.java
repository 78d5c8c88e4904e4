package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

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
}
