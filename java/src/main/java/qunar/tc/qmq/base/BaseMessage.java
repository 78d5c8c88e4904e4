package qunar.tc.qmq.base;

import java.util.Collections;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import qunar.tc.qmq.Message;
import qunar.tc.qmq.internal.Native;

/**
 * The one {@link Message} implementation: a plain Java object on the producer side (the
 * native library builds the real message when it is sent), and on the consumer side a
 * received message that owns the duty to complete it once (a native ack handle).
 */
public class BaseMessage implements Message {
    /** Reserved attribute: delivery attempt. */
    public static final String TIMES = "qmq_times";
    /** Reserved attribute: retry limit. */
    public static final String MAX_RETRY_NUM = "qmq_maxRetryNum";
    /** Reserved attribute: delivery time of a delay message. */
    public static final String SCHEDULE_RECEIVE_TIME = "qmq_scheduleReceiveTime";

    /** How a received message is completed. */
    enum AckKind {
        NONE, PULL, LISTENER
    }

    private final String messageId;
    private final String subject;
    private final long createdMillis;
    private final Map<String, String> attrs;
    private final Map<String, String> largeStrings;
    private final Set<String> tags;
    private long scheduleMillis = -1;
    private int maxRetryNum = -1;

    private final AckKind ackKind;
    private final AtomicLong ackHandle;
    private volatile boolean autoAck = true;
    private volatile boolean inListener;

    /**
     * A producer-side message (see {@code MessageProducerProvider#generateMessage}).
     *
     * @param messageId a fresh id
     * @param subject   the subject
     */
    public BaseMessage(String messageId, String subject) {
        this(messageId, subject, System.currentTimeMillis(), new LinkedHashMap<>(),
                new LinkedHashSet<>(), AckKind.NONE, 0);
    }

    BaseMessage(String messageId, String subject, long createdMillis, Map<String, String> attrs,
            Set<String> tags, AckKind ackKind, long ackHandle) {
        this.messageId = messageId;
        this.subject = subject;
        this.createdMillis = createdMillis;
        this.attrs = attrs;
        this.largeStrings = new LinkedHashMap<>();
        this.tags = tags;
        this.ackKind = ackKind;
        this.ackHandle = new AtomicLong(ackHandle);
    }

    /** @return whether this message was received (not generated) */
    public boolean isReceived() {
        return ackKind != AckKind.NONE;
    }

    @Override
    public String getMessageId() {
        return messageId;
    }

    @Override
    public String getSubject() {
        return subject;
    }

    @Override
    public String getPartitionName() {
        return subject;
    }

    @Override
    public Date getCreatedTime() {
        return new Date(createdMillis);
    }

    /** @return creation time, epoch milliseconds */
    public long getCreatedMillis() {
        return createdMillis;
    }

    @Override
    public Date getScheduleReceiveTime() {
        if (scheduleMillis >= 0) {
            return new Date(scheduleMillis);
        }
        String v = attrs.get(SCHEDULE_RECEIVE_TIME);
        return v == null ? null : new Date(Long.parseLong(v.trim()));
    }

    /** @return the delivery time set on a message being sent, epoch ms, or -1 */
    public long getScheduleMillis() {
        return scheduleMillis;
    }

    @Override
    public void setProperty(String name, boolean value) {
        put(name, Boolean.toString(value));
    }

    @Override
    public void setProperty(String name, Boolean value) {
        if (value != null) {
            put(name, value.toString());
        }
    }

    @Override
    public void setProperty(String name, int value) {
        put(name, Integer.toString(value));
    }

    @Override
    public void setProperty(String name, Integer value) {
        if (value != null) {
            put(name, value.toString());
        }
    }

    @Override
    public void setProperty(String name, long value) {
        put(name, Long.toString(value));
    }

    @Override
    public void setProperty(String name, Long value) {
        if (value != null) {
            put(name, value.toString());
        }
    }

    @Override
    public void setProperty(String name, float value) {
        put(name, Float.toString(value));
    }

    @Override
    public void setProperty(String name, Float value) {
        if (value != null) {
            put(name, value.toString());
        }
    }

    @Override
    public void setProperty(String name, double value) {
        put(name, Double.toString(value));
    }

    @Override
    public void setProperty(String name, Double value) {
        if (value != null) {
            put(name, value.toString());
        }
    }

    @Override
    public void setProperty(String name, Date date) {
        if (date != null) {
            put(name, Long.toString(date.getTime()));
        }
    }

    @Override
    public void setProperty(String name, String value) {
        if (value != null) {
            put(name, value);
        }
    }

    private void put(String name, String value) {
        if (name == null) {
            throw new qunar.tc.qmq.InvalidArgumentException("property name must not be null",
                    "InvalidMessage", false);
        }
        attrs.put(name, value);
    }

    @Override
    public void setLargeString(String name, String value) {
        if (name == null) {
            throw new qunar.tc.qmq.InvalidArgumentException("property name must not be null",
                    "InvalidMessage", false);
        }
        if (value != null) {
            largeStrings.put(name, value);
        }
    }

    @Override
    public String getStringProperty(String name) {
        return attrs.get(name);
    }

    @Override
    public boolean getBooleanProperty(String name) {
        return Boolean.parseBoolean(attrs.get(name));
    }

    @Override
    public Date getDateProperty(String name) {
        String v = attrs.get(name);
        return v == null ? null : new Date(Long.parseLong(v.trim()));
    }

