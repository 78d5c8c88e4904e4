//! `qmq send` then `qmq consume` returns the message, with its tags and properties.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{TestServer, qmq, run, stderr, stdout};

#[test]
fn sent_message_is_consumed_with_its_tags_and_properties() {
    let server = TestServer::start();
    let meta = server.meta_url();
    let subject = "cli.send.consume";
    // A new group starts at the newest message, so the consumer runs first and the sender
    // repeats until the consumer has printed one.
    let mut consumer = qmq(&[
        "consume",
        "--meta",
        meta,
        "--subject",
        subject,
        "--group",
        "g",
        "--count",
        "1",
        "--timeout",
        "30s",
        "--json",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("consume starts");
    let out = consumer.stdout.take().expect("stdout");
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent_ids = Vec::new();
    let line = loop {
        assert!(Instant::now() < deadline, "nothing consumed");
        let sent = run(&[
            "send",
            "--meta",
            meta,
            "--subject",
            subject,
            "--tag",
            "red",
            "--prop",
            "k=v",
            "hello world",
        ]);
        assert!(sent.status.success(), "send failed: {}", stderr(&sent));
        let text = stdout(&sent);
        let (id, group) = text.trim().split_once('\t').expect("id <tab> group");
        assert!(!id.is_empty() && !group.is_empty(), "{text}");
        sent_ids.push(id.to_owned());
        if let Ok(line) = line_rx.recv_timeout(Duration::from_millis(700)) {
            break line;
        }
    };
    let status = consumer.wait().expect("consume exits");
    assert!(status.success());

    let got: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
    let id = got["message_id"].as_str().expect("message_id");
    assert!(sent_ids.iter().any(|s| s == id), "{id} not in {sent_ids:?}");
    assert_eq!(got["subject"], subject);
    assert_eq!(got["tags"], serde_json::json!(["red"]));
    assert_eq!(got["props"]["body"], "hello world");
    assert_eq!(got["props"]["k"], "v");
    assert_eq!(got["times"], 1);
}

#[test]
fn send_prints_one_line_per_message_and_consume_times_out_cleanly() {
    let server = TestServer::start();
    let meta = server.meta_url();
    let sent = run(&[
        "send",
        "--meta",
        meta,
        "--subject",
        "cli.count",
        "--count",
        "3",
        "--json",
        "--delay",
        "1s",
        "b",
    ]);
    assert!(sent.status.success(), "{}", stderr(&sent));
    let lines: Vec<serde_json::Value> = stdout(&sent)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["broker_group"].is_string()));

    // Nothing new arrives for a fresh group: no --count means a clean exit after the timeout.
    let idle = run(&[
        "consume",
        "--meta",
        meta,
        "--subject",
        "cli.idle",
        "--group",
        "g",
        "--timeout",
        "300ms",
    ]);
    assert!(idle.status.success(), "{}", stderr(&idle));
    assert!(stdout(&idle).is_empty());
    // With --count, falling short is an error.
    let short = run(&[
        "consume",
        "--meta",
        meta,
        "--subject",
        "cli.idle",
        "--group",
        "g",
        "--count",
        "1",
        "--timeout",
        "300ms",
    ]);
    assert!(!short.status.success());
    assert!(stderr(&short).contains("got 0 of 1"), "{}", stderr(&short));
}
