//! Store-level tests: recovery, rollover, checkpoints and retention on real files.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::*;

fn small_config() -> StoreConfig {
    StoreConfig {
        message_segment_size: 64 * 1024,
        action_segment_size: 8 * 1024,
        consume_log_units_per_segment: 64,
        pull_log_units_per_segment: 64,
        ..StoreConfig::default()
    }
}

fn payload(i: usize, len: usize) -> Vec<u8> {
    let mut p = format!("message-{i}-").into_bytes();
    p.resize(len, b'x');
    p
}

fn append_n(store: &Store, subject: &str, from: usize, n: usize, len: usize) -> Vec<Appended> {
    let payloads: Vec<Vec<u8>> = (from..from + n).map(|i| payload(i, len)).collect();
    let batch: Vec<AppendMessage<'_>> = payloads
        .iter()
        .map(|p| AppendMessage {
            subject,
            crc: i64::from(crc32fast::hash(p)),
            payload: p,
        })
        .collect();
    store.append(&batch).unwrap()
}

fn all_payloads(store: &Store, subject: &str) -> Vec<(i64, Vec<u8>)> {
    store
        .read(subject, 0, usize::MAX)
        .unwrap()
        .messages
        .into_iter()
        .map(|m| (m.sequence, m.payload.to_vec()))
        .collect()
}

fn message_segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join(MESSAGE_LOG_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn append_read_roundtrip_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    let a = append_n(&store, "a", 0, 3, 100);
    let b = append_n(&store, "b", 0, 2, 50);
    assert_eq!(
        a.iter().map(|x| x.sequence).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(b.iter().map(|x| x.sequence).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(a[1].offset, a[0].offset + u64::from(a[0].size));
    let before = all_payloads(&store, "a");
    assert_eq!(before.len(), 3);
    assert_eq!(before[2].1, payload(2, 100));
    let m = store.read_at("b", 1).unwrap().unwrap();
    assert_eq!(m.crc, i64::from(crc32fast::hash(&payload(1, 50))));
    drop(store);

    let store = Store::open(small_config(), dir.path()).unwrap();
    assert_eq!(all_payloads(&store, "a"), before);
    assert_eq!(store.max_sequence("a").unwrap(), 2);
    assert_eq!(store.max_sequence("missing").unwrap(), -1);
    let next = append_n(&store, "a", 3, 1, 100);
    assert_eq!(next[0].sequence, 3, "sequences continue after reopen");
}

#[test]
fn append_rejects_bad_crc_and_bad_subject_without_storing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    let good = b"ok".as_slice();
    let batch = [
        AppendMessage {
            subject: "a",
            crc: i64::from(crc32fast::hash(good)),
            payload: good,
        },
        AppendMessage {
            subject: "a",
            crc: 1,
            payload: good,
        },
    ];
    assert!(matches!(
        store.append(&batch),
        Err(StoreError::CrcMismatch { .. })
    ));
    for bad in ["", "..", "a/b", "x\ny"] {
        let m = AppendMessage {
            subject: bad,
            ..batch[0]
        };
        assert!(matches!(
            store.append(&[m]),
            Err(StoreError::InvalidName { .. })
        ));
    }
    assert_eq!(store.max_sequence("a").unwrap(), -1);
}

#[test]
fn rollover_spreads_records_over_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    let appended = append_n(&store, "roll", 0, 300, 1000);
    let segments = message_segments(dir.path());
    assert!(segments.len() >= 4, "{segments:?}");
    assert_eq!(
        segments[1].file_name().unwrap().to_str().unwrap(),
        "00000000000000065536"
    );
    for a in &appended {
        let start = a.offset / 65536;
        let end = (a.offset + u64::from(a.size) - 1) / 65536;
        assert_eq!(start, end, "record at {} spans segments", a.offset);
    }
    let before = all_payloads(&store, "roll");
    assert_eq!(before.len(), 300);
    drop(store);
    let store = Store::open(small_config(), dir.path()).unwrap();
    assert_eq!(all_payloads(&store, "roll"), before);
    assert_eq!(append_n(&store, "roll", 300, 1, 10)[0].sequence, 300);
}

#[test]
fn torn_tail_is_truncated_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    let appended = append_n(&store, "t", 0, 20, 100);
    let before = all_payloads(&store, "t");
    drop(store);

    let last = appended.last().unwrap();
    let end = last.offset + u64::from(last.size);
    let segment = message_segments(dir.path()).pop().unwrap();
    let base: u64 = segment
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // A partial copy of the last record, then garbage.
    let mut torn = fs::read(&segment).unwrap()
        [(last.offset - base) as usize..(last.offset - base) as usize + 40]
        .to_vec();
    torn.extend_from_slice(&[0xAB; 300]);
    write_at(&segment, end - base, &torn);

    for _ in 0..5 {
        let store = Store::open(small_config(), dir.path()).unwrap();
        assert_eq!(all_payloads(&store, "t"), before);
        assert_eq!(store.message_log_end().unwrap(), end);
        drop(store);
        let bytes = fs::read(&segment).unwrap();
        assert!(
            bytes[(end - base) as usize..].iter().all(|&b| b == 0),
            "tail zeroed"
        );
    }
    let store = Store::open(small_config(), dir.path()).unwrap();
    assert_eq!(append_n(&store, "t", 20, 1, 100)[0].offset, end);
}

