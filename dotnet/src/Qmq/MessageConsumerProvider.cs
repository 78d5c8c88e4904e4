using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Qmq
{
    /// Handles one delivered message. Returning normally acks it; throwing sends it to the
    /// retry subject (dead-letter after the last try).
    public delegate void MessageListener(ReceivedMessage message);

    /// The consumer (QMQ .NET client API): Subscribe(...).Received += ...; Start(); or the pull
    /// API through GetPullConsumer.
    public sealed unsafe class MessageConsumerProvider : IDisposable
    {
        private readonly Client _client;

        public MessageConsumerProvider(string metaUrl, string appCode)
        {
            _client = new Client(metaUrl, appCode);
        }

        public MessageConsumerProvider(string appCode) : this(Environment.GetEnvironmentVariable("QMQ_META_URL"), appCode) { }

        /// A subscriber for `subject` as consumer group `group`; attach Received, then Start().
        public MessageSubscriber Subscribe(string subject, string group, ConsumeOptions options = null)
        {
            if (subject == null) throw new ArgumentNullException("subject");
            if (group == null) throw new ArgumentNullException("group");
            return new MessageSubscriber(_client, subject, group, options ?? new ConsumeOptions());
        }

        /// A pull consumer for `subject` as consumer group `group` (starts registering now).
        public PullConsumer GetPullConsumer(string subject, string group, ConsumeOptions options = null)
        {
            if (subject == null) throw new ArgumentNullException("subject");
            if (group == null) throw new ArgumentNullException("group");
            return new PullConsumer(_client, subject, group, options ?? new ConsumeOptions());
        }

        /// Stops every subscription and pull consumer of this provider.
        public void Close(TimeSpan timeout) { _client.Close(timeout); }

        public void Dispose()
        {
            try { _client.Close(TimeSpan.FromSeconds(10)); }
            catch (QmqException) { }
            catch (ObjectDisposedException) { }
            _client.Dispose();
        }
    }

    /// A listener subscription (QmqSubscription). The Received handlers run on library
    /// blocking-pool threads, at most ConsumeOptions.Concurrency at once; they may block.
    public sealed unsafe class MessageSubscriber : IDisposable
    {
        private readonly Client _client;
        private readonly string _subject, _group;
        private readonly ConsumeOptions _options;
        private readonly SubscriptionHandle _handle = new SubscriptionHandle();
        private readonly object _lock = new object();
        private bool _started;

        // Static delegates: alive for the whole process, so the native side can always call
        // them; per-subscription state travels as a GCHandle freed by FreeUserData (exactly once,
        // after the last handler call).
        private static readonly QmqMessageHandler Handler = OnMessage;
        private static readonly QmqFreeUserData FreeUserData = OnFree;

        public event MessageListener Received;

        public string Subject { get { return _subject; } }
        public string Group { get { return _group; } }

        internal MessageSubscriber(Client client, string subject, string group, ConsumeOptions options)
        {
            _client = client; _subject = subject; _group = group; _options = options;
        }

        /// Starts consuming. Throws QmqException for a bad subject/group/options or a closed
        /// provider; InvalidOperationException if already started.
        public void Start()
        {
            lock (_lock)
            {
                if (_started) throw new InvalidOperationException("already started");
                byte[] s = Native.Utf8(_subject), g = Native.Utf8(_group);
                IntPtr[] allocs;
                var o = _options.ToNative(out allocs);
                GCHandle gh = GCHandle.Alloc(this);
                IntPtr c = IntPtr.Zero, raw, err;
                try
                {
                    c = _client.Handle.Enter();
                    try
                    {
                        fixed (byte* ps = s)
                        fixed (byte* pg = g)
                            err = Native.qmq_consumer_subscribe(c, ps, Native.Len(s), pg, Native.Len(g), ref o,
                                Handler, GCHandle.ToIntPtr(gh), FreeUserData, out raw);
                    }
                    finally { _client.Handle.Exit(); }
                }
                catch { gh.Free(); ConsumeOptions.Free(allocs); throw; }
                ConsumeOptions.Free(allocs);
                if (err != IntPtr.Zero) { gh.Free(); throw Native.TakeError(err); }
                _handle.Set(raw);
                _started = true;
            }
        }

        private static int OnMessage(IntPtr userData, IntPtr delivered)
        {
            try
            {
                var self = (MessageSubscriber)GCHandle.FromIntPtr(userData).Target;
                var handlers = self.Received;
                if (handlers == null) return 1; // nobody listening: retry later
                handlers(new ReceivedMessage(delivered));
                return 0;
            }
            catch (Exception)
            {
                return 1;
            }
        }

        private static void OnFree(IntPtr userData)
        {
            try { GCHandle.FromIntPtr(userData).Free(); } catch (Exception) { }
        }

        /// Stops gracefully: no more deliveries, running handlers finish and are acked. Throws
        /// QmqException(Timeout) if not stopped in time, (BlockingInCallback) from a handler.
        public void Stop(TimeSpan timeout)
        {
            lock (_lock) { if (!_started) return; }
            IntPtr p = _handle.Enter();
            IntPtr err;
            try { err = Native.qmq_subscription_stop(p, Native.Millis(timeout)); }
            finally { _handle.Exit(); }
            Native.Check(err);
        }

        /// Frees the subscription, stopping it without waiting.
        public void Dispose() { _handle.Dispose(); }
    }

    /// A pull consumer (QmqPullConsumer): Pull returns owned messages to Ack/Nack and dispose.
    public sealed unsafe class PullConsumer : IDisposable
    {
        private readonly PullConsumerHandle _handle = new PullConsumerHandle();

        internal PullConsumer(Client client, string subject, string group, ConsumeOptions options)
        {
            byte[] s = Native.Utf8(subject), g = Native.Utf8(group);
            IntPtr[] allocs;
            var o = options.ToNative(out allocs);
            IntPtr raw, err;
            try
            {
                IntPtr c = client.Handle.Enter();
                try
                {
                    fixed (byte* ps = s)
                    fixed (byte* pg = g)
                        err = Native.qmq_pull_consumer_new(c, ps, Native.Len(s), pg, Native.Len(g), ref o, out raw);
                }
                finally { client.Handle.Exit(); }
            }
            finally { ConsumeOptions.Free(allocs); }
            Native.Check(err);
            _handle.Set(raw);
        }

        /// Waits until `max` messages arrived or `timeout` passed; returns what arrived (maybe
        /// none). Throws QmqException(Closed) after Close. Blocks: never call from a handler.
        public IList<PulledMessage> Pull(int max, TimeSpan timeout)
        {
            if (max <= 0) throw new ArgumentOutOfRangeException("max");
            var ptrs = new IntPtr[max];
            var list = new List<PulledMessage>();
            IntPtr p = _handle.Enter();
            try
            {
                UIntPtr n;
                IntPtr err;
                fixed (IntPtr* pp = ptrs)
                    err = Native.qmq_pull_consumer_pull(p, pp, (UIntPtr)(ulong)max, Native.Millis(timeout), out n);
                Native.Check(err);
                int count = (int)n.ToUInt64();
                var handles = new DeliveredHandle[count];
                for (int i = 0; i < count; i++) { handles[i] = new DeliveredHandle(); handles[i].Set(ptrs[i]); }
                try
                {
                    for (int i = 0; i < count; i++) list.Add(new PulledMessage(handles[i]));
                }
                catch
                {
                    // not acked: freeing them makes them count as failed (retried later)
                    foreach (var h in handles) h.Dispose();
                    throw;
                }
            }
            finally { _handle.Exit(); }
            return list;
        }

        public IList<PulledMessage> Pull(int max) { return Pull(max, TimeSpan.FromSeconds(5)); }

        /// Stops pulling and sends pending acks; unacked messages are redelivered later.
        public void Close()
        {
            IntPtr p = _handle.Enter();
            IntPtr err;
            try { err = Native.qmq_pull_consumer_close(p); }
            finally { _handle.Exit(); }
            Native.Check(err);
        }

        public void Dispose() { _handle.Dispose(); }
    }

    /// A pulled message: Ack() or Nack(reason) once, then Dispose (a disposed, unacked message
    /// counts as failed and is retried).
    public sealed unsafe class PulledMessage : ReceivedMessage, IDisposable
    {
        private readonly DeliveredHandle _handle;

        internal PulledMessage(DeliveredHandle h) : base(h.DangerousGetHandle()) { _handle = h; }

        public void Ack() { Complete(true, null); }

        public void Nack(string reason) { Complete(false, reason); }

        private void Complete(bool success, string reason)
        {
            byte[] r = Native.Utf8(reason);
            IntPtr p = _handle.Enter();
            IntPtr err;
            try { fixed (byte* pr = r) err = Native.qmq_delivered_ack(p, success, pr, Native.Len(r)); }
            finally { _handle.Exit(); }
            Native.Check(err);
        }

        public void Dispose() { _handle.Dispose(); }
    }
}
