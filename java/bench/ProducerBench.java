import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import qunar.tc.qmq.Message;
import qunar.tc.qmq.MessageSendStateListener;
import qunar.tc.qmq.producer.MessageProducerProvider;

/**
 * The Java producer benchmark (run by run-bench.sh with the jar on the class path, as a
 * single-file program): sends COUNT messages with a 100-byte property through
 * {@code sendMessage(message, listener)} and waits until every listener was called, exactly
 * like the Rust baseline (bindings/python/examples/rust_bench.rs `produce`).
 *
 * <p>Usage: {@code java -cp qmq-rs-client.jar ProducerBench.java <meta_url> <count> <subject>}.
 * Prints one JSON line like the Rust baseline.
 */
public class ProducerBench {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: ProducerBench <meta_url> <count> <subject>");
            System.exit(2);
        }
        String meta = args[0];
        int count = Integer.parseInt(args[1]);
        String subject = args[2];
        MessageProducerProvider producer = new MessageProducerProvider(meta);
        producer.setAppCode("bench");
        producer.init();
        String body = "b".repeat(100);
        // Warm up the route, the connection, the heap and the JIT (not timed): a service
        // that sends at this rate runs compiled code, and C1/C2 compiling while the timed run
        // goes would take CPU from it on a small machine. At least 3 s and 3 rounds.
        long warmUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        for (int i = 0; i < 3 || System.nanoTime() - warmUntil < 0; i++) {
            run(producer, subject, body, Math.min(count, 50_000));
        }
        long start = System.nanoTime();
        long failed = run(producer, subject, body, count);
        double seconds = (System.nanoTime() - start) / 1e9;
        producer.destroy();
        if (failed > 0) {
            System.err.println(failed + " sends failed");
            System.exit(1);
        }
        System.out.printf("{\"lang\":\"java\",\"count\":%d,\"seconds\":%.4f,\"msgs_per_sec\":%.0f}%n",
                count, seconds, count / seconds);
    }

    private static long run(MessageProducerProvider producer, String subject, String body, int count)
            throws InterruptedException {
        CountDownLatch done = new CountDownLatch(count);
        AtomicLong failed = new AtomicLong();
        MessageSendStateListener listener = new MessageSendStateListener() {
            @Override
            public void onSuccess(Message message) {
                done.countDown();
            }

            @Override
            public void onFailed(Message message) {
                failed.incrementAndGet();
                done.countDown();
            }
        };
        for (int i = 0; i < count; i++) {
            Message m = producer.generateMessage(subject);
            m.setProperty("body", body);
            producer.sendMessage(m, listener);
        }
        if (!done.await(300, TimeUnit.SECONDS)) {
            throw new IllegalStateException("sends did not complete");
        }
        return failed.get();
    }
}
