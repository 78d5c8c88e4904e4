package qunar.tc.qmq;

/** How a consumer's tags combine: any of them ({@link #OR}) or all of them ({@link #AND}). */
public enum TagType {
    /** No tag filter (with tags given, treated as {@link #OR}). */
    NO_TAG(0),
    /** A message matches if it has any of the tags. */
    OR(1),
    /** A message matches if it has all of the tags. */
    AND(2);

    private final int code;

    TagType(int code) {
        this.code = code;
    }

    /**
     * @param code a wire code
     * @return the tag type with that code, {@link #NO_TAG} for an unknown one
     */
    public static TagType of(int code) {
        for (TagType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return NO_TAG;
    }

    /** @return the wire code */
    public int getCode() {
        return code;
    }
}
