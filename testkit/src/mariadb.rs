//! MariaDB from Debian's `mariadb-server` package.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Guardian, TEST_DATABASE, TestkitError, find_program, run_setup, system_program};

const INSTALL: &str = "apt-get install -y mariadb-server";

fn bin(name: &'static str) -> Result<PathBuf, TestkitError> {
    find_program(name, &system_program(name), INSTALL)
}

pub(crate) fn init(dir: &Path) -> Result<(), TestkitError> {
    let data = dir.join("data");
    run_setup(
        Command::new(bin("mariadb-install-db")?)
            .arg("--no-defaults")
            .arg(format!("--user={}", current_user()))
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]),
    )
}

pub(crate) fn launch(dir: &Path, port: u16) -> Result<Guardian, TestkitError> {
    let args = vec![
        "--no-defaults".to_string(),
        format!("--user={}", current_user()),
        format!("--datadir={}", dir.join("data").display()),
        "--bind-address=127.0.0.1".into(),
        format!("--port={port}"),
        format!("--socket={}", dir.join("mysqld.sock").display()),
        format!("--pid-file={}", dir.join("mysqld.pid").display()),
        "--skip-name-resolve".into(),
        "--innodb-flush-log-at-trx-commit=2".into(),
        "--max-connections=300".into(),
    ];
    Guardian::spawn(
        &bin("mariadbd")?,
        &args,
        &dir.join("server.log"),
        None,
        "TERM",
    )
}

pub(crate) fn create_test_database(dir: &Path) -> Result<(), TestkitError> {
    let client = find_program(
        "mariadb",
        &[system_program("mariadb"), system_program("mysql")].concat(),
        INSTALL,
    )?;
    // `--skip-name-resolve` makes connections from 127.0.0.1 match `root@127.0.0.1`, not
    // `root@localhost`; grant the test user from any host so both spellings work.
    let sql = format!(
        "CREATE DATABASE {TEST_DATABASE}; \
         CREATE USER IF NOT EXISTS 'root'@'%'; \
         GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION; FLUSH PRIVILEGES;"
    );
    run_setup(
        Command::new(client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
            .args(["-uroot", "-e", &sql]),
    )
}

/// The name of the user we run as (`mariadbd --user` must name it when that is root).
fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            match std::fs::metadata("/proc/self").map(|m| m.uid()) {
                Ok(0) | Err(_) => "root".to_string(),
                Ok(uid) => uid.to_string(),
            }
        })
}
