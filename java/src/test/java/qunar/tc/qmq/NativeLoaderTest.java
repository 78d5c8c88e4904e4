package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import qunar.tc.qmq.internal.Native;
import qunar.tc.qmq.internal.NativeLoader;

class NativeLoaderTest {
    @Test
    void resource_path_names_os_and_arch() {
        String p = NativeLoader.resourcePath();
        assertTrue(p.matches("native/[a-z0-9]+-[a-z0-9_]+/.*qmq_java.*"), p);
        assertEquals("native/" + NativeLoader.platform() + "/" + System.mapLibraryName("qmq_java"), p);
    }

    @Test
    void the_library_loads_from_the_jar_resource() {
        Native.ensureLoaded();
        if (System.getProperty(NativeLoader.PATH_PROPERTY) == null) {
            assertNotNull(NativeLoader.class.getClassLoader().getResource(NativeLoader.resourcePath()),
                    "the build puts the library into the jar");
        }
    }
}
