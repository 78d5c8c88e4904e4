using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Qmq
{
    /// The producer (QMQ .NET client API): generate messages, set properties, send them with
    /// onSuccess/onFailed callbacks or as a Task.
    ///
    /// Threads: completions arrive on a native library thread, which must not block, so the
    /// onSuccess/onFailed callbacks are queued to one dedicated callback thread (in completion
    /// order; a slow callback delays later ones, so hand long work off) and SendAsync tasks are
    /// completed in batches off the library threads, continuations inline, by TaskCompleter
    /// (see there for blocking continuations and a starved pool). A send's `user_data` is a
    /// token into a completion table (SendCompletions.cs), resolved by one static callback
    /// delegate, not a GCHandle. The client handle is AddRef'd from the send until its
    /// completion, so disposing the provider with sends in flight is safe.
    public sealed class MessageProducerProvider : IDisposable
    {
        private readonly Client _client;

        // Static: the native side may call it until the last completion has run, whatever
        // happens to the provider object.
        private static readonly QmqSendCallback SendCallback = OnSendComplete;

        /// How long Send/SendAsync wait (and retry) when the producer queue is full before
        /// throwing QmqException(QueueFull). Zero: throw at once.
        public TimeSpan QueueFullTimeout { get; set; }

        public MessageProducerProvider(string metaUrl, string appCode)
        {
            _client = new Client(metaUrl, appCode);
            QueueFullTimeout = TimeSpan.FromSeconds(30);
        }

        /// Reads the meta URL from QMQ_META_URL.
        public MessageProducerProvider(string appCode) : this(Environment.GetEnvironmentVariable("QMQ_META_URL"), appCode) { }

        public Message GenerateMessage(string subject)
        {
            return new Message(_client, subject);
        }

        /// Sends `message`; exactly one of onSuccess / onFailed runs later (on the callback thread),
        /// with <see cref="Message.BrokerGroup"/> or <see cref="Message.SendError"/> set.
        /// Throws QmqException (and calls neither) if the message is not accepted.
        public void Send(Message message, Action<Message> onSuccess = null, Action<Message> onFailed = null)
        {
            CheckSendable(message);
            StartSend(message, new CallbackSend(message, _client.Handle, onSuccess, onFailed));
        }

        /// Sends `message`; the Task completes with the message when the broker stored it, or
        /// fails with a QmqException (also when the message is not accepted: a closed producer,
        /// a full queue past QueueFullTimeout). Continuations never run on a library thread.
        public Task<Message> SendAsync(Message message)
        {
            var send = new TaskSend(message, _client.Handle);
            try
            {
                CheckSendable(message);
                StartSend(message, send);
            }
            catch (Exception e) { send.TrySetException(e); }
            return send.Task;
        }

        private static void CheckSendable(Message message)
        {
            if (message == null) throw new ArgumentNullException("message");
            if (message.IsSent) throw new InvalidOperationException("the message was already sent");
        }

        private void StartSend(Message message, IPendingSend send)
        {
            DateTime deadline = DateTime.MinValue;
            int spins = 0;
            while (true)
            {
                IntPtr c = _client.Handle.Enter(); // released by the completion (or below on error)
                IntPtr m;
                try { m = message.Handle.Enter(); }
                catch { _client.Handle.Exit(); throw; }
                IntPtr token = SendTable.Add(send);
                IntPtr err;
                try { err = Native.qmq_producer_send(c, m, token, SendCallback); }
                catch { SendTable.Take(token); message.Handle.Exit(); _client.Handle.Exit(); throw; }
                message.Handle.Exit();
                if (err == IntPtr.Zero)
                {
                    message.MarkSent();
                    return;
                }
                // Not accepted: the callback will never run for this token.
                SendTable.Take(token);
                _client.Handle.Exit();
                var ex = Native.TakeError(err);
                if (ex.Code != QmqErrorCode.QueueFull) throw ex;
                if (deadline == DateTime.MinValue) deadline = DateTime.UtcNow + QueueFullTimeout;
                if (DateTime.UtcNow >= deadline) throw ex;
                if (++spins < 20) Thread.Yield(); else Thread.Sleep(1);
            }
        }

        private static void OnSendComplete(IntPtr userData, IntPtr result, IntPtr error)
        {
            // Runs on a library thread: never throw, never block.
            IPendingSend s = null;
            try
            {
                s = SendTable.Take(userData);
                if (s == null) { SendTable.CountStray(); return; } // nothing to release
                Exception failure = null;
                try
                {
                    if (result != IntPtr.Zero)
                    {
                        Message msg = s.Message;
                        IntPtr p; UIntPtr l;
                        IntPtr e = Native.qmq_send_result_broker_group(result, out p, out l);
                        if (e == IntPtr.Zero) msg.BrokerGroup = GroupNames.Get(p, l); else Native.qmq_error_free(e);
                        if (!msg.HasMessageId)
                        {
                            e = Native.qmq_send_result_message_id(result, out p, out l);
                            if (e == IntPtr.Zero) msg.MessageId = Native.Str(p, l); else Native.qmq_error_free(e);
                        }
                    }
                    else
                    {
                        var ex = error != IntPtr.Zero ? Native.FromBorrowed(error)
                            : new QmqException(QmqErrorCode.Internal, "send completed without result", false);
                        s.Message.SendError = ex;
                        failure = ex;
                    }
                }
                catch (Exception e) { failure = e; }
                s.Completed(failure);
            }
            catch (Exception) { }
            finally
            {
                // The AddRef taken by StartSend: after this the client may be freed (from here,
                // if the provider was disposed meanwhile; qmq_client_free never blocks).
                ClientHandle c = s != null ? s.TakeClient() : null;
                if (c != null) { try { c.Exit(); } catch (Exception) { } }
            }
        }

        /// Broker group names repeat: decode each distinct one once (per thread).
        private static class GroupNames
        {
            [ThreadStatic] private static byte[] _lastBytes;
            [ThreadStatic] private static string _last;

            internal static unsafe string Get(IntPtr p, UIntPtr len)
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

        /// Waits until every accepted message has completed. Throws QmqException(Timeout).
        public void Flush(TimeSpan timeout)
        {
            IntPtr c = _client.Handle.Enter();
            IntPtr err;
            try { err = Native.qmq_producer_flush(c, Native.Millis(timeout)); }
            finally { _client.Handle.Exit(); }
            Native.Check(err);
        }

        /// Stops accepting messages and waits up to `timeout` for pending sends; later
        /// GenerateMessage/Send fail with QmqException(Closed). Dispose still frees.
        public void Close(TimeSpan timeout) { _client.Close(timeout); }

        /// Closes (waiting up to 10 s for pending sends) and frees the native client.
        public void Dispose()
        {
            try { _client.Close(TimeSpan.FromSeconds(10)); }
            catch (QmqException) { }
            catch (ObjectDisposedException) { }
            _client.Dispose();
        }
    }
}
