//! Preallocated, memory-mapped segment files.
//!
//! This is the only module of the server that may use `unsafe`: mapping a file is unsafe because
//! another process could truncate or modify it underneath us. The store owns its data directory
//! exclusively, and every mapping here is created over a file this process just sized, so the
//! mapping stays valid for the life of the segment.
//!
//! Invariants:
//! - a segment's file is exactly `len` bytes long while it is mapped;
//! - writes go through the mapping, durability through `fdatasync` on the shared file handle
//!   (on Linux, dirty shared-mapping pages belong to the page cache that `fdatasync` writes back).
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::MmapMut;

use super::error::StoreError;

/// One segment file: `len` bytes mapped read-write, named by the global offset of its first byte.
#[derive(Debug)]
pub(crate) struct MmapSegment {
    path: PathBuf,
    base: u64,
    file: Arc<File>,
    map: MmapMut,
}

impl MmapSegment {
    /// Opens `path`, creating it if needed, grows it (sparsely) to at least `len` bytes and maps
    /// it. An existing longer file keeps its length.
    pub(crate) fn open(path: &Path, base: u64, len: u64) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io("open", path, e))?;
        let current = file
            .metadata()
            .map_err(|e| StoreError::io("stat", path, e))?
            .len();
        if current < len {
            file.set_len(len)
                .map_err(|e| StoreError::io("preallocate", path, e))?;
        }
        let map = map_file(&file, path)?;
        Ok(MmapSegment {
            path: path.to_path_buf(),
            base,
            file: Arc::new(file),
            map,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Global offset of the first byte.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Size of the segment in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Global offset one past the last byte.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.len()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// A handle that can `fdatasync` this segment without holding the store lock.
    pub(crate) fn sync_handle(&self) -> SyncHandle {
        SyncHandle {
            file: Arc::clone(&self.file),
            path: self.path.clone(),
        }
    }

    /// The shared file handle, for reading through the page cache without the store lock.
    pub(crate) fn file(&self) -> Arc<File> {
        Arc::clone(&self.file)
    }

    /// Zeroes everything from byte `pos` (relative to the segment) to its end, by cutting the file
    /// and growing it again (cheap: the kernel hands back sparse zero pages), then syncs.
    pub(crate) fn zero_from(&mut self, pos: u64) -> Result<(), StoreError> {
        let len = self.len();
        if pos >= len {
            return Ok(());
        }
        // Unmap before shrinking: touching a mapping past the end of its file is SIGBUS.
        self.map = MmapMut::map_anon(1).map_err(|e| StoreError::io("map", &self.path, e))?;
        self.file
            .set_len(pos)
            .map_err(|e| StoreError::io("truncate", &self.path, e))?;
        self.file
            .set_len(len)
            .map_err(|e| StoreError::io("preallocate", &self.path, e))?;
        self.file
            .sync_all()
            .map_err(|e| StoreError::io("sync", &self.path, e))?;
        self.map = map_file(&self.file, &self.path)?;
        Ok(())
    }
}

fn map_file(file: &File, path: &Path) -> Result<MmapMut, StoreError> {
    // SAFETY: the file belongs to this store's data directory, which the broker owns exclusively;
    // it was just sized by us and is never truncated while this mapping is alive (`zero_from`
    // replaces the mapping before cutting the file). Concurrent modification by another process
    // is outside the store's contract.
    unsafe { MmapMut::map_mut(file) }.map_err(|e| StoreError::io("map", path, e))
}

/// A cloneable handle for flushing a segment's data to disk.
#[derive(Debug, Clone)]
pub(crate) struct SyncHandle {
    file: Arc<File>,
    path: PathBuf,
}

impl SyncHandle {
    /// `fdatasync`: every byte written through the mapping before this call is durable after it.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.file
            .sync_data()
            .map_err(|e| StoreError::io("sync", &self.path, e))
    }
}
