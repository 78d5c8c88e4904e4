package qunar.tc.qmq;

import java.util.Date;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A QMQ message: a subject, an id, tags and string properties. Producers get one from
 * {@link MessageProducer#generateMessage(String)}; consumers receive them.
 *
 * <p>Properties are strings on the wire: numbers, booleans and dates are stored as their
 * string form (dates as epoch milliseconds). A value longer than 32767 UTF-8 bytes must go
 * through {@link #setLargeString(String, String)}. Keys starting with {@code qmq_} are
 * reserved. A message is not thread-safe.
 */
public interface Message {
    /** @return the message id (generated; for logs, not for business keys) */
    String getMessageId();

    /** @return the subject */
    String getSubject();

    /** @return the subject (this client has no partitions) */
    String getPartitionName();

    /** @return when {@link MessageProducer#generateMessage(String)} made it */
    Date getCreatedTime();

    /** @return the delivery time of a delay message, or null */
    Date getScheduleReceiveTime();

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, boolean value);

    /**
     * @param name  key
     * @param value value (null removes nothing and stores nothing)
     */
    void setProperty(String name, Boolean value);

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, int value);

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, Integer value);

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, long value);

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, Long value);

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, float value);

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, Float value);

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, double value);

    /**
     * @param name  key
     * @param value value
     */
    void setProperty(String name, Double value);

    /**
     * @param name key
     * @param date value, stored as epoch milliseconds
     */
    void setProperty(String name, Date date);

    /**
     * @param name  key
     * @param value value, at most 32767 UTF-8 bytes (checked when sent)
     */
    void setProperty(String name, String value);

    /**
     * Stores a string of any length (split into parts on the wire); read it back with
     * {@link #getLargeString(String)}.
     *
     * @param name  key
     * @param value value
     */
    void setLargeString(String name, String value);

    /**
     * @param name key
     * @return the value, or null
     */
    String getStringProperty(String name);

    /**
     * @param name key
     * @return the value, false if absent
     */
    boolean getBooleanProperty(String name);

    /**
     * @param name key
     * @return the value, or null
     */
    Date getDateProperty(String name);

    /**
     * @param name key
     * @return the value, 0 if absent
     */
    int getIntProperty(String name);

    /**
     * @param name key
     * @return the value, 0 if absent
     */
    long getLongProperty(String name);

    /**
     * @param name key
     * @return the value, 0 if absent
     */
    float getFloatProperty(String name);

    /**
     * @param name key
     * @return the value, 0 if absent
     */
    double getDoubleProperty(String name);

    /**
     * @param name key
     * @return a value stored with {@link #setLargeString(String, String)}, or null
     */
    String getLargeString(String name);

    /**
     * Adds a tag (consumers can filter on tags, server side). At most 10 tags, none empty.
     *
     * @param tag the tag
     * @return this
     */
    Message addTag(String tag);

    /** @return the tags, unmodifiable */
    Set<String> getTags();

    /**
     * @return every property as a read-only map
     * @deprecated kept for source compatibility
     */
    @Deprecated
    Map<String, Object> getAttrs();

    /**
     * Consumer side, inside {@link MessageListener#onMessage(Message)} only: {@code false}
     * means the listener acks later with {@link #ack(long, Throwable)}.
     *
     * @param auto whether the message is acked when the listener returns
     */
    void autoAck(boolean auto);

    /**
     * Consumer side: completes the message. Null {@code e} acks it; otherwise it is delivered
     * again later (dead letter after the retry limit). A second call does nothing.
     *
     * @param elapsed processing time in milliseconds (informational)
     * @param e       the failure, or null
     */
    void ack(long elapsed, Throwable e);

    /**
     * As {@link #ack(long, Throwable)}; the attachment is ignored.
     *
     * @param elapsed    processing time in milliseconds
     * @param e          the failure, or null
     * @param attachment ignored
     */
    void ack(long elapsed, Throwable e, Map<String, String> attachment);

    /**
     * Delivers the message at {@code date} (up to two years ahead).
     *
     * @param date delivery time
     */
    void setDelayTime(Date date);

    /**
     * Delivers the message {@code delayTime} from now.
     *
     * @param delayTime how long
     * @param timeUnit  its unit
     */
    void setDelayTime(long delayTime, TimeUnit timeUnit);

    /**
     * Ordered messages are not supported by this client.
     *
     * @param key order key
     * @throws UnsupportedOperationException always
     */
    void setOrderKey(String key);

    /** @return null: ordered messages are not supported */
    String getOrderKey();

    /** @return the delivery attempt (1 for the first) */
    int times();

    /**
     * How often consumers retry this message before dead-lettering it.
     *
     * @param maxRetryNum retries
     */
    void setMaxRetryNum(int maxRetryNum);

    /** @return the retry limit set on the message, or -1 */
    int getMaxRetryNum();

    /** @return 0: the core retries through the retry subject, never locally */
    int localRetries();

    /**
     * Ignored: there is no local message store.
     *
     * @param storeAtFailed ignored
     */
    void setStoreAtFailed(boolean storeAtFailed);

    /**
     * Ignored: messages are not persisted locally.
     *
     * @param durable ignored
     */
    void setDurable(boolean durable);

    /** @return false */
    boolean isDurable();
}
