//! What a running server writes to `<data>/runtime/`: the ports it bound and its effective
//! configuration, so tests and operators can find them.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

/// Ports bound by this process (`None` for roles it does not run).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct BoundPorts {
    /// Meta HTTP discovery port.
    pub meta_http: Option<u16>,
    /// Meta TCP port.
    pub meta_tcp: Option<u16>,
    /// Broker client port.
    pub broker: Option<u16>,
    /// Delay server port.
    pub delay: Option<u16>,
}

impl BoundPorts {
    /// The machine-readable ready line printed on stdout.
    pub fn ready_line(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        format!("QMQ_SERVER_READY {json}")
    }
}

/// Writes `ports.json` and `effective-config.toml` under `<data_dir>/runtime/`.
///
/// # Errors
/// Any I/O error.
pub fn write(data_dir: &Path, ports: &BoundPorts, config: &impl Serialize) -> std::io::Result<()> {
    let dir = data_dir.join("runtime");
    std::fs::create_dir_all(&dir)?;
    let ports_json = serde_json::to_vec_pretty(ports).map_err(std::io::Error::other)?;
    write_atomic(&dir.join("ports.json"), &ports_json)?;
    let config_toml = toml::to_string_pretty(config).map_err(std::io::Error::other)?;
    write_atomic(&dir.join("effective-config.toml"), config_toml.as_bytes())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}
