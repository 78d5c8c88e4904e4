using System;
using System.Collections.Generic;
using System.Globalization;

namespace Qmq
{
    /// A message being built for sending (QmqMessage). Made by
    /// <see cref="MessageProducerProvider.GenerateMessage"/>; not thread-safe (one owner).
    /// Once sent, its content belongs to the producer: setters throw, and the native handle is
    /// freed at once.
    public sealed unsafe class Message : IDisposable
    {
        internal readonly MessageHandle Handle = new MessageHandle();
        private readonly string _subject;
        private string _messageId;
        private volatile bool _sent;

        internal Message(Client client, string subject)
        {
            if (subject == null) throw new ArgumentNullException("subject");
            IntPtr raw;
            IntPtr err;
            IntPtr c = client.Handle.Enter();
            try
            {
                if (subject.Length <= 256)
                {
                    // Short (the usual case): encode on the stack, no garbage per message.
                    byte* buf = stackalloc byte[3 * 256];
                    int n;
                    fixed (char* cs = subject) n = System.Text.Encoding.UTF8.GetBytes(cs, subject.Length, buf, 3 * 256);
                    err = Native.qmq_message_new(c, buf, (UIntPtr)(ulong)n, out raw);
                }
                else
                {
                    byte[] s = Native.Utf8(subject);
                    fixed (byte* ps = s) err = Native.qmq_message_new(c, ps, Native.Len(s), out raw);
                }
            }
            finally { client.Handle.Exit(); }
            Native.Check(err);
            Handle.Set(raw);
            _subject = subject;
        }

        public string Subject { get { return _subject; } }

        /// The QMQ message id. Read from the native message on first use; a message sent before
        /// it was read gets it from the send result (so after a failed send it is null unless it
        /// was read before sending).
        public string MessageId
        {
            get
            {
                if (_messageId != null || _sent) return _messageId;
                IntPtr p = Handle.Enter();
                try
                {
                    IntPtr ip; UIntPtr il;
                    Native.Check(Native.qmq_message_id(p, out ip, out il));
                    _messageId = Native.Str(ip, il);
                }
                finally { Handle.Exit(); }
                return _messageId;
            }
            internal set { if (_messageId == null) _messageId = value; }
        }

        internal bool HasMessageId { get { return _messageId != null; } }

        /// Set after a successful send: the broker group that stored the message.
        public string BrokerGroup { get; internal set; }
        /// Set after a failed send: why it failed.
        public QmqException SendError { get; internal set; }

        internal bool IsSent { get { return _sent; } }

        internal void MarkSent()
        {
            _sent = true;
            Handle.Dispose(); // content moved into the producer; the shell is no longer needed
        }

        private IntPtr EnterUnsent()
        {
            if (_sent) throw new InvalidOperationException("the message was already sent");
            return Handle.Enter();
        }

        public void SetProperty(string key, string value)
        {
            if (key == null) throw new ArgumentNullException("key");
            if (value == null) throw new ArgumentNullException("value");
            IntPtr err;
            if (key.Length + value.Length <= 256)
            {
                // Small (the usual case): encode on the stack, no garbage.
                byte* buf = stackalloc byte[3 * 256];
                int kl, vl;
                fixed (char* ck = key) kl = System.Text.Encoding.UTF8.GetBytes(ck, key.Length, buf, 3 * 256);
                fixed (char* cv = value) vl = System.Text.Encoding.UTF8.GetBytes(cv, value.Length, buf + kl, 3 * 256 - kl);
                IntPtr p = EnterUnsent();
                try { err = Native.qmq_message_set_property(p, buf, (UIntPtr)(ulong)kl, buf + kl, (UIntPtr)(ulong)vl); }
                finally { Handle.Exit(); }
            }
            else
            {
                byte[] k = Native.Utf8(key), v = Native.Utf8(value);
                IntPtr p = EnterUnsent();
                try
                {
                    fixed (byte* pk = k)
                    fixed (byte* pv = v)
                        err = Native.qmq_message_set_property(p, pk, Native.Len(k), pv, Native.Len(v));
                }
                finally { Handle.Exit(); }
            }
            Native.Check(err);
        }

