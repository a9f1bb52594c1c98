//! Many clients share one runtime: opening 200 connections does not add threads (the gem used one OS thread
//! per socket). Kept in its own test binary so no other test's threads are counted.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{PythonPeer, channel};
use websockets::{WebsocketType, create_client};

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task (Linux)")
        .count()
}

#[test]
fn two_hundred_clients_do_not_add_threads() {
    let peer = PythonPeer::start();
    let received = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel();
    let connect = |n: usize| {
        let received = Arc::clone(&received);
        let tx = tx.clone();
        create_client(
            &peer.ws_url("/echo"),
            move |_m: &str| {
                if received.fetch_add(1, Ordering::SeqCst) + 1 == n {
                    tx.send(()).unwrap();
                }
            },
            WebsocketType::NonSecure,
        )
        .expect("connect")
    };

    // Warm up: the shared runtime starts with the first client.
    let mut clients = vec![connect(200)];
    let threads_with_one = thread_count();
    while clients.len() < 200 {
        clients.push(connect(200));
    }
    let threads_with_200 = thread_count();

    // Every connection is live: each echoes one message.
    for client in &clients {
        client.send_text("ping").unwrap();
    }
    rx.next();
    assert_eq!(received.load(Ordering::SeqCst), 200);
    assert!(
        threads_with_200 <= threads_with_one,
        "thread count grew from {threads_with_one} (1 client) to {threads_with_200} (200 clients)"
    );
    eprintln!("threads: {threads_with_one} with 1 client, {threads_with_200} with 200 clients");
}
