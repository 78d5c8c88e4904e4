using System;

namespace Qmq
{
    /// Stable error codes of the C ABI (QmqErrorCode in qmq.h).
    public enum QmqErrorCode
    {
        Ok = 0,
        InvalidArgument = 1,
        InvalidUtf8 = 2,
        Closed = 3,
        Panic = 4,
        Config = 5,
        InvalidMessage = 6,
        QueueFull = 7,
        Timeout = 8,
        Network = 9,
        Rejected = 10,
        NoRoute = 11,
        SendFailed = 12,
        BlockingInCallback = 13,
        AlreadyAcked = 14,
        Runtime = 15,
        Idempotence = 16,
        LogSinkUnavailable = 17,
        Internal = 99,
    }

    /// An error reported by the native library: its code, message and whether trying again
    /// later may succeed.
    public class QmqException : Exception
    {
        public QmqErrorCode Code { get; private set; }
        public bool IsRetriable { get; private set; }

        public QmqException(QmqErrorCode code, string message, bool retriable)
            : base(string.Format("{0}: {1}", code, message))
        {
            Code = code;
            IsRetriable = retriable;
        }
    }
}
