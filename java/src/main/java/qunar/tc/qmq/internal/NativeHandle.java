package qunar.tc.qmq.internal;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;

import qunar.tc.qmq.ClosedException;

/**
 * A native handle pinned for the duration of every call: calls hold the read lock, and the
 * handle is freed only under the write lock, after every running call has returned. A freed
 * handle reads as 0, which makes later calls throw {@link ClosedException} instead of touching
 * freed memory.
 */
public final class NativeHandle {
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final String what;
    private long ptr;

    /**
     * @param what what the handle is, for error messages
     * @param ptr  the native pointer
     */
    public NativeHandle(String what, long ptr) {
        this.what = what;
        this.ptr = ptr;
    }

    /**
     * Pins the handle; pair with {@link #release()} in a {@code finally}.
     *
     * @return the pointer
     * @throws ClosedException if the handle was freed
     */
    public long acquire() {
        lock.readLock().lock();
        if (ptr == 0) {
            lock.readLock().unlock();
            throw new ClosedException("the " + what + " is closed", "Closed", false);
        }
        return ptr;
    }

    /** Unpins the handle. */
    public void release() {
        lock.readLock().unlock();
    }

    /** @return whether the handle was freed */
    public boolean isFreed() {
        lock.readLock().lock();
        try {
            return ptr == 0;
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Waits for running calls, then frees the handle with {@code free}; later calls throw
     * {@link ClosedException}. A second call does nothing.
     *
     * @param free the native free function
     */
    public void free(LongConsumer free) {
        lock.writeLock().lock();
        try {
            long p = ptr;
            ptr = 0;
            if (p != 0) {
                free.accept(p);
            }
        } finally {
            lock.writeLock().unlock();
        }
    }
}
