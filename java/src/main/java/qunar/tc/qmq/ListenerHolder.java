package qunar.tc.qmq;

/** A registered listener. */
public interface ListenerHolder {
    /** Stops consuming; running handlers finish and their acks are sent. */
    void stopListen();

    /** Starts consuming again after {@link #stopListen()}. */
    void resumeListen();
}
