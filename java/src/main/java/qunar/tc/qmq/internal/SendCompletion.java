package qunar.tc.qmq.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

import qunar.tc.qmq.Message;
import qunar.tc.qmq.MessageSendStateListener;

/**
 * What waits for one send: the producer's send window, the user's listener and/or a future.
 * Completed exactly once by
 * the native completion thread (through {@link Native}), or directly when the send is refused
 * before it reaches the native queue.
 */
public final class SendCompletion {
    private final Message message;
    private final MessageSendStateListener listener;
    private final CompletableFuture<Message> future;
    private final Semaphore window;

    /**
     * @param message  the message sent
     * @param listener the user's listener, or null
     * @param future   a future to complete, or null
     * @param window   the producer's send window, released once on completion
     */
    public SendCompletion(Message message, MessageSendStateListener listener,
            CompletableFuture<Message> future, Semaphore window) {
        this.message = message;
        this.listener = listener;
        this.future = future;
        this.window = window;
    }

    /**
     * Reports the outcome.
     *
     * @param error null on success, else the failure
     */
    public void complete(Throwable error) {
        window.release();
        try {
            if (listener != null) {
                if (error == null) {
                    listener.onSuccess(message);
                } else {
                    listener.onFailed(message);
                }
            }
        } finally {
            if (future != null) {
                if (error == null) {
                    future.complete(message);
                } else {
                    future.completeExceptionally(error);
                }
            }
        }
    }
}
