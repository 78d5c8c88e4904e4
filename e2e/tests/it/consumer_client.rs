//! `Client::consumer`: producer and consumer of real clients end to end.

use std::sync::Arc;
use std::time::Duration;

use qmq_core::client::consumer::{ConsumeOptions, Handler};
use qmq_core::client::{Client, ClientError};
use qmq_core::protocol::Message;

use crate::consumer_support::{Seen, TestServer, WARM_UP, bodies, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_producer_feeds_another_clients_listener() {
    let server = TestServer::start().await;
    let subject = "consumer.client";
    let producer_client = Client::new(server.client_config()).expect("client");
    let consumer_client = Client::new(server.client_config()).expect("client");
    let producer = producer_client.producer();
    let consumer = consumer_client.consumer().expect("consumer");
    let seen = Seen::default();
    let handler: Handler = {
        let seen = seen.clone();
        Arc::new(move |m: &Message| {
            seen.lock().expect("lock").push(m.clone());
            Ok(())
        })
    };
    let sub = consumer
        .subscribe(subject, "g", ConsumeOptions::default(), handler)
        .expect("subscribe");
    let send = |body: &str| {
        let mut m = producer.generate_message(subject).expect("message");
        m.set_property("body", body).expect("property");
        producer.send(m)
    };
    let mut warm = false;
    for _ in 0..50 {
        send(WARM_UP).await.expect("sent");
        warm = eventually(Duration::from_millis(300), || {
            !seen.lock().expect("lock").is_empty()
        })
        .await;
        if warm {
            break;
        }
    }
    assert!(warm, "consumer group registered");
    for i in 0..20 {
        send(&i.to_string()).await.expect("sent");
    }
    assert!(eventually(Duration::from_secs(10), || bodies(&seen).len() >= 20).await);
    let mut got: Vec<u32> = bodies(&seen)
        .iter()
        .map(|b| b.parse().expect("number"))
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..20).collect::<Vec<_>>());

    // Closing the client stops its subscriptions.
    consumer_client
        .close_async(Duration::from_secs(1))
        .await
        .expect("close");
    tokio::time::timeout(Duration::from_secs(10), sub.stopped())
        .await
        .expect("subscription stops with its client");
    assert!(matches!(
        consumer_client.consumer(),
        Err(ClientError::RuntimeShutDown)
    ));
    producer_client
        .close_async(Duration::from_secs(1))
        .await
        .expect("close");
    server.stop().await;
}
