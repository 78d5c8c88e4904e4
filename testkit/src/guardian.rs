//! A server process under an `sh` guardian that kills it when our end of its stdin closes.
//!
//! Why a guardian: test databases often live in `static`s shared by all tests of a binary,
//! and statics are never dropped. The pipe closes when this process exits however it exits,
//! so the guardian's reader wakes, signals the server and the whole group goes away.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TestkitError;

/// Runs the server in the background, then waits for it; a second background reader waits
/// for EOF on stdin and sends the server the stop signal. The pipe is kept on fd 3: POSIX
/// shells give background jobs /dev/null as their stdin.
const GUARDIAN_SCRIPT: &str = r#"
exec 3<&0
signal=$1; shift
"$@" </dev/null & child=$!
{ read -r _ <&3; kill "-$signal" "$child" 2>/dev/null; } &
wait "$child"
"#;

/// A running server process and its guardian.
pub struct Guardian {
    shell: Child,
    stdin: Option<ChildStdin>,
}

impl Guardian {
    /// Starts `program args` under a guardian, appending its output to `log`, as user
    /// `run_as` (uid, gid) when given; `stop_signal` (e.g. `TERM`, `INT`) asks it to stop.
    ///
    /// # Errors
    /// [`TestkitError::Io`] when the shell cannot be spawned.
    pub fn spawn(
        program: &Path,
        args: &[String],
        log: &Path,
        run_as: Option<(u32, u32)>,
        stop_signal: &str,
    ) -> Result<Self, TestkitError> {
        let log_file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(TestkitError::io(format!("open {}", log.display())))?;
        let log_err = log_file
            .try_clone()
            .map_err(TestkitError::io("clone the log handle"))?;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(GUARDIAN_SCRIPT)
            .arg("sh")
            .arg(stop_signal)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(log_file)
            .stderr(log_err)
            // Its own process group, so that a stop that times out can kill everything.
            .process_group(0);
        if let Some((uid, gid)) = run_as {
            command.uid(uid).gid(gid);
        }
        let mut shell = command
            .spawn()
            .map_err(TestkitError::io(format!("start {}", program.display())))?;
        let stdin = shell.stdin.take();
        Ok(Guardian { shell, stdin })
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.shell.try_wait(), Ok(None))
    }

    /// Asks the server to stop and waits for it; after 30 s the whole group is killed.
    pub fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if !matches!(self.shell.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let group = format!("-{}", self.shell.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.shell.wait();
    }
}

/// The (uid, gid) to run a server as: `user`'s when we are root (PostgreSQL refuses to run
/// as root), otherwise none (run as ourselves).
pub(crate) fn unprivileged_user(user: &str) -> Result<Option<(u32, u32)>, TestkitError> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self")
        .map_err(TestkitError::io("read /proc/self"))?
        .uid();
    if me != 0 {
        return Ok(None);
    }
    let passwd =
        std::fs::read_to_string("/etc/passwd").map_err(TestkitError::io("read /etc/passwd"))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() > 3 && fields[0] == user)
        .and_then(|fields| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
        .map(Some)
        .ok_or_else(|| TestkitError::Missing {
            what: "the postgres system user",
            looked: "/etc/passwd".into(),
            install: "apt-get install -y postgresql",
        })
}

/// Makes `path` (recursively) owned by `run_as`, so a server running as that user can write.
pub(crate) fn hand_over(path: &Path, run_as: Option<(u32, u32)>) -> Result<(), TestkitError> {
    let Some((uid, gid)) = run_as else {
        return Ok(());
    };
    crate::run_setup(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{gid}"))
            .arg(path),
    )
}
