package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import qunar.tc.qmq.internal.Native;

/** The JNI boundary itself: panics and errors become exceptions, bad handles are refused. */
class BoundaryTest {
    @Test
    void a_panic_in_the_bridge_is_an_exception_not_a_crash() {
        QmqException e = assertThrows(QmqException.class, Native::testingPanic);
        assertEquals("Panic", e.getKind());
        assertTrue(e.getMessage().contains("qmq_testing panic"), e.getMessage());
        // The library still works afterwards.
        assertEquals(Native.EXPECTED_VERSION, Native.version());
    }

    @Test
    void core_errors_map_to_their_exception_class() {
        QueueFullException e = assertThrows(QueueFullException.class, Native::testingFail);
        assertEquals("QueueFull", e.getKind());
        assertTrue(e.isRetriable());
    }

    @Test
    void null_and_wrong_kind_handles_are_refused() {
        assertEquals("Closed", assertThrows(ClosedException.class,
                () -> Native.producerSend(0, new byte[0], Native.NO_COMPLETION)).getKind());
        assertThrows(ClosedException.class, () -> Native.pullPull(0, 1, 0, new long[1]));
        assertThrows(InvalidArgumentException.class, () -> Native.ack(0, null));
    }

    @Test
    void malformed_message_buffers_are_invalid_arguments() throws Exception {
        try (qunar.tc.qmq.producer.MessageProducerProvider producer = QmqTestSupport.producer()) {
            java.lang.reflect.Field f = producer.getClass().getDeclaredField("handle");
            f.setAccessible(true);
            qunar.tc.qmq.internal.NativeHandle h = (qunar.tc.qmq.internal.NativeHandle) f.get(producer);
            long p = h.acquire();
            try {
                assertThrows(InvalidArgumentException.class,
                        () -> Native.producerSend(p, new byte[] {0, 0, 0, 9, 1}, Native.NO_COMPLETION));
                assertThrows(InvalidArgumentException.class, () -> Native.producerSend(p, null, Native.NO_COMPLETION));
                // A client handle where a pull consumer handle is expected.
                InvalidArgumentException wrongKind = assertThrows(InvalidArgumentException.class,
                        () -> Native.pullPull(p, 1, 0, new long[1]));
                assertTrue(wrongKind.getMessage().contains("not a pull consumer handle"),
                        wrongKind.getMessage());
            } finally {
                h.release();
            }
        }
    }
}
