using System;
using System.Runtime.InteropServices;

namespace Qmq
{
    /// Base of every native handle. ReleaseHandle only calls the library's `_free`, which never
    /// blocks and never calls back into managed code (design rule 16), so it is safe from a
    /// finalizer. Every native call goes through <see cref="Enter"/> / <see cref="Exit"/>
    /// (DangerousAddRef / DangerousRelease), which keeps the pointer alive for the whole call
    /// even if another thread disposes the owner meanwhile (design rule 5).
    internal abstract class QmqHandle : SafeHandle
    {
        protected QmqHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        internal void Set(IntPtr p) { SetHandle(p); }

        /// AddRef and return the raw pointer; throws ObjectDisposedException when closed.
        internal IntPtr Enter()
        {
            bool ok = false;
            DangerousAddRef(ref ok);
            if (!ok) throw new ObjectDisposedException(GetType().Name);
            return handle;
        }

        internal void Exit() { DangerousRelease(); }
    }

    internal sealed class ClientHandle : QmqHandle
    {
        protected override bool ReleaseHandle() { Native.qmq_client_free(handle); return true; }
    }

    internal sealed class MessageHandle : QmqHandle
    {
        protected override bool ReleaseHandle() { Native.qmq_message_free(handle); return true; }
    }

    internal sealed class PullConsumerHandle : QmqHandle
    {
        protected override bool ReleaseHandle() { Native.qmq_pull_consumer_free(handle); return true; }
    }

    internal sealed class SubscriptionHandle : QmqHandle
    {
        protected override bool ReleaseHandle() { Native.qmq_subscription_free(handle); return true; }
    }

    internal sealed class DeliveredHandle : QmqHandle
    {
        protected override bool ReleaseHandle() { Native.qmq_delivered_free(handle); return true; }
    }
}
