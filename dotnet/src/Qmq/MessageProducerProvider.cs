using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Qmq
{
    /// The producer (QMQ .NET client API): generate messages, set properties, send them with
    /// onSuccess/onFailed callbacks or as a Task.
    ///
    /// Threads: outcomes are pulled in batches from a native completion queue by threads of our
    /// own (CompletionPump), never handled on a library thread. onSuccess/onFailed run there, and
    /// SendAsync tasks complete there with their continuations inline, in completion order; user
    /// code that blocks delays other completions only briefly (see CompletionPump). A send's
    /// token is a slot of a completion table (SendCompletions.cs), not a GCHandle. The client
    /// handle is AddRef'd from the send until its completion, so disposing the provider with
    /// sends in flight is safe.
    public sealed class MessageProducerProvider : IDisposable
    {
        private readonly Client _client;

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

        /// Sends `message`; exactly one of onSuccess / onFailed runs later (on the completion thread),
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
                try { err = Native.qmq_producer_send_queued(c, m, CompletionPump.Queue, (ulong)token.ToInt64()); }
                catch { SendTable.Take(token); message.Handle.Exit(); _client.Handle.Exit(); throw; }
                message.Handle.Exit();
                if (err == IntPtr.Zero)
                {
                    message.MarkSent();
                    return;
                }
                // Not accepted: this token will never complete.
                SendTable.Take(token);
                _client.Handle.Exit();
                var ex = Native.TakeError(err);
                if (ex.Code != QmqErrorCode.QueueFull) throw ex;
                if (deadline == DateTime.MinValue) deadline = DateTime.UtcNow + QueueFullTimeout;
                if (DateTime.UtcNow >= deadline) throw ex;
                if (++spins < 20) Thread.Yield(); else Thread.Sleep(1);
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