#[test]
fn garbage_after_checkpoint_is_truncated_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    let appended = append_n(&store, "t", 0, 10, 100);
    store.checkpoint().unwrap();
    let before = all_payloads(&store, "t");
    drop(store);
    let last = appended.last().unwrap();
    let end = last.offset + u64::from(last.size);
    let segment = message_segments(dir.path()).pop().unwrap();
    write_at(
        &segment,
        end,
        b"\xA1\xB2\xC3\x02\x00garbage-garbage-garbage",
    );
    for _ in 0..3 {
        let store = Store::open(small_config(), dir.path()).unwrap();
        assert_eq!(all_payloads(&store, "t"), before);
    }
}

#[test]
fn corrupt_record_in_middle_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    let appended = append_n(&store, "c", 0, 200, 1000);
    drop(store);
    let victim = appended[5];
    let segment = &message_segments(dir.path())[0];
    // Flip a payload byte of the sixth record: its CRC no longer matches.
    let pos = victim.offset + u64::from(victim.size) - 1;
    let mut byte = fs::read(segment).unwrap()[pos as usize];
    byte ^= 0xFF;
    write_at(segment, pos, &[byte]);

    let err = Store::open(small_config(), dir.path()).unwrap_err();
    match err {
        StoreError::Corrupt {
            path,
            offset,
            reason,
        } => {
            assert_eq!(&path, segment);
            assert_eq!(offset, victim.offset);
            assert_eq!(reason, "crc mismatch");
        }
        other => panic!("unexpected {other}"),
    }
    // Nothing was dropped: the segment is still there, byte for byte.
    assert_eq!(fs::read(segment).unwrap()[pos as usize], byte);
}

#[test]
fn consume_log_is_rebuilt_from_message_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    append_n(&store, "r", 0, 100, 300);
    let before = all_payloads(&store, "r");
    drop(store);
    fs::remove_dir_all(dir.path().join(CONSUME_LOG_DIR)).unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    assert_eq!(all_payloads(&store, "r"), before);
}

#[test]
fn consume_log_ahead_of_message_log_is_cut_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    let appended = append_n(&store, "r", 0, 10, 100);
    drop(store);
    // Lose the last three records (as a crash would), keep their consume-log units.
    let cut = appended[7].offset;
    let segment = message_segments(dir.path()).pop().unwrap();
    write_at(&segment, cut, &[0u8; 400]);
    let store = Store::open(small_config(), dir.path()).unwrap();
    assert_eq!(store.max_sequence("r").unwrap(), 6);
    assert_eq!(append_n(&store, "r", 7, 1, 100)[0].sequence, 7);
    assert_eq!(all_payloads(&store, "r").len(), 8);
}

#[test]
fn checkpoint_and_replay_restore_consumer_progress_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    append_n(&store, "s", 0, 50, 20);
    store.ensure_group("s", "g", None, false, -1).unwrap();
    store
        .record_pull("s", "g", "c1", false, 0, &[0, 1, 2, 3, 4])
        .unwrap();
    store.record_ack("s", "g", "c1", 0, 2).unwrap();
    store.checkpoint().unwrap();
    // After the checkpoint: a filtered pull (gap in sequences), more acks, a broadcast pull.
    store
        .record_pull("s", "g", "c1", false, 5, &[7, 8, 10])
        .unwrap();
    store.record_pull("s", "g", "c2", false, 0, &[11]).unwrap();
    store.record_ack("s", "g", "c1", 3, 6).unwrap();
    store
        .record_pull("s", "host@@1", "host@@1", true, -1, &[20, 21])
        .unwrap();
    let progress = store.group_progress("s", "g").unwrap().unwrap();
    let broadcast = store.group_progress("s", "host@@1").unwrap().unwrap();
    let pulled = store.pull_log_read("c1", "g", "s", 0, 100).unwrap();
    assert_eq!(pulled, vec![0, 1, 2, 3, 4, 7, 8, 10]);
    drop(store); // no clean shutdown: replay must do it

    for _ in 0..2 {
        let store = Store::open(small_config(), dir.path()).unwrap();
        assert_eq!(store.group_progress("s", "g").unwrap().unwrap(), progress);
        assert_eq!(
            store.group_progress("s", "host@@1").unwrap().unwrap(),
            broadcast
        );
        assert_eq!(progress.pull, 11);
        assert_eq!(
            progress.consumers["c1"],
            ConsumerProgress { pull: 7, ack: 6 }
        );
        assert_eq!(
            progress.consumers["c2"],
            ConsumerProgress { pull: 0, ack: -1 }
        );
        assert!(broadcast.broadcast);
        assert_eq!(broadcast.consumers["host@@1"].pull, 21);
        assert_eq!(store.pull_log_read("c1", "g", "s", 0, 100).unwrap(), pulled);
        assert_eq!(
            store.pull_log_read("c2", "g", "s", 0, 100).unwrap(),
            vec![11]
        );
        store.close().unwrap();
    }
}

