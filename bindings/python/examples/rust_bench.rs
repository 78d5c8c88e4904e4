//! The Rust baseline for `python/bench/producer_bench.py`: the same scenarios with the core's
//! Rust API, against the same server, in the same run.
//!
//! `rust_bench produce <meta_url> <count> <subject> [warmup_secs]`: sends `count` messages with
//! a 100-byte property, pipelined (`send_with_backpressure`), and waits for every result. With
//! `warmup_secs`, it first sends the same way for that long (not timed), so that it is compared
//! in a steady state with a host that warms up its JIT for as long (the Java bench does).
//! `rust_bench consume <meta_url> <count> <subject>`: subscribes a pull consumer, warms it up,
//! sends `count` messages (not timed), then times pulling and acking all of them.
//!
//! Prints one JSON line: `{"mode":..,"count":..,"seconds":..,"msgs_per_sec":..}`.

use std::time::{Duration, Instant};

use qmq_core::client::consumer::ConsumeOptions;
use qmq_core::client::{Client, ClientConfig, Producer};

const BODY_LEN: usize = 100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, meta_url, count, subject, warmup) = match args.as_slice() {
        [_, mode, meta_url, count, subject] => (mode, meta_url, count, subject, 0.0),
        [_, mode, meta_url, count, subject, warmup] => {
            (mode, meta_url, count, subject, warmup.parse::<f64>()?)
        }
        _ => {
            return Err(
                "usage: rust_bench produce|consume <meta_url> <count> <subject> [warmup_secs]"
                    .into(),
            );
        }
    };
    let count: usize = count.parse()?;
    let mut config = ClientConfig::new("bench");
    config.meta.url.clone_from(meta_url);
    let client = Client::new(config)?;
    let producer = client.producer();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let seconds = match mode.as_str() {
        "produce" => {
            // Warm up the route and the connection.
            producer.send_blocking(producer.generate_message(subject)?)?;
            let warm_until = Instant::now() + Duration::from_secs_f64(warmup);
            while Instant::now() < warm_until {
                rt.block_on(send_all(&producer, subject, count.min(50_000)))?;
            }
            let start = Instant::now();
            rt.block_on(send_all(&producer, subject, count))?;
            start.elapsed().as_secs_f64()
        }
        "consume" => {
            let pc =
                client
                    .consumer()?
                    .pull_consumer(subject, "bench", ConsumeOptions::default())?;
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let mut m = producer.generate_message(subject)?;
                m.set_property("warmup", "1")?;
                producer.send_blocking(m)?;
                let got = pc.pull_blocking(16, Duration::from_millis(500))?;
                let warm = !got.is_empty();
                got.into_iter().for_each(|d| d.ack());
                if warm {
                    break;
                }
                if Instant::now() > deadline {
                    return Err("the consumer never received a warm-up message".into());
                }
            }
            rt.block_on(send_all(&producer, subject, count))?;
            let start = Instant::now();
            let mut got = 0usize;
            while got < count {
                for d in pc.pull_blocking(64, Duration::from_secs(1))? {
                    if d.attr("warmup").is_none() {
                        got += 1;
                    }
                    d.ack();
                }
                if start.elapsed() > Duration::from_secs(300) {
                    return Err(format!("only {got} of {count} messages consumed").into());
                }
            }
            let seconds = start.elapsed().as_secs_f64();
            pc.close_blocking()?;
            seconds
        }
        other => return Err(format!("unknown mode {other:?}").into()),
    };
    client.close(Duration::from_secs(5))?;
    println!(
        "{{\"mode\":\"{mode}\",\"count\":{count},\"seconds\":{seconds:.4},\"msgs_per_sec\":{:.0}}}",
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
