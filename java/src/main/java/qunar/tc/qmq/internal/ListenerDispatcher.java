package qunar.tc.qmq.internal;

import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

import qunar.tc.qmq.MessageListener;
import qunar.tc.qmq.base.BaseMessage;
import qunar.tc.qmq.base.MessageCodec;

/**
 * Hands messages of one listener registration to the user's executor. Called on a native
 * thread attached for the scope of {@link #dispatch}: it only decodes and submits, so no user
 * code runs there. Every message it accepts is completed exactly once: by the listener task
 * (ack on return, retry on an exception, or later by the user after {@code autoAck(false)}),
 * or at once with a failure when the executor rejects the task.
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

    void dispatch(byte[] bytes, long completion) {
        BaseMessage m;
        try {
            m = MessageCodec.decodeListener(bytes, completion);
        } catch (RuntimeException e) {
            Native.listenerComplete(completion, "cannot decode the message: " + e);
            return;
        }
        try {
            executor.execute(() -> run(m));
        } catch (RejectedExecutionException e) {
            m.ack(0, e);
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
