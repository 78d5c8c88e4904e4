using System;
using System.Threading;

namespace Qmq
{
    /// Completes sends on one thread of our own, "qmq-completions", which pulls their outcomes
    /// from a native completion queue in batches (qmq_completion_queue_next). A send carries a
    /// SendTable token; the library puts the token and the outcome into the queue, so no managed
    /// code runs on a library thread and a send costs no native-to-managed call: with one
    /// callback per message, Mono's thread transitions and the managed completion work ran on
    /// the library's runtime threads and took a quarter of the producer's CPU.
    ///
    /// On this thread: each send's Message gets BrokerGroup and MessageId (or SendError), its
    /// client reference is released, then onSuccess/onFailed run inline, in completion order (a
    /// slow callback delays later completions: hand long work off), and SendAsync tasks go to
    /// TaskCompleter (continuations never run here, so one that blocks cannot stall the pump).
    internal static unsafe class CompletionPump
    {
        private const int Batch = 256;
        private static readonly object StartLock = new object();
        private static IntPtr _queue;

        /// The process-wide queue (created, and the thread started, on first use). Never freed:
        /// sends of any client may still complete into it.
        internal static IntPtr Queue
        {
            get
            {
                IntPtr q = _queue;
                return q != IntPtr.Zero ? q : Start();
            }
        }

        private static IntPtr Start()
        {
            lock (StartLock)
            {
                if (_queue != IntPtr.Zero) return _queue;
                IntPtr q;
                Native.Check(Native.qmq_completion_queue_new(out q));
                new Thread(() => Run(q)) { IsBackground = true, Name = "qmq-completions" }.Start();
                Volatile.Write(ref _queue, q);
                return q;
            }
        }

        private static void Run(IntPtr queue)
        {
            var batch = new QmqSendCompletionNative[Batch];
            var sends = new IPendingSend[Batch];
            while (true)
            {
                int n;
                fixed (QmqSendCompletionNative* b = batch)
                {
                    UIntPtr count;
                    IntPtr err = Native.qmq_completion_queue_next(queue, b, (UIntPtr)Batch, 1000, out count);
                    if (err != IntPtr.Zero) { Native.qmq_error_free(err); Thread.Sleep(10); continue; }
                    n = (int)count.ToUInt64();
                    SendTable.TakeAll(b, n, sends);
                    // The strings and errors are the queue's until the next pull: copy them now.
                    for (int i = 0; i < n; i++)
                    {
                        if (sends[i] != null) Describe(sends[i], ref b[i]);
                    }
                }
                for (int i = 0; i < n; i++)
                {
                    IPendingSend s = sends[i];
                    sends[i] = null;
                    if (s == null) continue; // counted as stray by SendTable
                    try { s.Completed(s.Message.SendError); } catch (Exception) { } // a user callback's exception is dropped
                }
            }
        }

        /// Copies one outcome into its message and releases the send's client reference (after
        /// that the client may be freed, from here, if its provider was disposed meanwhile).
        private static void Describe(IPendingSend s, ref QmqSendCompletionNative c)
        {
            try
            {
                Message msg = s.Message;
                if (c.Error == IntPtr.Zero)
                {
                    msg.BrokerGroup = GroupNames.Get(c.BrokerGroup, c.BrokerGroupLen);
                    if (!msg.HasMessageId) msg.MessageId = Native.Str(c.MessageId, c.MessageIdLen);
                }
                else
                {
                    msg.SendError = Native.FromBorrowed(c.Error);
                }
            }
            catch (Exception e)
            {
                s.Message.SendError = e as QmqException ?? new QmqException(QmqErrorCode.Internal, e.Message, false);
            }
            finally
            {
                ClientHandle client = s.TakeClient();
                if (client != null) { try { client.Exit(); } catch (Exception) { } }
            }
        }

        /// Broker group names repeat: decode each distinct one once.
        private static class GroupNames
        {
            private static byte[] _lastBytes;
            private static string _last;

            internal static string Get(IntPtr p, UIntPtr len)
            {
                int n = (int)len.ToUInt64();
                byte[] b = _lastBytes;
                if (b != null && b.Length == n)
                {
                    byte* q = (byte*)p;
                    int i = 0;
                    while (i < n && q[i] == b[i]) i++;
                    if (i == n) return _last;
                }
                b = new byte[n];
                System.Runtime.InteropServices.Marshal.Copy(p, b, 0, n);
                _last = Native.Str(p, len);
                _lastBytes = b;
                return _last;
            }
        }
    }
}
