using System;
using System.Collections.Concurrent;
using System.Threading;

namespace Qmq
{
    /// Completes SendAsync tasks off the completion thread (CompletionPump), in batches.
    ///
    /// The completion thread only enqueues (lock-free) and, if no drain is pending, queues one
    /// thread-pool work item; that drain completes every queued task, and the tasks'
    /// continuations run inline on it (as .NET's own socket completions do). So a burst of
    /// completions costs one work item and one wake-up, not one per task.
    ///
    /// Invariants:
    /// * a task is completed only here, never on a library thread or the completion thread;
    /// * a continuation that blocks (even on another SendAsync task: sync-over-async) delays
    ///   only its own thread: before completing a task, a drain makes sure that, if more tasks
    ///   are queued, another drain is pending to take them over;
    /// * completion does not depend on a free thread-pool thread: if queued tasks make no
    ///   progress for <see cref="StallMs"/> (every pool thread blocked, the pool slow to add
    ///   more), a watchdog starts a rescue thread that drains the queue and then exits (at most
    ///   <see cref="MaxRescueThreads"/> at once);
    /// * `_pending` is 1 while a pool drain is queued but not started; a drain clears it when it
    ///   starts, before dequeuing, so an enqueue either sees 0 and schedules a drain or sees 1
    ///   and is picked up by the drain about to start.
    internal static class TaskCompleter
    {
        private const int StallMs = 10;
        private const int MaxRescueThreads = 32;

        private static readonly ConcurrentQueue<TaskSend> Queue = new ConcurrentQueue<TaskSend>();
        private static readonly WaitCallback DrainCallback = PoolDrain;
        private static int _pending;
        private static long _progress;      // tasks dequeued so far (the watchdog's clock)
        private static int _rescueThreads;  // rescue threads running
        private static long _rescues;       // rescue threads ever started (for tests)

        private static readonly WakeSignal WatchdogWake = new WakeSignal();
        private static int _watchdogIdle;   // 1: the watchdog sleeps until the next Post
        private static Thread _watchdog;
        private static readonly object StartLock = new object();

        /// Rescue threads started so far (each one means the pool did not drain in time).
        internal static long Rescues { get { return Interlocked.Read(ref _rescues); } }

        internal static void Post(TaskSend t)
        {
            if (_watchdog == null) StartWatchdog();
            Queue.Enqueue(t);
            SchedulePending();
            if (Volatile.Read(ref _watchdogIdle) == 1 && Interlocked.Exchange(ref _watchdogIdle, 0) == 1)
                WatchdogWake.Set();
        }

        private static void SchedulePending()
        {
            if (Interlocked.CompareExchange(ref _pending, 1, 0) == 0)
                ThreadPool.UnsafeQueueUserWorkItem(DrainCallback, null);
        }

        private static void PoolDrain(object unused)
        {
            Volatile.Write(ref _pending, 0);
            Drain();
        }

        private static void Drain()
        {
            TaskSend t;
            while (Queue.TryDequeue(out t))
            {
                Interlocked.Increment(ref _progress);
                if (!Queue.IsEmpty) SchedulePending();
                try { t.Finish(); } catch (Exception) { } // continuations' exceptions stay in their tasks
            }
        }

        private static void StartWatchdog()
        {
            lock (StartLock)
            {
                if (_watchdog != null) return;
                var t = new Thread(Watchdog) { IsBackground = true, Name = "qmq-tasks-watchdog" };
                t.Start();
                _watchdog = t;
            }
        }

        private static void Watchdog()
        {
            long seen = -1;
            while (true)
            {
                if (Queue.IsEmpty)
                {
                    Volatile.Write(ref _watchdogIdle, 1);
                    if (Queue.IsEmpty) WatchdogWake.Wait();
                    Volatile.Write(ref _watchdogIdle, 0);
                    seen = -1;
                    continue;
                }
                Thread.Sleep(StallMs);
                long now = Interlocked.Read(ref _progress);
                if (now == seen && !Queue.IsEmpty && Volatile.Read(ref _rescueThreads) < MaxRescueThreads)
                {
                    Interlocked.Increment(ref _rescueThreads);
                    Interlocked.Increment(ref _rescues);
                    new Thread(Rescue) { IsBackground = true, Name = "qmq-tasks-rescue" }.Start();
                }
                seen = now;
            }
        }

        private static void Rescue()
        {
            try { Drain(); }
            finally { Interlocked.Decrement(ref _rescueThreads); }
        }
    }

    /// A wake-up flag for one sleeping thread, without spinning: <see cref="Set"/> wakes the
    /// thread in <see cref="Wait"/> (or makes its next Wait return at once). SemaphoreSlim spins
    /// before it blocks, which costs CPU the sending threads need on a small machine.
    internal sealed class WakeSignal
    {
        private readonly object _lock = new object();
        private bool _set;

        internal void Set()
        {
            lock (_lock)
            {
                _set = true;
                Monitor.Pulse(_lock);
            }
        }

        internal void Wait()
        {
            lock (_lock)
            {
                while (!_set) Monitor.Wait(_lock);
                _set = false;
            }
        }
    }
}
