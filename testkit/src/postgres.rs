//! PostgreSQL from Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::guardian::{hand_over, unprivileged_user};
use crate::{Guardian, TEST_DATABASE, TestkitError, run_setup};

const INSTALL: &str = "apt-get install -y postgresql";

/// `initdb` / `postgres` / `psql` of the newest installed version.
fn bin(name: &'static str) -> Result<PathBuf, TestkitError> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort_by_key(|path| {
        path.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    let candidates: Vec<PathBuf> = versions
        .iter()
        .rev()
        .map(|version| version.join("bin").join(name))
        .collect();
    crate::find_program(name, &candidates, INSTALL)
}

pub(crate) fn init(dir: &Path) -> Result<(), TestkitError> {
    let run_as = unprivileged_user("postgres")?;
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(TestkitError::io("create the data directory"))?;
    hand_over(dir, run_as)?;
    let mut initdb = Command::new(bin("initdb")?);
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    if let Some((uid, gid)) = run_as {
        std::os::unix::process::CommandExt::uid(&mut initdb, uid);
        std::os::unix::process::CommandExt::gid(&mut initdb, gid);
    }
    run_setup(&mut initdb)
}

pub(crate) fn launch(dir: &Path, port: u16) -> Result<Guardian, TestkitError> {
    let run_as = unprivileged_user("postgres")?;
    let args = vec![
        "-D".to_string(),
        dir.join("data").display().to_string(),
        "-p".into(),
        port.to_string(),
        "-k".into(),
        dir.display().to_string(),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "fsync=off".into(),
        "-c".into(),
        "max_connections=200".into(),
    ];
    // SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
    Guardian::spawn(
        &bin("postgres")?,
        &args,
        &dir.join("server.log"),
        run_as,
        "INT",
    )
}

/// Waits until the server accepts sessions. Listening on the port is not enough: right after a
/// (re)start PostgreSQL refuses logins with "the database system is starting up" while it
/// recovers, which made `start` return too early under load.
pub(crate) fn wait_accepting(dir: &Path, port: u16, limit: Duration) -> Result<(), TestkitError> {
    let deadline = Instant::now() + limit;
    loop {
        let ready = run_setup(
            Command::new(bin("psql")?)
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                .args(["-d", "postgres", "-c", "SELECT 1"])
                .current_dir(dir),
        );
        match ready {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

pub(crate) fn create_test_database(dir: &Path, port: u16) -> Result<(), TestkitError> {
    run_setup(
        Command::new(bin("psql")?)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args([
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {TEST_DATABASE}"),
            ])
            .current_dir(dir),
    )
}
