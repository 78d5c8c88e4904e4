package qunar.tc.qmq;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/** Options of a listener: tags, broadcast, at-most-once. Build with {@link SubscribeParamBuilder}. */
public class SubscribeParam {
    /** No tags, not broadcast, at least once. */
    public static final SubscribeParam DEFAULT =
            new SubscribeParam(false, false, TagType.NO_TAG, Collections.<String>emptySet());

    private final boolean consumeMostOnce;
    private final TagType tagType;
    private final Set<String> tags;
    private boolean isBroadcast;

    private SubscribeParam(boolean consumeMostOnce, boolean isBroadcast, TagType tagType,
            Set<String> tags) {
        this.consumeMostOnce = consumeMostOnce;
        this.isBroadcast = isBroadcast;
        this.tagType = tagType;
        this.tags = tags;
    }

    /** @return whether messages are acked on receipt and never redelivered */
    public boolean isConsumeMostOnce() {
        return consumeMostOnce;
    }

    /** @return the tags filtered on (server side); empty = every message */
    public Set<String> getTags() {
        return tags;
    }

    /** @return how the tags combine */
    public TagType getTagType() {
        return tagType;
    }

    /** @return whether every consumer gets every message */
    public boolean isBroadcast() {
        return isBroadcast;
    }

    /** @param isBroadcast whether every consumer gets every message */
    public void setBroadcast(boolean isBroadcast) {
        this.isBroadcast = isBroadcast;
    }

    /** Builds a {@link SubscribeParam}. */
    public static final class SubscribeParamBuilder {
        private boolean consumeMostOnce;
        private Set<String> tags = Collections.emptySet();
        private TagType tagType = TagType.NO_TAG;
        private boolean isBroadcast;

        /** @return the options */
        public SubscribeParam create() {
            return new SubscribeParam(consumeMostOnce, isBroadcast, tagType, tags);
        }

        /**
         * @param consumeMostOnce ack on receipt, never redeliver
         * @return this
         */
        public SubscribeParamBuilder setConsumeMostOnce(boolean consumeMostOnce) {
            this.consumeMostOnce = consumeMostOnce;
            return this;
        }

        /**
         * @param tagType how the tags combine (null keeps the default)
         * @return this
         */
        public SubscribeParamBuilder setTagType(TagType tagType) {
            if (tagType != null) {
                this.tagType = tagType;
            }
            return this;
        }

        /**
         * @param tags the tags to filter on (null or empty = no filter)
         * @return this
         */
        public SubscribeParamBuilder setTags(Set<String> tags) {
            if (tags != null && !tags.isEmpty()) {
                this.tags = Collections.unmodifiableSet(new LinkedHashSet<>(tags));
            }
            return this;
        }

        /**
         * @param isBroadcast every consumer gets every message
         * @return this
         */
        public SubscribeParamBuilder setBroadcast(boolean isBroadcast) {
            this.isBroadcast = isBroadcast;
            return this;
        }
    }
}
