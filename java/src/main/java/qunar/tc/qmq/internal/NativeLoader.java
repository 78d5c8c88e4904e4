package qunar.tc.qmq.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;

/**
 * Loads the native library {@code qmq_java} once per class loader.
 *
 * <p>Order: the file named by the system property {@value #PATH_PROPERTY}; else the jar
 * resource {@code native/<os>-<arch>/<lib>}, copied into a private temporary directory
 * (owner-only permissions, deleted on exit, left-overs of dead processes removed) and loaded
 * from there; else
 * {@code System.loadLibrary("qmq_java")} ({@code java.library.path}). When nothing fits, the
 * error names the platform and the resource path that was looked for.
 */
public final class NativeLoader {
    /** System property: absolute path of the native library to load instead of the jar's. */
    public static final String PATH_PROPERTY = "qmq.native.path";
    static final String LIBRARY = "qmq_java";

    private NativeLoader() {
    }

    /** @return {@code <os>-<arch>}, e.g. {@code linux-x86_64} */
    public static String platform() {
        return os() + "-" + arch();
    }

    /** @return the normalised OS name: linux, macos, windows, ... */
    public static String os() {
        String os = System.getProperty("os.name", "unknown").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) {
            return "linux";
        }
        if (os.startsWith("mac") || os.startsWith("darwin")) {
            return "macos";
        }
        if (os.startsWith("windows")) {
            return "windows";
        }
        return os.replaceAll("[^a-z0-9]", "");
    }

    static String arch() {
        String arch = System.getProperty("os.arch", "unknown").toLowerCase(Locale.ROOT);
        switch (arch) {
            case "amd64":
            case "x86_64":
            case "x64":
                return "x86_64";
            case "aarch64":
            case "arm64":
                return "aarch64";
            default:
                return arch.replaceAll("[^a-z0-9_]", "");
        }
    }

    /** @return the resource path of this platform's library inside the jar */
    public static String resourcePath() {
        return "native/" + platform() + "/" + System.mapLibraryName(LIBRARY);
    }

    static synchronized void load() {
        String override = System.getProperty(PATH_PROPERTY);
        if (override != null && !override.isEmpty()) {
            System.load(Path.of(override).toAbsolutePath().toString());
            return;
        }
        String resource = resourcePath();
        UnsatisfiedLinkError extractFailure = null;
        try (InputStream in = NativeLoader.class.getClassLoader().getResourceAsStream(resource)) {
            if (in != null) {
                System.load(extract(in).toString());
                return;
            }
        } catch (IOException e) {
            extractFailure = new UnsatisfiedLinkError(
                    "cannot extract " + resource + " to a temporary directory: " + e);
        }
        try {
            System.loadLibrary(LIBRARY);
        } catch (UnsatisfiedLinkError e) {
            if (extractFailure != null) {
                throw extractFailure;
            }
            UnsatisfiedLinkError err = new UnsatisfiedLinkError("no QMQ native library for platform "
                    + platform() + ": the jar has no " + resource + " and " + LIBRARY
                    + " is not on java.library.path; set -D" + PATH_PROPERTY
                    + "=/path/to/" + System.mapLibraryName(LIBRARY));
            err.initCause(e);
            throw err;
        }
    }

    private static final String DIR_PREFIX = "qmq-native-";
    private static final String OWNER_FILE = "owner.pid";

    private static Path extract(InputStream in) throws IOException {
        removeStale();
        Path dir;
        try {
            dir = Files.createTempDirectory(DIR_PREFIX,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
            dir = Files.createTempDirectory(DIR_PREFIX);
        }
        Path lib = dir.resolve(System.mapLibraryName(LIBRARY));
        Path owner = dir.resolve(OWNER_FILE);
        Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
        Files.write(owner, Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.US_ASCII));
        // Deleted in reverse order of registration: the files, then their directory. Once
        // loaded the file is no longer needed on Linux and macOS. A JVM that dies without
        // running its exit hooks leaves the directory behind; the next load removes it.
        dir.toFile().deleteOnExit();
        owner.toFile().deleteOnExit();
        lib.toFile().deleteOnExit();
        return lib;
    }

    /** Removes extraction directories of processes that no longer run (best effort). */
    private static void removeStale() {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(tmp, DIR_PREFIX + "*")) {
            for (Path dir : dirs) {
                Path owner = dir.resolve(OWNER_FILE);
                try {
                    long pid = Long.parseLong(new String(Files.readAllBytes(owner),
                            StandardCharsets.US_ASCII).trim());
                    if (ProcessHandle.of(pid).isPresent()) {
                        continue;
                    }
                    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                        for (Path f : files) {
                            Files.deleteIfExists(f);
                        }
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException | RuntimeException e) {
                    // Not ours, in use, or half written: leave it.
                }
            }
        } catch (IOException | RuntimeException e) {
            // The temporary directory cannot be listed: nothing to clean.
        }
    }
}
