package qunar.tc.qmq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

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

    /** Runs {@link LoaderProbe} in a fresh JVM with extra {@code -D} options. */
    private static String probe(String... props) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(Arrays.asList(props));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(LoaderProbe.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            in.transferTo(out);
        }
        p.waitFor();
        return out.toString(StandardCharsets.UTF_8).trim();
    }

    @Test
    void a_fresh_jvm_loads_the_library_from_the_jar_resource() throws Exception {
        assertEquals("loaded " + Native.EXPECTED_VERSION, probe());
    }

    @Test
    void the_path_property_overrides_the_jar() throws Exception {
        String out = probe("-D" + NativeLoader.PATH_PROPERTY + "=/nonexistent/libqmq_java.so");
        assertTrue(out.startsWith("failed java.lang.UnsatisfiedLinkError"), out);
        assertTrue(out.contains("/nonexistent/libqmq_java.so"), out);
    }

    @Test
    void an_unknown_platform_gets_an_error_naming_it() throws Exception {
        String out = probe("-Dos.arch=sparc64");
        assertTrue(out.contains("no QMQ native library for platform " + NativeLoader.os() + "-sparc64"), out);
        assertTrue(out.contains("native/" + NativeLoader.os() + "-sparc64/"), out);
        assertTrue(out.contains(NativeLoader.PATH_PROPERTY), out);
    }

    @Test
    void extraction_dirs_of_dead_processes_are_removed() throws Exception {
        long dead = 4_000_000;
        while (ProcessHandle.of(dead).isPresent()) {
            dead++;
        }
        Path stale = java.nio.file.Files.createTempDirectory("qmq-native-");
        java.nio.file.Files.write(stale.resolve("owner.pid"),
                Long.toString(dead).getBytes(StandardCharsets.US_ASCII));
        java.nio.file.Files.write(stale.resolve("libqmq_java.so"), new byte[] {1, 2, 3});
        assertEquals("loaded " + Native.EXPECTED_VERSION, probe());
        assertTrue(!java.nio.file.Files.exists(stale), stale + " was removed");
    }
}
