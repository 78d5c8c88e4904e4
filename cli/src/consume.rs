//! `qmq consume`: pulls messages of one subject for one group, prints each as a line (text or
//! JSON) and acks it.
//!
//! Stops after `--count` messages, or when no message arrived for `--timeout`. A new consumer
//! group starts at the subject's newest message (QMQ), so messages sent before the group's
//! first pull are not seen by it. Invariant: a message is printed before it is acked, so an
//! interrupted run redelivers rather than loses.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use qmq_core::client::consumer::{ConsumeOptions, DeliveredMessage};
use qmq_core::protocol::TagType;

use crate::time_arg::parse_duration;
use crate::{CLOSE_DEADLINE, Common};

/// Arguments of `qmq consume`.
#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// Subject to consume.
    #[arg(long)]
    subject: String,
    /// Consumer group (not needed with --broadcast).
    #[arg(long, required_unless_present = "broadcast")]
    group: Option<String>,
    /// Server-side tag filter, comma-separated.
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// How the tags combine.
    #[arg(long, value_enum, default_value = "or")]
    tag_type: TagTypeArg,
    /// Broadcast: this client gets every message.
    #[arg(long)]
    broadcast: bool,
    /// Stop after this many messages (fail if fewer arrive before the timeout).
    #[arg(long)]
    count: Option<u64>,
    /// Stop when no message arrived for this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Print one JSON object per message instead of text.
    #[arg(long)]
    json: bool,
}

/// `--tag-type`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum TagTypeArg {
    /// Messages with any of the tags.
    Or,
    /// Messages with all of the tags.
    And,
}

/// Most messages asked for per pull.
const PULL_MAX: u64 = 64;

/// Runs `qmq consume`.
///
/// # Errors
/// Bad arguments, an unreachable cluster, or fewer than `--count` messages before the timeout.
pub async fn run(common: &Common, args: ConsumeArgs) -> anyhow::Result<()> {
    let client = common.client()?;
    let consumer = client.consumer().context("cannot create a consumer")?;
    let options = ConsumeOptions {
        tags: args.tags.clone(),
        tag_type: match args.tag_type {
            TagTypeArg::Or => TagType::Or,
            TagTypeArg::And => TagType::And,
        },
        broadcast: args.broadcast,
        ..ConsumeOptions::default()
    };
    let group = args.group.clone().unwrap_or_default();
    let puller = consumer
        .pull_consumer(&args.subject, &group, options)
        .context("cannot subscribe")?;
    let mut seen = 0u64;
    let outcome = loop {
        let want = args.count.map_or(PULL_MAX, |c| (c - seen).min(PULL_MAX));
        if want == 0 {
            break Ok(());
        }
        let batch = match puller.pull(want as usize, args.timeout).await {
            Ok(b) => b,
            Err(e) => break Err(e).context("pull failed"),
        };
        if batch.is_empty() {
            break Ok(());
        }
        for message in batch {
            println!("{}", render(&message, args.json));
            message.ack();
            seen += 1;
        }
    };
    puller.close().await;
    let _ = client.close_async(CLOSE_DEADLINE).await;
    outcome?;
    if let Some(count) = args.count
        && seen < count
    {
        bail!(
            "got {seen} of {count} messages: none arrived for {:?}",
            args.timeout
        );
    }
    Ok(())
}

/// One message as a line: `<id> tags=a,b times=N key="value" ...`, or a JSON object.
fn render(message: &DeliveredMessage, json: bool) -> String {
    let m = message.message();
    if json {
        let props: serde_json::Map<String, serde_json::Value> = m
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        return serde_json::json!({
            "message_id": message.message_id(),
            "subject": message.subject(),
            "tags": m.header.tags,
            "times": message.times(),
            "props": props,
        })
        .to_string();
    }
    let mut line = format!(
        "{} tags={} times={}",
        message.message_id(),
        m.header.tags.join(","),
        message.times()
    );
    for (k, v) in &m.attrs {
        line.push_str(&format!(" {k}={v:?}"));
    }
    line
}
