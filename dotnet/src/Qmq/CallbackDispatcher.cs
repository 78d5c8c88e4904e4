using System;
using System.Collections.Concurrent;
using System.Threading;

namespace Qmq
{
    /// Runs user send callbacks (onSuccess/onFailed) off the library threads, on one dedicated
    /// background thread, in completion order. Posting is a lock-free enqueue; the thread is
    /// woken only when it went to sleep, so a burst of completions costs one wake-up, not one
    /// thread-pool work item each. (SendAsync tasks are completed by TaskCompleter instead.)
    internal sealed class CallbackDispatcher
    {
        /// A queued piece of work (an object, so posting allocates no delegate).
        internal interface IWork { void Run(); }

        internal static readonly CallbackDispatcher Callbacks = new CallbackDispatcher("qmq-callbacks");

        private readonly string _name;
        private readonly ConcurrentQueue<IWork> _queue = new ConcurrentQueue<IWork>();
        private readonly SemaphoreSlim _wake = new SemaphoreSlim(0);
        private int _signaled;
        private Thread _thread;
        private readonly object _startLock = new object();

        private CallbackDispatcher(string name) { _name = name; }

        internal void Post(IWork a)
        {
            if (_thread == null) Start();
            _queue.Enqueue(a);
            if (Interlocked.Exchange(ref _signaled, 1) == 0) _wake.Release();
        }

        private void Start()
        {
            lock (_startLock)
            {
                if (_thread != null) return;
                var t = new Thread(Run) { IsBackground = true, Name = _name };
                t.Start();
                _thread = t;
            }
        }

        private void Run()
        {
            while (true)
            {
                _wake.Wait();
                Interlocked.Exchange(ref _signaled, 0);
                IWork a;
                while (_queue.TryDequeue(out a))
                {
                    try { a.Run(); } catch (Exception) { } // a user callback's exception is dropped
                }
            }
        }
    }
}
