//! Redis from Debian's `redis-server` package, with an append-only file so that a stop and
//! start keeps the data (tests take it down and bring it back).

use std::path::{Path, PathBuf};

use crate::{Guardian, TestkitError, find_program, system_program};

fn bin() -> Result<PathBuf, TestkitError> {
    find_program(
        "redis-server",
        &system_program("redis-server"),
        "apt-get install -y redis-server",
    )
}

pub(crate) fn check_installed() -> Result<(), TestkitError> {
    bin().map(|_| ())
}

pub(crate) fn launch(dir: &Path, port: u16) -> Result<Guardian, TestkitError> {
    let args = vec![
        "--bind".to_string(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--dir".into(),
        dir.display().to_string(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "yes".into(),
        "--appendfsync".into(),
        "always".into(),
        "--daemonize".into(),
        "no".into(),
    ];
    Guardian::spawn(&bin()?, &args, &dir.join("server.log"), None, "TERM")
}
