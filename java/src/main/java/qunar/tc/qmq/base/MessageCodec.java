package qunar.tc.qmq.base;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Internal: messages as one {@code byte[]} each way across JNI (one copy instead of a JNI
 * call per field). The layout is documented in the native library's {@code message.rs}:
 * big-endian, strings as a u32 byte length plus UTF-8.
 */
public final class MessageCodec {
    private MessageCodec() {
    }

    /**
     * Encodes a message being sent.
     *
     * @param m the message
     * @return its bytes
     */
    public static byte[] encode(BaseMessage m) {
        List<byte[]> parts = new ArrayList<>(8 + 2 * m.getProperties().size());
        int size = 8 + 8 + 4 + 12;
        byte[] id = utf8(m.getMessageId());
        byte[] subject = utf8(m.getSubject());
        size += 8 + id.length + subject.length;
        Set<String> tags = m.tagSet();
        for (String t : tags) {
            byte[] b = utf8(t);
            parts.add(b);
            size += 4 + b.length;
        }
        size += add(parts, m.getProperties());
        size += add(parts, m.getLargeStrings());
        ByteBuffer buf = ByteBuffer.allocate(size);
        str(buf, id);
        str(buf, subject);
        buf.putLong(m.getCreatedMillis());
        buf.putLong(m.getScheduleMillis());
        buf.putInt(m.getLocalMaxRetryNum());
        int i = 0;
        buf.putInt(tags.size());
        for (int n = 0; n < tags.size(); n++) {
            str(buf, parts.get(i++));
        }
        buf.putInt(m.getProperties().size());
        for (int n = 0; n < 2 * m.getProperties().size(); n++) {
            str(buf, parts.get(i++));
        }
        buf.putInt(m.getLargeStrings().size());
        for (int n = 0; n < 2 * m.getLargeStrings().size(); n++) {
            str(buf, parts.get(i++));
        }
        return buf.array();
    }

    private static int add(List<byte[]> parts, Map<String, String> map) {
        int size = 0;
        for (Map.Entry<String, String> e : map.entrySet()) {
            byte[] k = utf8(e.getKey());
            byte[] v = utf8(e.getValue());
            parts.add(k);
            parts.add(v);
            size += 8 + k.length + v.length;
        }
        return size;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void str(ByteBuffer buf, byte[] b) {
        buf.putInt(b.length);
        buf.put(b);
    }

    /**
     * Decodes pulled messages; message {@code i} owns ack handle {@code acks[i]}.
     *
     * @param bytes the native encoding
     * @param acks  the ack handles
     * @return the messages
     */
    public static List<BaseMessage> decodePulled(byte[] bytes, long[] acks) {
        return decode(bytes, acks, 0, BaseMessage.AckKind.PULL);
    }

    /**
     * Decodes the one message handed to a listener.
     *
     * @param bytes      the native encoding
     * @param completion its completion handle
     * @return the message
     */
    public static BaseMessage decodeListener(byte[] bytes, long completion) {
        return decode(bytes, null, completion, BaseMessage.AckKind.LISTENER).get(0);
    }

    private static List<BaseMessage> decode(byte[] bytes, long[] acks, long completion,
            BaseMessage.AckKind kind) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        int count = buf.getInt();
        List<BaseMessage> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String subject = str(buf);
            String id = str(buf);
            long created = buf.getLong();
            int ntags = buf.getInt();
            Set<String> tags = new LinkedHashSet<>(Math.max(4, ntags * 2));
            for (int t = 0; t < ntags; t++) {
                tags.add(str(buf));
            }
            int nattrs = buf.getInt();
            Map<String, String> attrs = new LinkedHashMap<>(Math.max(4, nattrs * 2));
            for (int a = 0; a < nattrs; a++) {
                String k = str(buf);
                attrs.put(k, str(buf));
            }
            long handle = acks != null ? acks[i] : completion;
            out.add(new BaseMessage(id, subject, created, attrs, tags, kind, handle));
        }
        return out;
    }

    private static String str(ByteBuffer buf) {
        int n = buf.getInt();
        String s = new String(buf.array(), buf.position(), n, StandardCharsets.UTF_8);
        buf.position(buf.position() + n);
        return s;
    }
}
