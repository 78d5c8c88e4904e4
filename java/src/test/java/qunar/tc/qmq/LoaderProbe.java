package qunar.tc.qmq;

import qunar.tc.qmq.internal.Native;

/** Run in a child JVM by {@link NativeLoaderTest}: loads the library, prints the outcome. */
public final class LoaderProbe {
    private LoaderProbe() {
    }

    public static void main(String[] args) {
        try {
            Native.ensureLoaded();
            System.out.println("loaded " + Native.version());
        } catch (Throwable t) {
            Throwable e = t instanceof ExceptionInInitializerError && t.getCause() != null ? t.getCause() : t;
            System.out.println("failed " + e);
        }
    }
}
