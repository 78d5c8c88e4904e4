using System;
using System.Collections.Concurrent;
using System.Threading;

namespace Qmq
{
    /// Runs user send callbacks (onSuccess/onFailed) off the library threads, on one dedicated
    /// background thread, in completion order. Posting is a lock-free enqueue; the thread is
    /// woken only when it went to sleep, so a burst of completions costs one wake-up, not one
    /// thread-pool work item each.
    internal static class CallbackDispatcher
    {
        /// A queued callback (a work item object, so posting allocates no delegate).
        internal interface IWork { void Run(); }

        private static readonly ConcurrentQueue<IWork> Queue = new ConcurrentQueue<IWork>();
        private static readonly SemaphoreSlim Wake = new SemaphoreSlim(0);
        private static int _signaled;
        private static Thread _thread;
        private static readonly object StartLock = new object();

        internal static void Post(IWork a)
        {
            if (_thread == null) Start();
            Queue.Enqueue(a);
            if (Interlocked.Exchange(ref _signaled, 1) == 0) Wake.Release();
        }

        private static void Start()
        {
            lock (StartLock)
            {
                if (_thread != null) return;
                var t = new Thread(Run) { IsBackground = true, Name = "qmq-callbacks" };
                t.Start();
                _thread = t;
            }
        }

        private static void Run()
        {
            while (true)
            {
                Wake.Wait();
                Interlocked.Exchange(ref _signaled, 0);
                IWork a;
                while (Queue.TryDequeue(out a))
                {
                    try { a.Run(); } catch (Exception) { } // a user callback's exception is dropped
                }
            }
        }
    }
}