#[test]
fn torn_action_log_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    append_n(&store, "s", 0, 5, 20);
    store.record_pull("s", "g", "c", false, 0, &[0, 1]).unwrap();
    drop(store);
    let action_dir = dir.path().join(ACTION_LOG_DIR);
    let segment = fs::read_dir(&action_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let used = fs::read(&segment)
        .unwrap()
        .iter()
        .rposition(|&b| b != 0)
        .unwrap()
        + 1;
    write_at(
        &segment,
        used as u64,
        &[0xC3, 0xB2, 0xA1, 0x00, 0, 0, 0, 0, 0, 99],
    );
    for _ in 0..3 {
        let store = Store::open(small_config(), dir.path()).unwrap();
        assert_eq!(
            store.consumer_progress("s", "g", "c").unwrap(),
            Some(ConsumerProgress { pull: 1, ack: -1 })
        );
    }
}

#[test]
fn sync_flush_policy_appends_durably() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        flush: FlushPolicy::Sync,
        ..small_config()
    };
    let store = Store::open(config.clone(), dir.path()).unwrap();
    let a = append_n(&store, "d", 0, 3, 10);
    let end = a[2].offset + u64::from(a[2].size);
    assert_eq!(lock(&store.flush).unwrap().message, end);
    drop(store);
    let store = Store::open(config, dir.path()).unwrap();
    assert_eq!(store.max_sequence("d").unwrap(), 2);
}

#[test]
fn retention_deletes_only_expired_inactive_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        retention: Duration::from_secs(3600),
        ..small_config()
    };
    let store = Store::open(config, dir.path()).unwrap();
    append_n(&store, "old", 0, 200, 1000);
    let segments = message_segments(dir.path());
    assert!(segments.len() >= 4);
    let now = SystemTime::now();
    let two_hours_ago = now - Duration::from_secs(7200);
    // The first two segments are old; the others are recent.
    for path in &segments[..2] {
        let f = OpenOptions::new().write(true).open(path).unwrap();
        f.set_modified(two_hours_ago).unwrap();
    }
    let report = store.clean_expired(now).unwrap();
    assert_eq!(report.message_segments, 2);
    assert_eq!(message_segments(dir.path()), segments[2..].to_vec());
    // Messages in deleted segments are gone; the rest are readable.
    let left = all_payloads(&store, "old");
    assert!(!left.is_empty() && left.len() < 200);
    assert_eq!(left.last().unwrap().0, 199);

    // Far in the future everything has expired, but the active segment stays.
    let later = now + Duration::from_secs(100 * 3600);
    for path in message_segments(dir.path()) {
        let f = OpenOptions::new().write(true).open(path).unwrap();
        f.set_modified(now).unwrap();
    }
    let report = store.clean_expired(later).unwrap();
    assert_eq!(message_segments(dir.path()).len(), 1);
    assert!(report.consume_segments >= 2, "{report:?}");
    assert_eq!(append_n(&store, "old", 200, 1, 10)[0].sequence, 200);
    drop(store);
    let store = Store::open(small_config(), dir.path()).unwrap();
    assert_eq!(store.max_sequence("old").unwrap(), 200);
    let seqs: Vec<i64> = store
        .read("old", 0, 100)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.sequence)
        .collect();
    // Records of the surviving (active) message segment are readable again; their consume-log
    // units were rewritten on recovery.
    assert_eq!(seqs.last(), Some(&200));
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1) && seqs[0] > 100,
        "{seqs:?}"
    );
}

#[test]
fn background_thread_flushes_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        flush: FlushPolicy::Periodic {
            interval: Duration::from_millis(10),
        },
        checkpoint_interval: Duration::from_millis(20),
        ..small_config()
    };
    let store = std::sync::Arc::new(Store::open(config, dir.path()).unwrap());
    let mut background = store.start_background().unwrap();
    append_n(&store, "bg", 0, 5, 10);
    let cp = dir
        .path()
        .join(CHECKPOINT_DIR)
        .join(checkpoint::MESSAGE_FILE);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !fs::read_to_string(&cp).is_ok_and(|t| t.contains("bg/4")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint written"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    background.stop();
}

#[test]
fn a_new_group_is_durable_without_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_config(), dir.path()).unwrap();
    append_n(&store, "s", 0, 5, 20);
    store.ensure_group("s", "g", Some("c"), false, 4).unwrap();
    drop(store);
    let store = Store::open(small_config(), dir.path()).unwrap();
    let progress = store.group_progress("s", "g").unwrap().unwrap();
    assert_eq!(progress.pull, 4, "the group keeps its starting cursor");
    assert_eq!(
        progress.consumers["c"],
        ConsumerProgress { pull: -1, ack: -1 }
    );
    assert!(
        store
            .pull_log_read("c", "g", "s", 0, 10)
            .unwrap()
            .is_empty()
    );
}
