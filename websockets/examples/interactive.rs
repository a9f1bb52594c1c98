//! Interactive client: every line typed on stdin is sent as a text message; everything that arrives is
//! printed. End with Ctrl-D (EOF), which closes the connection with code 1000.
//!
//! ```text
//! cargo run -p websockets --example interactive -- ws://127.0.0.1:9001/
//! cargo run -p websockets --example interactive -- wss://localhost:8443/ --ca test-ca.pem
//! ```
//!
//! Typing `/binary <text>` sends the text's bytes as a binary message; `/close <code> <reason>` closes with
//! that code and reason.

use std::io::BufRead;
use std::time::Duration;

use websockets::{ClientOptions, WebsocketType, create_client_with};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();

    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut options = ClientOptions::new();
    while let Some(arg) = args.next() {
        if arg == "--ca" {
            options = options.add_ca_pem_file(args.next().ok_or("--ca needs a PEM file path")?);
        } else {
            url = Some(arg);
        }
    }
    let url = url.ok_or("usage: interactive <ws://... | wss://...> [--ca ca.pem]")?;
    let websocket_type = if url.starts_with("ws://") {
        WebsocketType::NonSecure
    } else {
        WebsocketType::Secure
    };

    let options = options
        .on_binary(|data| println!("< binary ({} bytes): {:02x?}", data.len(), data))
        .on_close(|code, reason| println!("* closed: {code} {reason:?}"))
        .on_error(|err| println!("* error: {err}"));
    // Handlers run on the connection's reader task, so output appears while we wait for stdin.
    let client = create_client_with(
        &url,
        |msg: &str| println!("< {msg}"),
        websocket_type,
        options,
    )?;
    println!("* connected to {url}; type lines to send, Ctrl-D to quit");

    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let result = if let Some(rest) = line.strip_prefix("/binary ") {
            client.send_binary(rest.as_bytes().to_vec())
        } else if let Some(rest) = line.strip_prefix("/close") {
            let mut parts = rest.trim().splitn(2, ' ');
            let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1000);
            client.close(code, parts.next().unwrap_or(""))
        } else {
            client.send_text(line)
        };
        if let Err(err) = result {
            println!("* cannot send: {err}");
        }
    }
    let _ = client.close(1000, "bye");
    client.wait_closed(Duration::from_secs(5));
    Ok(())
}
