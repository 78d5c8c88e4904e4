using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;

namespace Qmq
{
    /// One send in flight: what its completion needs. An interface, so that a SendAsync's
    /// state can be its TaskCompletionSource (one object per send).
    internal interface IPendingSend
    {
        Message Message { get; }
        /// The client handle AddRef'd by the send, released once the completion ran.
        ClientHandle Client { get; }
        /// Called once, on the library thread that completed the send, after Message's
        /// BrokerGroup/MessageId or SendError were set. Must not block or throw.
        void Completed(Exception error);
    }

    /// The in-flight sends, by token: the `user_data` the library hands back to the one static
    /// completion callback is a slot number, not a GCHandle, so a send allocates no handle and
    /// the callback resolves it without an icall. <see cref="Take"/> empties the slot, so a
    /// token completes at most once (a second completion for it finds nothing).
    internal static class SendTable
    {
        private static readonly object Lock = new object();
        private static IPendingSend[] _slots = new IPendingSend[1024];
        private static int[] _free = new int[1024];
        private static int _freeCount;
        private static int _next; // slots [0, _next) have been used at least once

        /// Stores `s` and returns its token (never zero).
        internal static IntPtr Add(IPendingSend s)
        {
            lock (Lock)
            {
                int i;
                if (_freeCount > 0) i = _free[--_freeCount];
                else
                {
                    if (_next == _slots.Length)
                    {
                        Array.Resize(ref _slots, _slots.Length * 2);
                        Array.Resize(ref _free, _free.Length * 2);
                    }
                    i = _next++;
                }
                _slots[i] = s;
                return (IntPtr)(i + 1);
            }
        }

        /// Removes and returns the send of `token`; null if it is not in flight.
        internal static IPendingSend Take(IntPtr token)
        {
            long t = token.ToInt64();
            lock (Lock)
            {
                if (t < 1 || t > _next) return null;
                int i = (int)(t - 1);
                IPendingSend s = _slots[i];
                if (s == null) return null;
                _slots[i] = null;
                _free[_freeCount++] = i;
                return s;
            }
        }
    }

    /// A Send(onSuccess, onFailed): the callback runs on the callback thread.
    internal sealed class CallbackSend : IPendingSend, CallbackDispatcher.IWork
    {
        private readonly Message _message;
        private readonly ClientHandle _client;
        private readonly Action<Message> _onSuccess;
        private readonly Action<Message> _onFailed;
        private bool _ok;

        internal CallbackSend(Message m, ClientHandle client, Action<Message> onSuccess, Action<Message> onFailed)
        {
            _message = m; _client = client; _onSuccess = onSuccess; _onFailed = onFailed;
        }

        public Message Message { get { return _message; } }
        public ClientHandle Client { get { return _client; } }

        public void Completed(Exception error)
        {
            _ok = error == null;
            if ((_ok ? _onSuccess : _onFailed) != null) CallbackDispatcher.Post(this);
        }

        public void Run()
        {
            if (_ok) _onSuccess(_message); else _onFailed(_message);
        }
    }

    /// A SendAsync: the send state is the TaskCompletionSource itself. It is completed only by
    /// <see cref="TaskCompleter"/> on a thread-pool work item, never on a library thread, so
    /// continuations may run inline there (no RunContinuationsAsynchronously: that would cost
    /// one more work item per task); TaskCompleter keeps a blocking continuation from holding
    /// up the other tasks.
    internal sealed class TaskSend : TaskCompletionSource<Message>, IPendingSend
    {
        private readonly Message _message;
        private readonly ClientHandle _client;
        private Exception _error;

        internal TaskSend(Message m, ClientHandle client)
        {
            _message = m; _client = client;
        }

        public Message Message { get { return _message; } }
        public ClientHandle Client { get { return _client; } }

        public void Completed(Exception error)
        {
            _error = error;
            TaskCompleter.Post(this);
        }

        internal void Finish()
        {
            if (_error == null) TrySetResult(_message); else TrySetException(_error);
        }
    }

    /// Completes SendAsync tasks off the library threads, in batches. The library thread only
    /// enqueues (lock-free) and, if no drain is pending, queues one thread-pool work item, so a
    /// burst of completions costs one work item and one wake-up, not one per task.
    ///
    /// A drain completes the tasks one by one and their continuations run inline. Such a
    /// continuation may block, even on another SendAsync task (sync-over-async), so before
    /// completing a task the drain makes sure that, if more tasks are queued, another drain is
    /// pending to take them over: a blocked continuation delays only its own pool thread,
    /// never another task's completion. `_pending` is 1 while a drain is queued but not started;
    /// a drain clears it when it starts, before dequeuing anything, so an enqueue either sees 0
    /// and schedules a drain or sees 1 and is picked up by the drain about to start.
    internal static class TaskCompleter
    {
        private static readonly ConcurrentQueue<TaskSend> Queue = new ConcurrentQueue<TaskSend>();
        private static int _pending;
        private static readonly WaitCallback DrainCallback = Drain;

        internal static void Post(TaskSend t)
        {
            Queue.Enqueue(t);
            SchedulePending();
        }

        private static void SchedulePending()
        {
            if (Interlocked.CompareExchange(ref _pending, 1, 0) == 0)
                ThreadPool.UnsafeQueueUserWorkItem(DrainCallback, null);
        }

        private static void Drain(object unused)
        {
            Volatile.Write(ref _pending, 0);
            TaskSend t;
            while (Queue.TryDequeue(out t))
            {
                if (!Queue.IsEmpty) SchedulePending();
                try { t.Finish(); } catch (Exception) { } // continuations' exceptions stay in their tasks
            }
        }
    }
}
