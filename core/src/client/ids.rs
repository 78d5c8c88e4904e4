//! Message ids and client ids in QMQ's formats (spec §8).
//!
//! * Message id: `yyMMdd.HHmmss.<ipv4>.<pid>.<counter>`, local time zone, e.g.
//!   `190603.154239.100.80.128.160.3316.0`. The counter is process-wide (shared by every
//!   generator, as in the Java client), starts at 0 and wraps like a Java `int`, so ids stay
//!   unique within one process even when several clients use different IPs. Servers treat ids
//!   as opaque strings of at most [`MAX_MESSAGE_ID_LEN`] bytes; ours are at most ~55.
//!   Formatting the date with chrono costs about a microsecond, so [`MessageIdGenerator::next_id`]
//!   keeps the `yyMMdd.HHmmss` of the current epoch second in a thread-local cache and formats
//!   it again only when the second changes (an epoch second always maps to the same local
//!   fields, so the cache can never be stale within its second).
//! * Client id: `<hostname>@@<32 lowercase hex>`. It names the owner of a pull log and is the
//!   group of a broadcast consumer, so two live consumers must never share one:
//!   [`ClientId::generate`] is unique per instance; [`ClientId::from_seed`] is deterministic for
//!   callers that want the same id across restarts (the Java client hashes its jar path).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, TimeZone};

use super::hash::fnv1a_128_hex;

/// Longest message id a QMQ server accepts.
pub const MAX_MESSAGE_ID_LEN: usize = 100;

/// The process-wide message id counter (Java: `AtomicInteger` from 0, wrapping).
static MESSAGE_COUNTER: AtomicI32 = AtomicI32::new(0);

/// Length of the `yyMMdd.HHmmss` date part of a message id.
const DATE_LEN: usize = 13;

thread_local! {
    /// `(epoch second, its local `yyMMdd.HHmmss`)` of the last id made on this thread.
    static DATE_CACHE: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// Creates message ids for one client; cheap to clone.
#[derive(Debug, Clone)]
pub struct MessageIdGenerator {
    /// `.<ipv4>.<pid>.` — the constant middle of every id.
    middle: String,
}

impl MessageIdGenerator {
    /// A generator for this host: `ip` if given (the equivalent of Java's `-Dqmq.ip`), else
    /// [`local_ipv4`].
    pub fn new(ip: Option<Ipv4Addr>) -> Self {
        let ip = ip.unwrap_or_else(local_ipv4);
        Self::with_parts(ip, std::process::id())
    }

    /// A generator with an explicit IP and PID (tests, or hosts that know better).
    pub fn with_parts(ip: Ipv4Addr, pid: u32) -> Self {
        Self {
            middle: format!(".{ip}.{pid}."),
        }
    }

    /// The next id, stamped with the current local time.
    pub fn next_id(&self) -> String {
        self.id_at_system_time(SystemTime::now())
    }

    /// The next id, stamped with `now` in the local time zone, through the per-thread cache of
    /// the date of the current second.
    fn id_at_system_time(&self, now: SystemTime) -> String {
        let Some(second) = now
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
        else {
            return self.id_at(&DateTime::<Local>::from(now));
        };
        let counter = MESSAGE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(DATE_LEN + self.middle.len() + 11);
        DATE_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != second {
                cache.1.clear();
                match Local.timestamp_opt(second, 0).earliest() {
                    Some(t) => write!(cache.1, "{}", t.format("%y%m%d.%H%M%S")),
                    None => write!(
                        cache.1,
                        "{}",
                        DateTime::<Local>::from(now).format("%y%m%d.%H%M%S")
                    ),
                }
                .expect("writing to a String cannot fail");
                cache.0 = second;
            }
            id.push_str(&cache.1);
        });
        id.push_str(&self.middle);
        push_i32(&mut id, counter);
        id
    }

    /// The next id, stamped with `now` (any time zone; the fields are taken as given).
    pub fn id_at<Tz: TimeZone>(&self, now: &DateTime<Tz>) -> String
    where
        Tz::Offset: fmt::Display,
    {
        let counter = MESSAGE_COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{}{}{counter}", now.format("%y%m%d.%H%M%S"), self.middle)
    }
}