        public void SetProperty(string key, int value) { SetProperty(key, value.ToString(CultureInfo.InvariantCulture)); }
        public void SetProperty(string key, long value) { SetProperty(key, value.ToString(CultureInfo.InvariantCulture)); }
        public void SetProperty(string key, bool value) { SetProperty(key, value ? "true" : "false"); }
        public void SetProperty(string key, double value) { SetProperty(key, value.ToString("R", CultureInfo.InvariantCulture)); }
        /// Dates travel as milliseconds since the Unix epoch, as in the Java client.
        public void SetProperty(string key, DateTime value) { SetProperty(key, ToEpochMs(value)); }

        /// A value of any length (QMQ "large string": split into key#partN properties).
        public void SetLargeString(string key, string value)
        {
            if (key == null) throw new ArgumentNullException("key");
            if (value == null) throw new ArgumentNullException("value");
            byte[] k = Native.Utf8(key), v = Native.Utf8(value);
            IntPtr p = EnterUnsent();
            IntPtr err;
            try
            {
                fixed (byte* pk = k)
                fixed (byte* pv = v)
                    err = Native.qmq_message_set_large_string(p, pk, Native.Len(k), pv, Native.Len(v));
            }
            finally { Handle.Exit(); }
            Native.Check(err);
        }

        /// The property's value, or null if absent.
        public string GetStringProperty(string key)
        {
            if (key == null) throw new ArgumentNullException("key");
            byte[] k = Native.Utf8(key);
            IntPtr p = EnterUnsent();
            IntPtr err, vp; UIntPtr vl;
            try
            {
                fixed (byte* pk = k) err = Native.qmq_message_get_property(p, pk, Native.Len(k), out vp, out vl);
                Native.Check(err);
                return vp == IntPtr.Zero ? null : Native.Str(vp, vl);
            }
            finally { Handle.Exit(); }
        }

        public void AddTag(string tag)
        {
            if (tag == null) throw new ArgumentNullException("tag");
            byte[] t = Native.Utf8(tag);
            IntPtr p = EnterUnsent();
            IntPtr err;
            try { fixed (byte* pt = t) err = Native.qmq_message_add_tag(p, pt, Native.Len(t)); }
            finally { Handle.Exit(); }
            Native.Check(err);
        }

        public IList<string> GetTags()
        {
            IntPtr p = EnterUnsent();
            try
            {
                UIntPtr n;
                Native.Check(Native.qmq_message_tags_count(p, out n));
                var list = new List<string>();
                for (ulong i = 0; i < n.ToUInt64(); i++)
                {
                    IntPtr tp; UIntPtr tl;
                    Native.Check(Native.qmq_message_tags_get(p, (UIntPtr)i, out tp, out tl));
                    list.Add(Native.Str(tp, tl));
                }
                return list;
            }
            finally { Handle.Exit(); }
        }

        /// Delivers the message `delay` from now.
        public void SetDelayTime(TimeSpan delay)
        {
            IntPtr p = EnterUnsent();
            IntPtr err;
            try { err = Native.qmq_message_set_delay_ms(p, Native.Millis(delay)); }
            finally { Handle.Exit(); }
            Native.Check(err);
        }

        /// Delivers the message at `when`.
        public void SetDelayTime(DateTime when)
        {
            IntPtr p = EnterUnsent();
            IntPtr err;
            try { err = Native.qmq_message_set_delay_until(p, ToEpochMs(when)); }
            finally { Handle.Exit(); }
            Native.Check(err);
        }

        internal static long ToEpochMs(DateTime t)
        {
            return (long)(t.ToUniversalTime() - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalMilliseconds;
        }

        public void Dispose() { Handle.Dispose(); }
    }
}
