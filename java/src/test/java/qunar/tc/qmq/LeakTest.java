package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import qunar.tc.qmq.consumer.MessageConsumerProvider;
import qunar.tc.qmq.producer.MessageProducerProvider;

/**
 * Sends and consumes 1 000 000 messages (system property {@code qmq.leak.count}) through the
 * listener API, with a send listener per message, and checks that neither the Java heap nor
 * the process's resident memory grows between the end of the warm-up (10 %) and the end: a
 * JNI local or global reference, an ack or completion handle, or a native buffer leaked per
 * message would show up as at least tens of megabytes. Run by {@code mvn -Pleak verify}
 * (ci/java-tests.sh, release build of the native library).
 */
@Tag("leak")
class LeakTest {
    private static final int WINDOW = 8192;
    private static final long HEAP_TOLERANCE = 32L << 20;
    private static final long RSS_TOLERANCE = 64L << 20;

    @Test
    void a_million_messages_leave_heap_and_rss_flat() throws Exception {
        long count = Long.getLong("qmq.leak.count", 1_000_000L);
        long warmup = count / 10;
        String subject = QmqTestSupport.subject();
        ExecutorService executor = Executors.newFixedThreadPool(4);
        AtomicLong received = new AtomicLong();
        AtomicLong failedSends = new AtomicLong();
        String body = "b".repeat(100);
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            List<Message> seen = QmqTestSupport.seenList();
            boolean pull = "pull".equals(System.getProperty("qmq.leak.mode"));
            ListenerHolder holder = null;
            Thread puller = null;
            if (pull) {
                PullConsumer pc = consumer.getOrCreatePullConsumer(subject, "leak", false);
                QmqTestSupport.warmUp(producer, pc, subject);
                puller = new Thread(() -> {
                    while (!Thread.currentThread().isInterrupted()) {
                        try {
                            for (Message m : pc.pull(64, 200)) {
                                m.ack(0, null);
                                received.incrementAndGet();
                            }
                        } catch (ClosedException e) {
                            return;
                        }
                    }
                });
                puller.start();
            } else {
                holder = consumer.addListener(subject, "leak", m -> {
                    if (m.getStringProperty("warmup") != null) {
                        seen.add(m);
                    } else {
                        received.incrementAndGet();
                    }
                }, executor);
                QmqTestSupport.warmUp(producer, seen, subject);
            }
            Semaphore window = new Semaphore(WINDOW);
            MessageSendStateListener release = new MessageSendStateListener() {
                @Override
                public void onSuccess(Message message) {
                    window.release();
                }

                @Override
                public void onFailed(Message message) {
                    failedSends.incrementAndGet();
                    window.release();
                }
            };
            long start = System.nanoTime();
            long[] before = null;
            for (long i = 0; i < count; i++) {
                window.acquire();
                Message m = producer.generateMessage(subject);
                m.setProperty("body", body);
                producer.sendMessage(m, release);
                if (i + 1 == warmup) {
                    waitFor(received, warmup, 120);
                    before = measure();
                }
            }
            window.acquire(WINDOW);
            waitFor(received, count, 300);
            long[] after = measure();
            double seconds = (System.nanoTime() - start) / 1e9;
            if (holder != null) {
                holder.stopListen();
            }
            if (puller != null) {
                puller.interrupt();
                puller.join(5000);
            }
            String report = String.format(
                    "leak test: %d messages sent and consumed in %.1f s (%.0f msg/s), failed sends %d%n"
                            + "  heap used after warm-up %.1f MiB, at end %.1f MiB (delta %+.1f MiB, tolerance %d MiB)%n"
                            + "  RSS after warm-up %.1f MiB, at end %.1f MiB (delta %+.1f MiB, tolerance %d MiB)%n",
                    count, seconds, count / seconds, failedSends.get(), mib(before[0]), mib(after[0]),
                    mib(after[0] - before[0]), HEAP_TOLERANCE >> 20, mib(before[1]), mib(after[1]),
                    mib(after[1] - before[1]), RSS_TOLERANCE >> 20);
            System.out.print(report);
            Files.write(Path.of("target", "leak-report.txt"), report.getBytes(StandardCharsets.UTF_8));
            assertTrue(failedSends.get() == 0, report);
            assertTrue(after[0] - before[0] < HEAP_TOLERANCE, report);
            assertTrue(after[1] - before[1] < RSS_TOLERANCE, report);
        } finally {
            executor.shutdownNow();
            executor.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    private static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }

    private static void waitFor(AtomicLong received, long n, long seconds) {
        assertTrue(QmqTestSupport.eventually(() -> received.get() >= n, seconds * 1000),
                "consumed " + received.get() + " of " + n);
    }

    /** {@code [heap used after GC, RSS]} in bytes. */
    private static long[] measure() throws IOException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            QmqTestSupport.sleep(200);
        }
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long rss = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                rss = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return new long[] {heap, rss};
    }
}