/// Appends `n` in decimal, as `Display` would, without the formatting machinery (which costs
/// more than the rest of [`MessageIdGenerator::next_id`]).
fn push_i32(out: &mut String, n: i32) {
    if n < 0 {
        out.push('-');
    }
    let mut v = n.unsigned_abs();
    let mut buf = [0u8; 10];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // ASCII digits are always UTF-8; the check is a short fast path.
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// The IPv4 address this host is known by: the source address the kernel would use for the
/// default route (found with a UDP `connect`, which sends nothing), else the first non-loopback
/// local address in `/proc/net/fib_trie` (Linux), else `127.0.0.1`.
pub fn local_ipv4() -> Ipv4Addr {
    udp_route_ipv4()
        .or_else(fib_trie_ipv4)
        .unwrap_or(Ipv4Addr::LOCALHOST)
}

fn usable(ip: Ipv4Addr) -> bool {
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast())
}

fn udp_route_ipv4() -> Option<Ipv4Addr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    // 192.0.2.1 is TEST-NET-1 (RFC 5737). `connect` on UDP only selects a route and source
    // address; no datagram is sent.
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    match socket.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if usable(ip) => Some(ip),
        _ => None,
    }
}

fn fib_trie_ipv4() -> Option<Ipv4Addr> {
    let text = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    first_local_in_fib_trie(&text)
}

/// In `/proc/net/fib_trie`, a local address is a `|-- a.b.c.d` line followed by
/// `/32 host LOCAL`. Addresses of interfaces that are down are not listed.
fn first_local_in_fib_trie(text: &str) -> Option<Ipv4Addr> {
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("|-- ") {
            last = rest.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL") {
            if let Some(ip) = last.filter(|ip| usable(*ip)) {
                return Some(ip);
            }
        }
    }
    None
}

/// This host's name: `/proc/sys/kernel/hostname`, else `$HOSTNAME` / `%COMPUTERNAME%`, else
/// `localhost`. Whitespace and `@` (which would confuse the `@@` separator) are removed.
pub fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let clean: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '@')
        .collect();
    if clean.is_empty() {
        "localhost".to_owned()
    } else {
        clean
    }
}

