use std::io::{Read, Write};
use std::net::TcpStream;

use super::*;

fn redis_ping(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 16];
    let n = stream.read(&mut reply)?;
    Ok(String::from_utf8_lossy(&reply[..n]).into_owned())
}

#[test]
fn redis_starts_stops_and_starts_again() {
    let mut redis = DatabaseServer::redis().expect("start redis");
    assert_eq!(redis_ping(redis.port()).unwrap(), "+PONG\r\n");
    redis.stop();
    assert!(
        redis_ping(redis.port()).is_err(),
        "stopped server still answers"
    );
    redis.start().expect("restart redis");
    assert_eq!(redis_ping(redis.port()).unwrap(), "+PONG\r\n");
}

#[test]
fn postgres_accepts_connections_and_has_the_test_database() {
    let pg = DatabaseServer::postgres().expect("start postgres");
    assert!(pg.url().ends_with("/qmq"));
    let out = Command::new(postgres_psql())
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port().to_string(),
            "-U",
            "postgres",
            "-d",
            "qmq",
        ])
        .args(["-tAc", "SELECT 40 + 2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42", "{out:?}");
}

fn postgres_psql() -> PathBuf {
    PathBuf::from("psql")
}

#[test]
fn mariadb_accepts_tcp_connections_as_root() {
    let db = DatabaseServer::mariadb().expect("start mariadb");
    let out = Command::new("mariadb")
        .args([
            "--no-defaults",
            "-h127.0.0.1",
            &format!("-P{}", db.port()),
            "-uroot",
            "qmq",
        ])
        .args(["-N", "-e", "SELECT 40 + 2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42", "{out:?}");
}

#[test]
fn a_dropped_server_stops_listening() {
    let redis = DatabaseServer::redis().expect("start redis");
    let port = redis.port();
    drop(redis);
    assert!(redis_ping(port).is_err());
}
