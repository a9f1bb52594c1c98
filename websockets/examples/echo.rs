//! Echo client: connects to a URL, sends one message, prints what comes back, closes.
//!
//! ```text
//! cargo run -p websockets --example echo -- ws://127.0.0.1:9001/ "hello"
//! cargo run -p websockets --example echo -- wss://localhost:8443/ "hello" --ca test-ca.pem
//! RUST_LOG=debug cargo run -p websockets --example echo -- ...   # with the crate's logs
//! ```
//!
//! `ws://` URLs connect with `WebsocketType::NonSecure`, `wss://` with `Secure` (verified TLS).

use std::sync::mpsc;
use std::time::Duration;

use websockets::{ClientOptions, WebsocketType, create_client_with};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();

    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut message = None;
    let mut options = ClientOptions::new();
    while let Some(arg) = args.next() {
        if arg == "--ca" {
            options = options.add_ca_pem_file(args.next().ok_or("--ca needs a PEM file path")?);
        } else if url.is_none() {
            url = Some(arg);
        } else {
            message = Some(arg);
        }
    }
    let url = url.ok_or("usage: echo <ws://... | wss://...> [message] [--ca ca.pem]")?;
    let message = message.unwrap_or_else(|| "hello from the websockets crate".to_string());
    let websocket_type = if url.starts_with("ws://") {
        WebsocketType::NonSecure
    } else {
        WebsocketType::Secure
    };

    let (tx, rx) = mpsc::channel::<String>();
    let options = options.on_close(|code, reason| eprintln!("closed: {code} {reason:?}"));
    let client = create_client_with(
        &url,
        move |msg: &str| {
            let _ = tx.send(msg.to_owned());
        },
        websocket_type,
        options,
    )?;
    println!("sent: {message}");
    client.send_text(message)?;
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(echo) => println!("received: {echo}"),
        Err(_) => eprintln!("no reply within 10 s"),
    }
    client.close(1000, "done")?;
    client.wait_closed(Duration::from_secs(5));
    Ok(())
}
