using System;
using System.Collections.Generic;

namespace Qmq
{
    /// A delivered message: a managed snapshot of subject, id, attempt, properties and tags,
    /// copied while the native message was valid, so it may be kept after the handler returns.
    public class ReceivedMessage
    {
        public string Subject { get; private set; }
        public string MessageId { get; private set; }
        /// Delivery attempt (1 = first delivery).
        public int Times { get; private set; }
        public IDictionary<string, string> Properties { get; private set; }
        public IList<string> Tags { get; private set; }

        public string GetStringProperty(string key)
        {
            string v;
            return Properties.TryGetValue(key, out v) ? v : null;
        }

        public int GetIntProperty(string key) { return int.Parse(GetStringProperty(key), System.Globalization.CultureInfo.InvariantCulture); }
        public long GetLongProperty(string key) { return long.Parse(GetStringProperty(key), System.Globalization.CultureInfo.InvariantCulture); }

        /// Copies everything from a live QmqDelivered pointer (the caller keeps it alive).
        internal ReceivedMessage(IntPtr d)
        {
            IntPtr p; UIntPtr l;
            Native.Check(Native.qmq_delivered_subject(d, out p, out l));
            Subject = Native.Str(p, l);
            Native.Check(Native.qmq_delivered_id(d, out p, out l));
            MessageId = Native.Str(p, l);
            uint times;
            Native.Check(Native.qmq_delivered_times(d, out times));
            Times = (int)times;
            UIntPtr n;
            Native.Check(Native.qmq_delivered_property_count(d, out n));
            var props = new Dictionary<string, string>((int)n.ToUInt64());
            for (ulong i = 0; i < n.ToUInt64(); i++)
            {
                IntPtr kp, vp; UIntPtr kl, vl;
                Native.Check(Native.qmq_delivered_property_at(d, (UIntPtr)i, out kp, out kl, out vp, out vl));
                props[Native.Str(kp, kl)] = Native.Str(vp, vl);
            }
            Properties = props;
            Native.Check(Native.qmq_delivered_tags_count(d, out n));
            var tags = new List<string>();
            for (ulong i = 0; i < n.ToUInt64(); i++)
            {
                Native.Check(Native.qmq_delivered_tags_get(d, (UIntPtr)i, out p, out l));
                tags.Add(Native.Str(p, l));
            }
            Tags = tags;
        }
    }
}
