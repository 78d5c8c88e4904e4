//! `qmq bench --json` prints one JSON line with sane figures.

use crate::support::{TestServer, run, stderr, stdout};

#[test]
fn bench_json_reports_positive_throughput_and_latencies() {
    let server = TestServer::start();
    let out = run(&[
        "bench",
        "--meta",
        server.meta_url(),
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--rate",
        "2000",
        "--json",
    ]);
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {text}");
    let report: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
    for key in [
        "produce_msgs_per_sec",
        "consume_msgs_per_sec",
        "e2e_p50_ms",
        "e2e_p99_ms",
        "e2e_p999_ms",
    ] {
        let v = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {text}"));
        assert!(v > 0.0 && v.is_finite(), "{key} = {v}");
    }
    let p50 = report["e2e_p50_ms"].as_f64().unwrap();
    let p99 = report["e2e_p99_ms"].as_f64().unwrap();
    let p999 = report["e2e_p999_ms"].as_f64().unwrap();
    assert!(p50 <= p99 && p99 <= p999, "{text}");
    // The rate limit holds (with slack for a loaded machine) and everything was consumed.
    let produced = report["produce_msgs_per_sec"].as_f64().unwrap();
    assert!(produced < 2000.0 * 1.2, "{text}");
    assert_eq!(report["drained"], true, "{text}");
}
