//! Starts `qmq-server standalone` as a child process on ephemeral ports and kills it on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Ports the server printed on its ready line.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct Ports {
    #[serde(default)]
    pub meta_http: u16,
    #[serde(default)]
    pub meta_tcp: u16,
    #[serde(default)]
    pub broker: u16,
    #[serde(default)]
    pub delay: Option<u16>,
}

/// A running `qmq-server standalone`.
pub struct ServerProcess {
    child: Option<Child>,
    pub ports: Ports,
    pub data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts the binary with a fresh data dir.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_ports(data_dir, extra, None)
    }

    /// Starts the binary, reusing `ports` (for restarts) or 0 for all.
    pub fn start_with_ports(data_dir: &Path, extra: &[&str], ports: Option<Ports>) -> Self {
        let (http, tcp, broker, delay) = match ports {
            Some(p) => (p.meta_http, p.meta_tcp, p.broker, p.delay.unwrap_or(0)),
            None => (0, 0, 0, 0),
        };
        let mut args: Vec<String> = vec!["standalone".into(), "--data-dir".into()];
        args.push(data_dir.to_string_lossy().into_owned());
        for (flag, port) in [
            ("--meta-http-port", http),
            ("--meta-tcp-port", tcp),
            ("--broker-port", broker),
            ("--delay-port", delay),
        ] {
            args.push(flag.into());
            args.push(port.to_string());
        }
        args.extend(["--host".to_string(), "127.0.0.1".to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(data_dir, &args, &[])
    }

    /// Starts the binary with arbitrary arguments and environment.
    pub fn spawn(data_dir: &Path, args: &[String], env: &[(&str, String)]) -> Self {
        Self::spawn_inner(data_dir, args, env, Stdio::inherit())
    }

    /// As [`ServerProcess::spawn`], with stderr (the log) written to `log`.
    pub fn spawn_logged(
        data_dir: &Path,
        args: &[String],
        env: &[(&str, String)],
        log: &Path,
    ) -> Self {
        let file = std::fs::File::create(log).expect("create log file");
        Self::spawn_inner(data_dir, args, env, Stdio::from(file))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("wait").is_none())
    }

    fn spawn_inner(
        data_dir: &Path,
        args: &[String],
        env: &[(&str, String)],
        stderr: Stdio,
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_qmq-server"));
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.clone())))
            .env("RUST_LOG", "qmq_server=info")
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().expect("spawn qmq-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let ports = loop {
            assert!(Instant::now() < deadline, "server did not become ready");
            let line = lines
                .next()
                .expect("server exited before it was ready")
                .expect("read stdout");
            if let Some(json) = line.strip_prefix("QMQ_SERVER_READY ") {
                break serde_json::from_str::<Ports>(json).expect("ready line is JSON");
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child: Some(child),
            ports,
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub fn meta_http(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.meta_http))
    }

    pub fn meta_tcp(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.meta_tcp))
    }

    pub fn broker(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.broker))
    }

    pub fn delay(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.delay.expect("delay port")))
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        wait_with_timeout(&mut child, Duration::from_secs(20))
    }

    /// SIGKILL: a crash.
    pub fn kill9(mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
