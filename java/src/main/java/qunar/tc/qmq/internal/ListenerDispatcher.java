package qunar.tc.qmq.internal;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

import qunar.tc.qmq.MessageListener;
import qunar.tc.qmq.base.BaseMessage;
import qunar.tc.qmq.base.MessageCodec;

/**
 * Hands messages of one listener registration to the user's executor. Called on the
 * registration's pull thread ({@link DefaultListenerHolder}): it only decodes and submits, so no
 * user code runs there. Every message it receives is completed exactly once: by the listener
 * task (ack on return, retry on an exception, or later by the user after
 * {@code autoAck(false)}), or at once with a failure when it cannot be decoded or the executor
 * rejects the task.
 */
public final class ListenerDispatcher {
    private final MessageListener listener;
    private final Executor executor;

    /**
     * @param listener the user's listener
     * @param executor where it runs
     */
    public ListenerDispatcher(MessageListener listener, Executor executor) {
        this.listener = listener;
        this.executor = executor;
    }

    /**
     * @param bytes       {@code count} messages in the listener encoding
     * @param completions their completion handles, owned from here on
     */
    void dispatchAll(byte[] bytes, long[] completions) {
        List<BaseMessage> messages;
        try {
            messages = MessageCodec.decodeListenerBatch(bytes, completions);
        } catch (RuntimeException e) {
            int count = bytes.length >= 4 ? ByteBuffer.wrap(bytes).getInt() : 0;
            for (int i = 0; i < Math.min(count, completions.length); i++) {
                Native.listenerComplete(completions[i], "cannot decode the message: " + e);
            }
            return;
        }
        for (BaseMessage m : messages) {
            try {
                executor.execute(() -> run(m));
            } catch (RejectedExecutionException e) {
                m.ack(0, e);
            }
        }
    }

    private void run(BaseMessage m) {
        long start = System.nanoTime();
        Throwable error = null;
        m.setInListener(true);
        try {
            listener.onMessage(m);
        } catch (Throwable t) {
            error = t;
        } finally {
            m.setInListener(false);
        }
        if (m.isAutoAck() || error != null) {
            m.ack((System.nanoTime() - start) / 1_000_000, error);
        }
    }
}
