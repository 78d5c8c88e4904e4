//! `qmq send`: builds messages from flags and sends them, printing each message id and the
//! broker group that stored it.
//!
//! QMQ's payload is the attribute map, so the body goes into a property (`body` unless
//! `--body-key` says otherwise); a body longer than one wire string is stored as QMQ's large
//! string (`body#part0..N`). Invariant: every message is sent before anything is printed as
//! failed, and one failure makes the command exit non-zero.

use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::Args;
use qmq_core::client::producer::message::MAX_VALUE_LEN;
use qmq_core::client::{Producer, ProducerMessage};

use crate::time_arg::{parse_duration, parse_time};
use crate::{CLOSE_DEADLINE, Common};

/// Arguments of `qmq send`.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// Subject to send to.
    #[arg(long)]
    subject: String,
    /// A tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// A property `key=value` (repeatable).
    #[arg(long = "prop", value_name = "KEY=VALUE", value_parser = parse_prop)]
    props: Vec<(String, String)>,
    /// Deliver after this delay (e.g. 30s, 5m).
    #[arg(long, value_parser = parse_duration, conflicts_with = "at")]
    delay: Option<Duration>,
    /// Deliver at this time: RFC 3339 or epoch milliseconds.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    at: Option<SystemTime>,
    /// How many copies to send (each with its own id).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Property that carries the body.
    #[arg(long, default_value = "body")]
    body_key: String,
    /// Print one JSON object per message instead of text.
    #[arg(long)]
    json: bool,
    /// The message body.
    body: String,
}

fn parse_prop(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// Runs `qmq send`.
///
/// # Errors
/// Bad arguments (subject, tags, properties), an unreachable cluster, or a failed send.
pub async fn run(common: &Common, args: SendArgs) -> anyhow::Result<()> {
    let client = common.client()?;
    let producer = client.producer();
    let mut futures = Vec::with_capacity(args.count as usize);
    for _ in 0..args.count {
        let message = build(&producer, &args)?;
        futures.push(producer.send(message));
    }
    let mut failed = 0usize;
    for future in futures {
        match future.await {
            Ok(receipt) => {
                if args.json {
                    let line = serde_json::json!({
                        "message_id": receipt.message_id,
                        "broker_group": receipt.broker_group,
                        "attempts": receipt.attempts,
                    });
                    println!("{line}");
                } else {
                    println!("{}\t{}", receipt.message_id, receipt.broker_group);
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: send failed: {e}");
            }
        }
    }
    // Everything has completed, so closing only stops the client's tasks.
    let _ = client.close_async(CLOSE_DEADLINE).await;
    if failed > 0 {
        bail!("{failed} of {} messages were not sent", args.count);
    }
    Ok(())
}

fn build(producer: &Producer, args: &SendArgs) -> anyhow::Result<ProducerMessage> {
    let mut message = producer
        .generate_message(&args.subject)
        .context("bad --subject")?;
    for tag in &args.tags {
        message
            .add_tag(tag)
            .with_context(|| format!("bad --tag {tag:?}"))?;
    }
    for (key, value) in &args.props {
        message
            .set_property(key, value.as_str())
            .with_context(|| format!("bad --prop {key}"))?;
    }
    if args.body.len() > MAX_VALUE_LEN {
        message.set_large_string(&args.body_key, &args.body)
    } else {
        message.set_property(&args.body_key, args.body.as_str())
    }
    .context("bad body or --body-key")?;
    if let Some(delay) = args.delay {
        message.set_delay(delay).context("bad --delay")?;
    }
    if let Some(at) = args.at {
        message.set_delay_until(at).context("bad --at")?;
    }
    Ok(message)
}
