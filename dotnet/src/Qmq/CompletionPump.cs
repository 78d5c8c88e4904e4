using System;
using System.Collections.Concurrent;
using System.Threading;

namespace Qmq
{
    /// Completes sends on threads of our own, "qmq-completions", which pull their outcomes from a
    /// native completion queue in batches (qmq_completion_queue_next). A send carries a
    /// SendTable token; the library puts the token and the outcome into the queue, so no managed
    /// code runs on a library thread and a send costs no native-to-managed call: with one
    /// callback per message, Mono's thread transitions and the managed completion work ran on
    /// the library's runtime threads and took about a quarter of the process's CPU samples.
    ///
    /// On a pump thread: each send's Message gets BrokerGroup and MessageId (or SendError), its
    /// client reference is released, then onSuccess/onFailed run and SendAsync tasks complete,
    /// their continuations inline (as .NET's own socket completions do), in completion order
    /// (while a helper pump runs, two pumps may interleave).
    ///
    /// Invariants:
    /// * pulling a batch and copying what it borrows from the queue happen under one lock, so
    ///   the next pull (which releases the previous batch) never overlaps a copy;
    /// * pulled sends wait in one Ready queue shared by all pumps, each taken by one pump;
    /// * user code that blocks (a slow callback; a continuation waiting for another send, i.e.
    ///   sync-over-async) delays other completions by about <see cref="StallMs"/> only: a
    ///   watchdog that sees every pump inside user code and no completion finished for that
    ///   long starts a helper pump (at most <see cref="MaxPumps"/> pumps in all). A helper exits
    ///   once another pump is free again, or when the queue stays empty;
    /// * the watchdog sleeps while no pump runs user code, so an idle process has no timer.
    internal static unsafe class CompletionPump
    {
        private const int Batch = 256;
        private const int StallMs = 2;
        private const int MaxPumps = 64;

        private static readonly object StartLock = new object();
        private static readonly object PullLock = new object();
        private static readonly WakeSignal WatchdogWake = new WakeSignal();
        private static readonly ConcurrentQueue<IPendingSend> Ready = new ConcurrentQueue<IPendingSend>();
        private static IntPtr _queue;
        private static int _pumps;          // pump threads running
        private static int _busy;           // pumps running user code
        private static long _progress;      // completions finished (the watchdog's clock)
        private static int _watchdogIdle;   // 1: the watchdog sleeps until a pump gets busy
        private static long _helpers;       // helper pumps ever started (for tests)

        /// Helper pumps started so far (each one means user code blocked a pump).
        internal static long Helpers { get { return Interlocked.Read(ref _helpers); } }

        /// The process-wide queue (created, and the threads started, on first use). Never
        /// freed: sends of any client may still complete into it.
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
                Volatile.Write(ref _queue, q);
                StartPump(false);
                new Thread(Watchdog) { IsBackground = true, Name = "qmq-completions-watchdog" }.Start();
                return q;
            }
        }

        private static void StartPump(bool helper)
        {
            Interlocked.Increment(ref _pumps);
            try { new Thread(() => Pump(helper)) { IsBackground = true, Name = "qmq-completions" }.Start(); }
            catch { Interlocked.Decrement(ref _pumps); throw; }
        }

        private static void Pump(bool helper)
        {
            var batch = new QmqSendCompletionNative[Batch];
            var sends = new IPendingSend[Batch];
            try
            {
                while (true)
                {
                    if (!Ready.IsEmpty)
                    {
                        RunReady();
                        // A helper is needed only while every other pump is stuck in user code.
                        if (helper && Volatile.Read(ref _busy) < Volatile.Read(ref _pumps) - 1) return;
                    }
                    int n = Pull(batch, sends, helper ? 100UL : 1000UL);
                    if (n == 0 && helper && Ready.IsEmpty) return;
                }
            }
            finally { Interlocked.Decrement(ref _pumps); }
        }

        /// Runs the user code of every ready send. Ready sends are shared by all pumps, so a send
        /// pulled in the same batch as one whose continuation blocks is still completed (by a
        /// helper) instead of waiting behind it.
        private static void RunReady()
        {
            Interlocked.Increment(ref _busy);
            if (Volatile.Read(ref _watchdogIdle) == 1 && Interlocked.Exchange(ref _watchdogIdle, 0) == 1)
                WatchdogWake.Set();
            try
            {
                IPendingSend s;
                while (Ready.TryDequeue(out s))
                {
                    try { s.Completed(s.Message.SendError); } catch (Exception) { } // a user callback's exception is dropped
                    Interlocked.Increment(ref _progress);
                }
            }
            finally { Interlocked.Decrement(ref _busy); }
        }

        /// Pulls one batch, copies out what it borrows from the queue and makes its sends ready;
        /// returns its size.
        private static int Pull(QmqSendCompletionNative[] batch, IPendingSend[] sends, ulong timeoutMs)
        {
            lock (PullLock)
            {
                fixed (QmqSendCompletionNative* b = batch)
                {
                    UIntPtr count;
                    IntPtr err = Native.qmq_completion_queue_next(_queue, b, (UIntPtr)batch.Length, timeoutMs, out count);
                    if (err != IntPtr.Zero) { Native.qmq_error_free(err); return 0; }
                    int n = (int)count.ToUInt64();
                    SendTable.TakeAll(b, n, sends);
                    for (int i = 0; i < n; i++)
                    {
                        IPendingSend s = sends[i];
                        sends[i] = null;
                        if (s == null) continue; // counted as stray by SendTable
                        Describe(s, ref b[i]);
                        Ready.Enqueue(s);
                    }
                    return n;
                }
            }
        }

        private static void Watchdog()
        {
            long seen = -1;
            while (true)
            {
                if (Volatile.Read(ref _busy) == 0)
                {
                    Volatile.Write(ref _watchdogIdle, 1);
                    if (Volatile.Read(ref _busy) == 0) WatchdogWake.Wait();
                    Volatile.Write(ref _watchdogIdle, 0);
                    seen = -1;
                    continue;
                }
                Thread.Sleep(StallMs);
                long now = Interlocked.Read(ref _progress);
                int pumps = Volatile.Read(ref _pumps);
                if (now == seen && Volatile.Read(ref _busy) >= pumps && pumps < MaxPumps)
                {
                    Interlocked.Increment(ref _helpers);
                    try { StartPump(true); } catch (Exception) { } // out of threads: retry next round
                }
                seen = now;
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
