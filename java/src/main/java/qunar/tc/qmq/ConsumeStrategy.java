package qunar.tc.qmq;

/** Whether one consumer ({@link #EXCLUSIVE}) or all of a group ({@link #SHARED}) consume. */
public enum ConsumeStrategy {
    /** One consumer of the group receives everything (broadcast). */
    EXCLUSIVE,
    /** The group's consumers share the messages. */
    SHARED;

    /**
     * @param isBroadcast whether the subscription is a broadcast one
     * @param isOrdered   whether the subject is ordered (not supported by this client)
     * @return the strategy such a subscription uses
     */
    public static ConsumeStrategy getConsumerStrategy(boolean isBroadcast, boolean isOrdered) {
        return isBroadcast || isOrdered ? EXCLUSIVE : SHARED;
    }
}
