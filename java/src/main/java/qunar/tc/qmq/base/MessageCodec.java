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
        Set<String> tags = m.tagSet();
        Map<String, String> props = m.propertyMap();
        Map<String, String> large = m.largeStringMap();
        int n = tags.size() + 2 * props.size() + 2 * large.size();
        byte[][] parts = new byte[n][];
        byte[] id = utf8(m.getMessageId());
        byte[] subject = utf8(m.getSubject());
        int size = 8 + id.length + subject.length + 8 + 8 + 4 + 12 + 4 * n;
        int i = 0;
        for (String t : tags) {
            size += (parts[i++] = utf8(t)).length;
        }
        for (Map.Entry<String, String> e : props.entrySet()) {
            size += (parts[i++] = utf8(e.getKey())).length;
            size += (parts[i++] = utf8(e.getValue())).length;
        }
        for (Map.Entry<String, String> e : large.entrySet()) {
            size += (parts[i++] = utf8(e.getKey())).length;
            size += (parts[i++] = utf8(e.getValue())).length;
        }
        ByteBuffer buf = ByteBuffer.allocate(size);
        str(buf, id);
        str(buf, subject);
        buf.putLong(m.getCreatedMillis());
        buf.putLong(m.getScheduleMillis());
        buf.putInt(m.getLocalMaxRetryNum());
        i = 0;
        buf.putInt(tags.size());
        for (int k = 0; k < tags.size(); k++) {
            str(buf, parts[i++]);
        }
        buf.putInt(props.size());
        for (int k = 0; k < 2 * props.size(); k++) {
            str(buf, parts[i++]);
        }
        buf.putInt(large.size());
        for (int k = 0; k < 2 * large.size(); k++) {
            str(buf, parts[i++]);
        }
        return buf.array();
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
        return decode(bytes, acks, BaseMessage.AckKind.PULL);
    }

    /**
     * Decodes the messages pulled for a listener; message {@code i} owns completion handle
     * {@code completions[i]}.
     *
     * @param bytes       the native encoding
     * @param completions the completion handles
     * @return the messages
     */
    public static List<BaseMessage> decodeListenerBatch(byte[] bytes, long[] completions) {
        return decode(bytes, completions, BaseMessage.AckKind.LISTENER);
    }

    private static List<BaseMessage> decode(byte[] bytes, long[] handles, BaseMessage.AckKind kind) {
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
            out.add(new BaseMessage(id, subject, created, attrs, tags, kind, handles[i]));
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
