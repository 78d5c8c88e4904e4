//! An in-process standalone server on its own runtime thread, and a runner for the `qmq`
//! binary.

use std::process::{Command, Output};
use std::sync::mpsc;
use std::thread::JoinHandle;

use qmq_server::standalone::{ServerConfig, StandaloneServer};
use tokio::sync::oneshot;

/// A standalone server on ephemeral loopback ports; `Drop` shuts it down and waits.
pub struct TestServer {
    meta_url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = ServerConfig::for_tests(dir.path());
        let (url_tx, url_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let server = StandaloneServer::start(config)
                    .await
                    .expect("server starts");
                url_tx.send(server.meta_url()).expect("send url");
                let _ = stopped.await;
                server.shutdown().await;
            });
        });
        let meta_url = url_rx.recv().expect("server started");
        Self {
            meta_url,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    pub fn meta_url(&self) -> &str {
        &self.meta_url
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The `qmq` command with `args`, not yet run.
pub fn qmq(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qmq"));
    command.args(args).env_remove("QMQ_META");
    command
}

/// Runs `qmq` with `args` to completion.
pub fn run(args: &[&str]) -> Output {
    qmq(args).output().expect("qmq runs")
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
