// P/Invoke declarations matching include/qmq.h (QMQ_ABI_VERSION 1) exactly.
// size_t -> UIntPtr, pointers -> IntPtr / byte*, C bool -> I1. Handles are passed as IntPtr:
// the wrappers take them from a SafeHandle with DangerousAddRef/DangerousRelease around every
// call (see NativeHandles.cs), so a concurrent Dispose or a finalizer cannot free a handle
// while a native call (or an asynchronous send) still uses it.
using System;
using System.Runtime.InteropServices;

namespace Qmq
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct QmqStr
    {
        public IntPtr Ptr;
        public UIntPtr Len;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct QmqConsumeOptionsNative
    {
        public IntPtr Tags;        // const QmqStr *
        public UIntPtr TagsLen;
        public int TagType;
        public byte Broadcast;
        public byte AtMostOnce;
        public uint MaxRetry;
        public uint Concurrency;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct QmqLogRecordNative
    {
        public int Level;
        public IntPtr Target;
        public UIntPtr TargetLen;
        public IntPtr Message;
        public UIntPtr MessageLen;
    }

    /// QmqSendCompletion: one send's outcome, borrowed from the completion queue until its next
    /// qmq_completion_queue_next.
    [StructLayout(LayoutKind.Sequential)]
    internal struct QmqSendCompletionNative
    {
        public ulong Token;
        public IntPtr Error;        // const QmqError *, NULL on success
        public IntPtr MessageId;    // const char *
        public UIntPtr MessageIdLen;
        public IntPtr BrokerGroup;  // const char *
        public UIntPtr BrokerGroupLen;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int QmqMessageHandler(IntPtr userData, IntPtr message);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void QmqFreeUserData(IntPtr userData);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void QmqLogSink(IntPtr userData, IntPtr record);

    internal static unsafe class Native
    {
        private const string Lib = "qmq_ffi";
        public const uint AbiVersion = 2;

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern uint qmq_abi_version();

        // ---- client
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_client_new(byte* metaUrl, UIntPtr metaUrlLen, byte* appCode, UIntPtr appCodeLen, out IntPtr client);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_client_close(IntPtr client, ulong timeoutMs);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void qmq_client_free(IntPtr client);

        // ---- delivered
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_subject(IntPtr msg, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_id(IntPtr msg, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_get_property(IntPtr msg, byte* key, UIntPtr keyLen, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_property_count(IntPtr msg, out UIntPtr count);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_property_at(IntPtr msg, UIntPtr index, out IntPtr key, out UIntPtr keyLen, out IntPtr value, out UIntPtr valueLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_tags_count(IntPtr msg, out UIntPtr count);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_tags_get(IntPtr msg, UIntPtr index, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_times(IntPtr msg, out uint times);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_delivered_ack(IntPtr msg, [MarshalAs(UnmanagedType.I1)] bool success, byte* errorText, UIntPtr errorTextLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void qmq_delivered_free(IntPtr msg);

        // ---- errors
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int qmq_error_code(IntPtr err);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_error_message(IntPtr err, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.I1)]
        public static extern bool qmq_error_is_retriable(IntPtr err);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_error_clone(IntPtr err);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void qmq_error_free(IntPtr err);

        // ---- logs
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_set_log_sink(QmqLogSink sink, IntPtr userData, int minLevel);

        // ---- messages
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_new(IntPtr client, byte* subject, UIntPtr subjectLen, out IntPtr msg);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_set_property(IntPtr msg, byte* key, UIntPtr keyLen, byte* value, UIntPtr valueLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_set_large_string(IntPtr msg, byte* key, UIntPtr keyLen, byte* value, UIntPtr valueLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_get_property(IntPtr msg, byte* key, UIntPtr keyLen, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_add_tag(IntPtr msg, byte* tag, UIntPtr tagLen);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_tags_count(IntPtr msg, out UIntPtr count);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_tags_get(IntPtr msg, UIntPtr index, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_set_delay_ms(IntPtr msg, ulong delayMs);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_set_delay_until(IntPtr msg, long epochMs);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_subject(IntPtr msg, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_message_id(IntPtr msg, out IntPtr ptr, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void qmq_message_free(IntPtr msg);

        // ---- options
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern QmqConsumeOptionsNative qmq_consume_options_default();

        // ---- producer
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_producer_flush(IntPtr client, ulong timeoutMs);

        // ---- completion queues
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_completion_queue_new(out IntPtr queue);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void qmq_completion_queue_free(IntPtr queue);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_producer_send_queued(IntPtr client, IntPtr msg, IntPtr queue, ulong token);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_completion_queue_next(IntPtr queue, QmqSendCompletionNative* batch, UIntPtr cap, ulong timeoutMs, out UIntPtr count);

        // ---- pull consumer
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_pull_consumer_new(IntPtr client, byte* subject, UIntPtr subjectLen, byte* group, UIntPtr groupLen, ref QmqConsumeOptionsNative options, out IntPtr pc);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_pull_consumer_pull(IntPtr pc, IntPtr* outMessages, UIntPtr max, ulong timeoutMs, out UIntPtr count);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_pull_consumer_close(IntPtr pc);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void qmq_pull_consumer_free(IntPtr pc);

        // ---- subscription
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_consumer_subscribe(IntPtr client, byte* subject, UIntPtr subjectLen, byte* group, UIntPtr groupLen, ref QmqConsumeOptionsNative options, QmqMessageHandler handler, IntPtr userData, QmqFreeUserData freeUserData, out IntPtr sub);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr qmq_subscription_stop(IntPtr sub, ulong timeoutMs);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void qmq_subscription_free(IntPtr sub);

        // ---- helpers
        public static string Str(IntPtr ptr, UIntPtr len)
        {
            int n = checked((int)len.ToUInt64());
            if (ptr == IntPtr.Zero || n == 0) return string.Empty;
            return System.Text.Encoding.UTF8.GetString((byte*)ptr, n);
        }

        public static byte[] Utf8(string s)
        {
            if (s == null) return EmptyBytes;
            return System.Text.Encoding.UTF8.GetBytes(s);
        }

        public static readonly byte[] EmptyBytes = new byte[0];

        public static UIntPtr Len(byte[] b) { return (UIntPtr)(ulong)b.Length; }

        /// Throws a QmqException for a non-NULL owned error (and frees it).
        public static void Check(IntPtr err)
        {
            if (err == IntPtr.Zero) return;
            throw TakeError(err);
        }

        /// Builds the exception from an owned error and frees it.
        public static QmqException TakeError(IntPtr err)
        {
            try { return FromBorrowed(err); }
            finally { qmq_error_free(err); }
        }

        /// Builds the exception from a borrowed error (a callback's), copying everything.
        public static QmqException FromBorrowed(IntPtr err)
        {
            int code = qmq_error_code(err);
            UIntPtr len;
            IntPtr msg = qmq_error_message(err, out len);
            bool retriable = qmq_error_is_retriable(err);
            return new QmqException((QmqErrorCode)code, Str(msg, len), retriable);
        }

        public static ulong Millis(TimeSpan t)
        {
            if (t < TimeSpan.Zero) return 0;
            if (t.TotalMilliseconds >= ulong.MaxValue / 2) return ulong.MaxValue / 2;
            return (ulong)t.TotalMilliseconds;
        }
    }
}
