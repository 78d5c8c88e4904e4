using System;

namespace Qmq
{
    /// One native client (qmq_client_*), shared by a provider's operations.
    internal sealed unsafe class Client : IDisposable
    {
        internal readonly ClientHandle Handle = new ClientHandle();

        static Client()
        {
            uint v = Native.qmq_abi_version();
            if (v != Native.AbiVersion)
                throw new InvalidOperationException(string.Format(
                    "libqmq_ffi has ABI version {0}, this assembly needs {1}", v, Native.AbiVersion));
        }

        internal Client(string metaUrl, string appCode)
        {
            if (metaUrl == null) throw new ArgumentNullException("metaUrl");
            if (appCode == null) throw new ArgumentNullException("appCode");
            byte[] u = Native.Utf8(metaUrl), a = Native.Utf8(appCode);
            IntPtr raw;
            IntPtr err;
            fixed (byte* pu = u)
            fixed (byte* pa = a)
            {
                err = Native.qmq_client_new(pu, Native.Len(u), pa, Native.Len(a), out raw);
            }
            Native.Check(err);
            Handle.Set(raw);
        }

        /// Graceful close: waits up to `timeout` for pending sends. From a library thread (a
        /// callback) it cannot block, so the handle is then only freed.
        internal void Close(TimeSpan timeout)
        {
            if (Handle.IsClosed) return;
            IntPtr p = Handle.Enter();
            IntPtr err;
            try { err = Native.qmq_client_close(p, Native.Millis(timeout)); }
            finally { Handle.Exit(); }
            Native.Check(err);
        }

        public void Dispose() { Handle.Dispose(); }
    }
}
