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
        /// The client handle AddRef'd by the send, handed out once (then forgotten) so the
        /// completion releases it and no finished send keeps the client reachable: a stale
        /// reference to a send state (Mono scans stacks conservatively) must not keep an
        /// abandoned provider's client, and its runtime threads, alive.
        ClientHandle TakeClient();
        /// Called once, on the completion thread (CompletionPump), after Message's
        /// BrokerGroup/MessageId or SendError were set and the client reference was taken.
        void Completed(Exception error);
    }

    /// The in-flight sends, by token: the token a send gives the library (and the completion
    /// queue hands back, see CompletionPump) is a slot number, not a GCHandle, so a send
    /// allocates no handle. <see cref="Take"/> empties the slot, so a
    /// token completes at most once (a second completion for it finds nothing).
    internal static class SendTable
    {
        private static readonly object Lock = new object();
        private static IPendingSend[] _slots = new IPendingSend[1024];
        private static int[] _free = new int[1024];
        private static int _freeCount;
        private static int _next; // slots [0, _next) have been used at least once
        private static long _stray;

        /// Completions that named no send in flight (a second completion of a token, or a
        /// foreign one). Stays 0 while the library completes each send exactly once; the tests
        /// check it.
        internal static long StrayCompletions { get { return Interlocked.Read(ref _stray); } }

        /// Sends accepted or being started and not yet completed.
        internal static int InFlight { get { lock (Lock) return _next - _freeCount; } }

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

        /// Takes the sends of a batch of completions under one lock: `sends[i]` is the send of
        /// `batch[i].Token`, or null (counted as stray) if it is not in flight.
        internal static unsafe void TakeAll(QmqSendCompletionNative* batch, int n, IPendingSend[] sends)
        {
            lock (Lock)
            {
                for (int k = 0; k < n; k++)
                {
                    ulong t = batch[k].Token;
                    IPendingSend s = null;
                    if (t >= 1 && t <= (ulong)_next)
                    {
                        int i = (int)(t - 1);
                        s = _slots[i];
                        if (s != null)
                        {
                            _slots[i] = null;
                            _free[_freeCount++] = i;
                        }
                    }
                    if (s == null) Interlocked.Increment(ref _stray);
                    sends[k] = s;
                }
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

    /// A Send(onSuccess, onFailed): the callback runs on the completion thread (CompletionPump).
    internal sealed class CallbackSend : IPendingSend
    {
        private readonly Message _message;
        private ClientHandle _client;
        private readonly Action<Message> _onSuccess;
        private readonly Action<Message> _onFailed;

        internal CallbackSend(Message m, ClientHandle client, Action<Message> onSuccess, Action<Message> onFailed)
        {
            _message = m; _client = client; _onSuccess = onSuccess; _onFailed = onFailed;
        }

        public Message Message { get { return _message; } }
        public ClientHandle TakeClient() { return Interlocked.Exchange(ref _client, null); }

        public void Completed(Exception error)
        {
            Action<Message> callback = error == null ? _onSuccess : _onFailed;
            if (callback != null) callback(_message);
        }
    }

    /// A SendAsync: the send state is the TaskCompletionSource itself. It completes on a pump
    /// thread (CompletionPump), never on a library thread, so continuations may run inline there
    /// (the pump's watchdog covers ones that block), and RunContinuationsAsynchronously (one
    /// more thread-pool work item per task) is not needed.
    internal sealed class TaskSend : TaskCompletionSource<Message>, IPendingSend
    {
        private readonly Message _message;
        private ClientHandle _client;

        internal TaskSend(Message m, ClientHandle client)
        {
            _message = m; _client = client;
        }

        public Message Message { get { return _message; } }
        public ClientHandle TakeClient() { return Interlocked.Exchange(ref _client, null); }

        public void Completed(Exception error)
        {
            if (error == null) TrySetResult(_message); else TrySetException(error);
        }
    }
}