/// A client id, `<hostname>@@<32 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// A fresh id, unique to this client instance: the hex is a hash of the executable path,
    /// PID, wall-clock nanoseconds, a process-wide sequence number and a random number.
    pub fn generate() -> Self {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let exe = std::env::current_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let hex = fnv1a_128_hex(&[
            exe.as_bytes(),
            &std::process::id().to_be_bytes(),
            &nanos.to_be_bytes(),
            &seq.to_be_bytes(),
            &fastrand::u64(..).to_be_bytes(),
        ]);
        Self(format!("{}@@{hex}", hostname()))
    }

    /// A deterministic id: `<host>@@<hash of seed>`. The same (host, seed) always gives the same
    /// id, so a consumer restarted with the same seed resumes its own pull log. Do not give two
    /// live consumers the same seed.
    pub fn from_seed(host: &str, seed: &[u8]) -> Self {
        Self(format!("{host}@@{}", fnv1a_128_hex(&[seed])))
    }

    /// An id given verbatim by the user (e.g. from configuration).
    pub fn from_string(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};
    use std::collections::HashSet;

    #[test]
    fn message_id_has_qmq_layout() {
        let g = MessageIdGenerator::with_parts(Ipv4Addr::new(100, 80, 128, 160), 3316);
        let t = Utc.with_ymd_and_hms(2019, 6, 3, 15, 42, 39).unwrap();
        let id = g.id_at(&t);
        let (prefix, counter) = id.rsplit_once('.').unwrap();
        assert_eq!(prefix, "190603.154239.100.80.128.160.3316");
        counter.parse::<i32>().unwrap();
    }

    #[test]
    fn message_id_uses_the_given_zone_fields() {
        let g = MessageIdGenerator::with_parts(Ipv4Addr::new(10, 0, 0, 1), 1);
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        let t = Utc
            .with_ymd_and_hms(2024, 12, 31, 20, 0, 1)
            .unwrap()
            .with_timezone(&tz);
        assert!(g.id_at(&t).starts_with("250101.040001.10.0.0.1.1."));
    }

    #[test]
    fn message_ids_are_unique_and_short() {
        let g = MessageIdGenerator::new(None);
        let ids: HashSet<String> = (0..1000).map(|_| g.next_id()).collect();
        assert_eq!(ids.len(), 1000);
        let worst = MessageIdGenerator::with_parts(Ipv4Addr::new(255, 255, 255, 255), u32::MAX);
        assert!(worst.next_id().len() + 10 <= MAX_MESSAGE_ID_LEN);
    }

    #[test]
    fn cached_date_follows_the_second_boundary() {
        let g = MessageIdGenerator::with_parts(Ipv4Addr::new(10, 0, 0, 1), 7);
        let local_prefix = |t: SystemTime| {
            format!(
                "{}.10.0.0.1.7.",
                DateTime::<Local>::from(t).format("%y%m%d.%H%M%S")
            )
        };
        // 23:59:59.999 → 00:00:00.000 local changes every field of the date.
        let base = Local
            .with_ymd_and_hms(2024, 12, 31, 23, 59, 59)
            .earliest()
            .unwrap();
        let before = SystemTime::from(base) + std::time::Duration::from_millis(10);
        let same = SystemTime::from(base) + std::time::Duration::from_millis(999);
        let after = SystemTime::from(base) + std::time::Duration::from_millis(1000);
        let a = g.id_at_system_time(before);
        let b = g.id_at_system_time(same);
        let c = g.id_at_system_time(after);
        assert!(a.starts_with(&local_prefix(before)), "{a}");
        assert!(b.starts_with(&local_prefix(same)), "{b}");
        assert!(c.starts_with(&local_prefix(after)), "{c}");
        assert_ne!(a[..DATE_LEN], c[..DATE_LEN]);
        // Going back a second (clock step) re-formats too.
        let d = g.id_at_system_time(before);
        assert_eq!(a[..DATE_LEN], d[..DATE_LEN]);
        assert!(d.starts_with(&local_prefix(before)));
        // And the cached path gives what chrono gives for the current time.
        let now = SystemTime::now();
        let e = g.id_at_system_time(now);
        assert!(e.starts_with(&local_prefix(now)), "{e}");
    }

    #[test]
    fn counter_digits_match_display() {
        for n in [0, 7, 10, 99, 12345, i32::MAX, -1, -10, i32::MIN] {
            let mut s = String::new();
            push_i32(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn local_ipv4_is_never_unspecified() {
        assert!(!local_ipv4().is_unspecified());
    }

    #[test]
    fn fib_trie_parser_skips_loopback_and_non_local_entries() {
        let text = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
                    \x20    |-- 127.0.0.1\n        /32 host LOCAL\n     |-- 172.17.255.255\n\
                    \x20       /32 link BROADCAST\n     |-- 172.17.0.2\n        /32 host LOCAL\n";
        assert_eq!(
            first_local_in_fib_trie(text),
            Some(Ipv4Addr::new(172, 17, 0, 2))
        );
        assert_eq!(
            first_local_in_fib_trie("|-- 127.0.0.1\n/32 host LOCAL\n"),
            None
        );
    }

    #[test]
    fn client_ids_have_qmq_shape() {
        let a = ClientId::generate();
        let b = ClientId::generate();
        assert_ne!(a, b);
        let (host, hex) = a.as_str().split_once("@@").unwrap();
        assert!(!host.is_empty());
        assert_eq!(hex.len(), 32);
        assert!(
            hex.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn seeded_client_id_is_deterministic() {
        let a = ClientId::from_seed("h", b"/opt/app.jar");
        assert_eq!(a, ClientId::from_seed("h", b"/opt/app.jar"));
        assert_ne!(a, ClientId::from_seed("h", b"/opt/other.jar"));
        assert!(a.to_string().starts_with("h@@"));
    }

    #[test]
    fn hostname_is_clean() {
        let h = hostname();
        assert!(!h.is_empty());
        assert!(!h.contains('@') && !h.contains(char::is_whitespace));
    }
}
