//! The Rust baseline for `java/bench/run-bench.sh`: the Java producer benchmark's scenario with
//! the core's Rust API, against the same server, in the same run.
//!
//! `rust_bench <meta_url> <count> <subject>`: sends `count` messages with a 100-byte property,
//! pipelined (`send_with_backpressure`), and waits for every result. Prints one JSON line:
//! `{"lang":"rust","count":..,"seconds":..,"msgs_per_sec":..}`.

use std::time::{Duration, Instant};

use qmq_core::client::{Client, ClientConfig, Producer};

const BODY_LEN: usize = 100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, meta_url, count, subject] = args.as_slice() else {
        return Err("usage: rust_bench <meta_url> <count> <subject>".into());
    };
    let count: usize = count.parse()?;
    let mut config = ClientConfig::new("bench");
    config.meta.url.clone_from(meta_url);
    let client = Client::new(config)?;
    let producer = client.producer();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Warm up the route and the connection.
    producer.send_blocking(producer.generate_message(subject)?)?;
    let start = Instant::now();
    rt.block_on(send_all(&producer, subject, count))?;
    let seconds = start.elapsed().as_secs_f64();
    client.close(Duration::from_secs(5))?;
    println!(
        "{{\"lang\":\"rust\",\"count\":{count},\"seconds\":{seconds:.4},\"msgs_per_sec\":{:.0}}}",
        count as f64 / seconds
    );
    Ok(())
}

/// Builds and sends `count` messages with a 100-byte property, waiting for every result.
async fn send_all(
    producer: &Producer,
    subject: &str,
    count: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let body = "b".repeat(BODY_LEN);
    let mut pending = Vec::with_capacity(count);
    for _ in 0..count {
        let mut m = producer.generate_message(subject)?;
        m.set_property("body", body.as_str())?;
        pending.push(producer.send_with_backpressure(m).await?);
    }
    for f in pending {
        f.await?;
    }
    Ok(())
}
