using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Qmq
{
    public enum TagType { None = 0, Or = 1, And = 2 }

    /// How a subscription or pull consumer consumes (QmqConsumeOptions).
    public sealed class ConsumeOptions
    {
        public IList<string> Tags = new List<string>();
        public TagType TagType = TagType.Or;
        public bool IsBroadcast;
        public bool IsAtMostOnce;
        /// 0 = the client default (32).
        public int MaxRetry;
        /// Listener only: handlers running at once; 0 = the default (8).
        public int Concurrency;

        /// Builds the native struct; the tag strings live in unmanaged memory released by
        /// <see cref="Free"/> after the call (the library copies them).
        internal QmqConsumeOptionsNative ToNative(out IntPtr[] allocations)
        {
            var o = Native.qmq_consume_options_default();
            var allocs = new List<IntPtr>();
            int n = Tags == null ? 0 : Tags.Count;
            if (n > 0)
            {
                int sz = Marshal.SizeOf(typeof(QmqStr));
                IntPtr arr = Marshal.AllocHGlobal(sz * n);
                allocs.Add(arr);
                for (int i = 0; i < n; i++)
                {
                    byte[] b = Native.Utf8(Tags[i]);
                    IntPtr p = Marshal.AllocHGlobal(Math.Max(1, b.Length));
                    allocs.Add(p);
                    Marshal.Copy(b, 0, p, b.Length);
                    Marshal.StructureToPtr(new QmqStr { Ptr = p, Len = Native.Len(b) }, arr + i * sz, false);
                }
                o.Tags = arr;
                o.TagsLen = (UIntPtr)(ulong)n;
            }
            o.TagType = (int)TagType;
            o.Broadcast = (byte)(IsBroadcast ? 1 : 0);
            o.AtMostOnce = (byte)(IsAtMostOnce ? 1 : 0);
            if (MaxRetry < 0 || Concurrency < 0) throw new ArgumentOutOfRangeException("MaxRetry/Concurrency");
            o.MaxRetry = (uint)MaxRetry;
            o.Concurrency = (uint)Concurrency;
            allocations = allocs.ToArray();
            return o;
        }

        internal static void Free(IntPtr[] allocations)
        {
            if (allocations == null) return;
            foreach (var p in allocations) Marshal.FreeHGlobal(p);
        }
    }
}