    @Override
    public int getIntProperty(String name) {
        String v = attrs.get(name);
        return v == null ? 0 : Integer.parseInt(v.trim());
    }

    @Override
    public long getLongProperty(String name) {
        String v = attrs.get(name);
        return v == null ? 0L : Long.parseLong(v.trim());
    }

    @Override
    public float getFloatProperty(String name) {
        String v = attrs.get(name);
        return v == null ? 0f : Float.parseFloat(v.trim());
    }

    @Override
    public double getDoubleProperty(String name) {
        String v = attrs.get(name);
        return v == null ? 0d : Double.parseDouble(v.trim());
    }

    @Override
    public String getLargeString(String name) {
        String local = largeStrings.get(name);
        if (local != null) {
            return local;
        }
        // Received: QMQ's parts key#part0, key#part1, ... joined until one is missing.
        String first = attrs.get(name + "#part0");
        if (first == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder(first);
        for (int i = 1;; i++) {
            String part = attrs.get(name + "#part" + i);
            if (part == null) {
                return sb.toString();
            }
            sb.append(part);
        }
    }

    @Override
    public Message addTag(String tag) {
        if (tag == null) {
            throw new qunar.tc.qmq.InvalidArgumentException("tag must not be null",
                    "InvalidMessage", false);
        }
        tags.add(tag);
        return this;
    }

    @Override
    public Set<String> getTags() {
        return Collections.unmodifiableSet(tags);
    }

    @Override
    @Deprecated
    public Map<String, Object> getAttrs() {
        return Collections.<String, Object>unmodifiableMap(attrs);
    }

    /** @return the string properties as they will be sent or were received, read-only */
    public Map<String, String> getProperties() {
        return Collections.unmodifiableMap(attrs);
    }

    /** @return the large strings set on a message being sent, read-only */
    public Map<String, String> getLargeStrings() {
        return Collections.unmodifiableMap(largeStrings);
    }

    @Override
    public void autoAck(boolean auto) {
        if (ackKind != AckKind.LISTENER || !inListener) {
            throw new IllegalStateException(
                    "autoAck can only be called inside MessageListener.onMessage");
        }
        this.autoAck = auto;
    }

    /** @return whether the listener acks this message when it returns */
    public boolean isAutoAck() {
        return autoAck;
    }

    /**
     * Internal: marks the time a listener runs (when {@link #autoAck(boolean)} is allowed).
     *
     * @param inListener whether the listener is running
     */
    public void setInListener(boolean inListener) {
        this.inListener = inListener;
    }

    @Override
    public void ack(long elapsed, Throwable e) {
        if (ackKind == AckKind.NONE) {
            throw new UnsupportedOperationException("only a received message can be acked");
        }
        long handle = ackHandle.getAndSet(0);
        if (handle == 0) {
            return;
        }
        String reason = e == null ? null : describe(e);
        if (ackKind == AckKind.PULL) {
            Native.ack(handle, reason);
        } else {
            Native.listenerComplete(handle, reason);
        }
    }

    @Override
    public void ack(long elapsed, Throwable e, Map<String, String> attachment) {
        ack(elapsed, e);
    }

    /** @return whether this received message still has to be acked */
    public boolean needsAck() {
        return ackHandle.get() != 0;
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return m == null ? e.getClass().getName() : e.getClass().getName() + ": " + m;
    }

    @Override
    public void setDelayTime(Date date) {
        if (date == null) {
            throw new qunar.tc.qmq.InvalidArgumentException("delay date must not be null",
                    "InvalidScheduleTime", false);
        }
        scheduleMillis = date.getTime();
    }

    @Override
    public void setDelayTime(long delayTime, TimeUnit timeUnit) {
        if (timeUnit == null || delayTime < 0) {
            throw new qunar.tc.qmq.InvalidArgumentException(
                    "delay must be a non-negative time with a unit", "InvalidScheduleTime", false);
        }
        scheduleMillis = System.currentTimeMillis() + timeUnit.toMillis(delayTime);
    }

    @Override
    public void setOrderKey(String key) {
        throw new UnsupportedOperationException("ordered messages are not supported");
    }

    @Override
    public String getOrderKey() {
        return null;
    }

    @Override
    public int times() {
        String v = attrs.get(TIMES);
        if (v == null) {
            return 1;
        }
        try {
            return Math.max(1, Integer.parseInt(v.trim()));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    @Override
    public void setMaxRetryNum(int maxRetryNum) {
        this.maxRetryNum = maxRetryNum;
    }

    @Override
    public int getMaxRetryNum() {
        if (maxRetryNum >= 0) {
            return maxRetryNum;
        }
        String v = attrs.get(MAX_RETRY_NUM);
        return v == null ? -1 : Integer.parseInt(v.trim());
    }

    /** @return the retry limit set on a message being sent, or -1 */
    public int getLocalMaxRetryNum() {
        return maxRetryNum;
    }

    @Override
    public int localRetries() {
        return 0;
    }

    @Override
    public void setStoreAtFailed(boolean storeAtFailed) {
    }

    @Override
    public void setDurable(boolean durable) {
    }

    @Override
    public boolean isDurable() {
        return false;
    }

    /** @return the tags in insertion order (for the encoder) */
    Set<String> tagSet() {
        return tags;
    }

    @Override
    public String toString() {
        return "BaseMessage{subject=" + subject + ", messageId=" + messageId + ", tags=" + tags
                + ", attrs=" + attrs + "}";
    }
}
