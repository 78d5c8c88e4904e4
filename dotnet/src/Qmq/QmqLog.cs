using System;
using System.Runtime.InteropServices;

namespace Qmq
{
    public enum QmqLogLevel { Error = 1, Warn = 2, Info = 3, Debug = 4, Trace = 5 }

    /// Forwards the native library's logs (qmq_set_log_sink) to a managed callback. The
    /// callback runs on library threads, must be quick and must not block; exceptions it
    /// throws are swallowed.
    public static class QmqLog
    {
        private static readonly object Lock = new object();
        // Static delegate: stays alive for the process, whatever sink is registered.
        private static readonly QmqLogSink SinkThunk = OnLog;
        private static volatile Action<QmqLogLevel, string, string> _sink;

        /// Registers `sink(level, target, message)` for `minLevel` and more severe; null stops
        /// forwarding. Throws QmqException(LogSinkUnavailable) if another global tracing
        /// subscriber owns the process.
        public static void SetSink(Action<QmqLogLevel, string, string> sink, QmqLogLevel minLevel = QmqLogLevel.Info)
        {
            lock (Lock)
            {
                if (sink == null)
                {
                    Native.Check(Native.qmq_set_log_sink(null, IntPtr.Zero, (int)minLevel));
                    _sink = null;
                    return;
                }
                _sink = sink;
                Native.Check(Native.qmq_set_log_sink(SinkThunk, IntPtr.Zero, (int)minLevel));
            }
        }

        private static unsafe void OnLog(IntPtr userData, IntPtr record)
        {
            try
            {
                var s = _sink;
                if (s == null || record == IntPtr.Zero) return;
                var r = (QmqLogRecordNative*)record;
                s((QmqLogLevel)r->Level, Native.Str(r->Target, r->TargetLen), Native.Str(r->Message, r->MessageLen));
            }
            catch (Exception) { }
        }
    }
}
