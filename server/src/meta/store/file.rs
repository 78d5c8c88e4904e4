//! The state file: `<data_dir>/meta/state.json`, replaced atomically.
//!
//! Writes go to `state.json.tmp`, which is fsynced, renamed over `state.json`, and then the
//! directory is fsynced, so a crash leaves either the old or the new file, never a torn one.
//! A leftover `.tmp` is ignored. The document carries a `version`; other versions are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{BrokerGroup, ClientRecord, MetaState};
use crate::meta::error::MetaError;

/// Format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Directory under the data directory that holds the meta role's files.
pub const DIR_NAME: &str = "meta";
/// The state file's name.
pub const FILE_NAME: &str = "state.json";

/// The on-disk document.
#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    groups: Vec<BrokerGroup>,
    routes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    consumer_groups: BTreeMap<String, BTreeSet<String>>,
    #[serde(default)]
    clients: Vec<ClientRecord>,
}

/// The state file's path for a data directory.
pub fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR_NAME).join(FILE_NAME)
}

/// Serializes the state into the bytes of a state file.
///
/// # Errors
/// [`MetaError::Serialize`] (not expected for this plain data).
pub fn encode(state: &MetaState) -> Result<Vec<u8>, MetaError> {
    let snapshot = Snapshot {
        version: FORMAT_VERSION,
        groups: state.groups.values().cloned().collect(),
        routes: state.routes.clone(),
        consumer_groups: state.consumer_groups.clone(),
        clients: state.clients.values().cloned().collect(),
    };
    serde_json::to_vec_pretty(&snapshot).map_err(|source| MetaError::Serialize { source })
}

/// Loads the state file, or `None` when there is none yet.
///
/// # Errors
/// [`MetaError::Io`] when it cannot be read, [`MetaError::Corrupt`] or
/// [`MetaError::UnsupportedVersion`] when it is not a state file of this version.
pub fn load(path: &Path) -> Result<Option<MetaState>, MetaError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(MetaError::io(path, e)),
    };
    let snapshot: Snapshot =
        serde_json::from_slice(&bytes).map_err(|source| MetaError::Corrupt {
            path: path.to_owned(),
            source,
        })?;
    if snapshot.version != FORMAT_VERSION {
        return Err(MetaError::UnsupportedVersion {
            path: path.to_owned(),
            found: snapshot.version,
            expected: FORMAT_VERSION,
        });
    }
    Ok(Some(MetaState {
        groups: snapshot
            .groups
            .into_iter()
            .map(|g| (g.name.clone(), g))
            .collect(),
        routes: snapshot.routes,
        consumer_groups: snapshot.consumer_groups,
        clients: snapshot.clients.into_iter().map(|c| (c.key(), c)).collect(),
        generation: 0,
    }))
}

/// Replaces `path` with `bytes` atomically (tmp + fsync + rename + directory fsync).
///
/// # Errors
/// [`MetaError::Io`] naming the file or directory that failed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MetaError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| MetaError::io(dir, e))?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = fs::File::create(&tmp).map_err(|e| MetaError::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| MetaError::io(&tmp, e))?;
    file.sync_all().map_err(|e| MetaError::io(&tmp, e))?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| MetaError::io(path, e))?;
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), MetaError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MetaError::io(dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), MetaError> {
    // Directories cannot be opened for syncing on this platform; rename is still atomic.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::store::tests::register;
    use qmq_core::protocol::{BrokerRequestType, BrokerRole, BrokerState};

    #[test]
    fn state_roundtrips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path());
        assert!(load(&path).unwrap().is_none());
        let mut state = MetaState::default();
        register(
            &mut state,
            BrokerRequestType::Online,
            "g1",
            BrokerRole::Master,
            BrokerState::Rw,
            7,
        );
        state.routes.insert("s".into(), vec!["g1".into()]);
        write_atomic(&path, &encode(&state).unwrap()).unwrap();
        let mut loaded = load(&path).unwrap().unwrap();
        loaded.generation = state.generation;
        assert_eq!(loaded, state);
    }

    #[test]
    fn corrupt_and_foreign_versions_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = state_path(dir.path());
        write_atomic(&path, b"{not json").unwrap();
        assert!(matches!(load(&path), Err(MetaError::Corrupt { path: p, .. }) if p == path));
        write_atomic(&path, br#"{"version":99,"groups":[],"routes":{}}"#).unwrap();
        assert!(matches!(
            load(&path),
            Err(MetaError::UnsupportedVersion { found: 99, .. })
        ));
    }
}
