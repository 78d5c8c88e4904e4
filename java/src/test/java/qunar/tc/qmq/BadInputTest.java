package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import qunar.tc.qmq.consumer.MessageConsumerProvider;
import qunar.tc.qmq.producer.MessageProducerProvider;

class BadInputTest {
    @Test
    void null_subject_is_an_invalid_argument() {
        try (MessageProducerProvider producer = QmqTestSupport.producer();
                MessageConsumerProvider consumer = QmqTestSupport.consumer()) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> producer.generateMessage(null));
            assertTrue(e.getMessage().contains("subject"), e.getMessage());
            assertThrows(InvalidArgumentException.class,
                    () -> consumer.getOrCreatePullConsumer(null, "g", false));
            assertThrows(InvalidArgumentException.class,
                    () -> consumer.addListener(null, "g", m -> { }, Executors.newSingleThreadExecutor()));
            assertThrows(InvalidArgumentException.class,
                    () -> consumer.getOrCreatePullConsumer("s", null, false));
        }
    }

    @Test
    void malformed_subject_is_refused_when_sent() {
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            Message m = producer.generateMessage("has space");
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> producer.sendMessage(m));
            assertEquals("InvalidName", e.getKind());
            assertTrue(!e.isRetriable());
        }
    }

    @Test
    void oversized_and_reserved_properties_are_refused_with_their_kind() {
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            Message big = producer.generateMessage(QmqTestSupport.subject());
            big.setProperty("value", "x".repeat(40_000));
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> producer.sendMessage(big));
            assertEquals("PropertyTooLong", e.getKind());
            assertTrue(e.getMessage().contains("value"), e.getMessage());
            Message reserved = producer.generateMessage(QmqTestSupport.subject());
            reserved.setProperty("qmq_appCode", "x");
            assertEquals("ReservedProperty", assertThrows(InvalidArgumentException.class,
                    () -> producer.sendMessage(reserved)).getKind());
            Message tags = producer.generateMessage(QmqTestSupport.subject());
            for (int i = 0; i < 11; i++) {
                tags.addTag("t" + i);
            }
            assertThrows(InvalidArgumentException.class, () -> producer.sendMessage(tags));
            // The same message, fixed, can be sent afterwards.
            Message ok = producer.generateMessage(QmqTestSupport.subject());
            ok.setLargeString("value", "x".repeat(40_000));
            QmqTestSupport.sendSync(producer, ok);
        }
    }

    @Test
    void closed_producer_throws_closed_exception() {
        MessageProducerProvider producer = QmqTestSupport.producer();
        Message m = producer.generateMessage(QmqTestSupport.subject());
        producer.destroy();
        producer.destroy();
        ClosedException e = assertThrows(ClosedException.class, () -> producer.sendMessage(m));
        assertEquals("Closed", e.getKind());
        assertThrows(ClosedException.class, () -> producer.generateMessage("s"));
        assertThrows(ClosedException.class, () -> producer.flush(10));
    }

    @Test
    void producer_without_init_or_config_fails_clearly() {
        MessageProducerProvider notStarted = new MessageProducerProvider();
        assertThrows(ClosedException.class, () -> notStarted.generateMessage("s"));
        assertThrows(InvalidArgumentException.class, notStarted::init);
        MessageProducerProvider badUrl = new MessageProducerProvider("not a url");
        badUrl.setAppCode("x");
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, badUrl::init);
        assertTrue(e.getMessage().contains("not a url"), e.getMessage());
    }

    @Test
    void send_to_an_unreachable_meta_server_fails_the_future() throws Exception {
        MessageProducerProvider producer = new MessageProducerProvider("http://127.0.0.1:1/meta/address");
        producer.setAppCode("x");
        producer.setSendTryCount(1);
        producer.init();
        try {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> producer.sendMessageAsync(producer.generateMessage("s")).get(60, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof QmqException, e.getCause().toString());
        } finally {
            producer.destroy();
        }
    }

    @Test
    void producer_side_message_cannot_be_acked() {
        try (MessageProducerProvider producer = QmqTestSupport.producer()) {
            Message m = producer.generateMessage("s");
            assertThrows(UnsupportedOperationException.class, () -> m.ack(0, null));
            assertThrows(UnsupportedOperationException.class, () -> m.setOrderKey("k"));
        }
    }
}
