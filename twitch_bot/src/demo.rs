//! The demo: a Twitch-like chat server on 127.0.0.1 with simulated viewers, for `twitch_bot --demo`.
//!
//! It speaks enough of Twitch IRC over WebSocket for the bot to run unchanged against it (the bot connects through
//! the same `websockets::create_client` path as to Twitch): `CAP REQ` / `PASS` / `NICK` login with the 001–376
//! welcome and `GLOBALUSERSTATE`, `JOIN` with its echo, `USERSTATE` and `ROOMSTATE`, `PING`/`PONG` both ways,
//! `PART`, and the bot's own `PRIVMSG` (logged on stderr). Viewers chat in every joined channel with real Twitch
//! tags (`id`, `user-id`, `display-name`, `tmi-sent-ts`, ...), several lines per frame now and then, and behave
//! like a real chat: most vote plainly, some in the wrong case, with `!vote up`, `+up`, `/me up`, invisible
//! characters or `up2`; one spams; one changes their mind; one gets timed out (`CLEARCHAT`) right after voting; a
//! message is deleted (`CLEARMSG`); a line is replayed with the same `id`; and some just chat.
//!
//! This is a demonstration and a smoke test, not a Twitch replica: the end-to-end tests use their own mock
//! server.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = twitch_bot::demo::DemoServer::start().await?;
//! println!("connect a Twitch client to {}", server.url());
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_tungstenite::tokio::accept_hdr_async;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::handshake::server::{Request, Response};
use async_tungstenite::tungstenite::http::HeaderValue;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

/// The token the demo's bot logs in with (the demo server accepts any token; this is not a secret).
pub const DEMO_TOKEN: &str = "demo-token-not-a-secret";

/// Longest line the demo server accepts from a client.
const MAX_CLIENT_FRAME: usize = 64 * 1024;

/// A running demo chat server. Dropping it stops accepting connections (open ones end with the runtime).
pub struct DemoServer {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl DemoServer {
    /// Binds 127.0.0.1 on a free port and starts serving on the current tokio runtime.
    pub async fn start() -> std::io::Result<DemoServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        debug!(%peer, "demo server: connection");
                        tokio::spawn(async move {
                            if let Err(e) = serve(stream).await {
                                debug!(%peer, error = %e, "demo server: connection ended");
                            }
                        });
                    }
                    Err(e) => {
                        warn!(error = %e, "demo server: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        info!(%addr, "demo chat server listening");
        Ok(DemoServer { addr, accept })
    }

    /// The `ws://127.0.0.1:PORT` URL to connect to.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

/// A [`DemoServer`] running on its own thread (for programs without a tokio runtime, such as the example game).
/// Dropping it stops the server.
pub struct BackgroundDemo {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundDemo {
    /// Starts the demo server on a new thread with its own small runtime.
    ///
    /// ```no_run
    /// let demo = twitch_bot::demo::BackgroundDemo::start()?;
    /// let mut config = twitch_bot::config::Config::demo();
    /// config.connection.server = demo.url().to_owned();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start() -> std::io::Result<BackgroundDemo> {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("twitch_bot-demo".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = url_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match DemoServer::start().await {
                        Ok(server) => {
                            let _ = url_tx.send(Ok(server.url()));
                            let _ = stop_rx.await;
                            drop(server);
                        }
                        Err(e) => {
                            let _ = url_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let url = url_rx
            .recv()
            .map_err(|_| std::io::Error::other("the demo server thread ended early"))??;
        Ok(BackgroundDemo {
            url,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The `ws://127.0.0.1:PORT` URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for BackgroundDemo {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

type DemoError = Box<dyn std::error::Error + Send + Sync>;

/// One client connection: login, joins, and the viewers' chat in the joined channels.
// The handshake callback's error type is tungstenite's HTTP response; its size is not ours to choose.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream) -> Result<(), DemoError> {
    stream.set_nodelay(true)?;
    // Echo the `irc` subprotocol only when offered (as Twitch does; tmi.js offers it, most clients don't).
    let callback = |req: &Request, mut resp: Response| {
        let offered = req
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|p| p.trim() == "irc"));
        if offered {
            resp.headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_static("irc"));
        }
        Ok(resp)
    };
    let mut ws = accept_hdr_async(stream, callback).await?;
    let mut nick: Option<String> = None;
    let mut pass = false;
    let mut channels: Vec<String> = Vec::new();
    let mut crowd = Crowd::new();
    let mut chat_tick = tokio::time::interval(Duration::from_millis(140));
    let mut ping_tick = tokio::time::interval(Duration::from_secs(15));
    ping_tick.tick().await;

    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(msg) = msg else { return Ok(()) };
                let text = match msg? {
                    Message::Text(t) => t.as_str().to_owned(),
                    Message::Close(_) => return Ok(()),
                    _ => continue,
                };
                if text.len() > MAX_CLIENT_FRAME {
                    return Err("client frame too long".into());
                }
                let mut out = Vec::new();
                for line in text.split(['\r', '\n']).filter(|l| !l.is_empty()) {
                    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
                    match cmd.to_ascii_uppercase().as_str() {
                        "CAP" => out.push(format!(":tmi.twitch.tv CAP * ACK :{}", rest.trim_start_matches("REQ :"))),
                        "PASS" => pass = true,
                        "NICK" => {
                            let n = rest.trim().to_ascii_lowercase();
                            if !pass && !n.starts_with("justinfan") {
                                out.push(":tmi.twitch.tv NOTICE * :Login authentication failed".to_owned());
                                send_lines(&mut ws, &out).await?;
                                ws.close(None).await.ok();
                                return Ok(());
                            }
                            for (code, text) in [
                                ("001", "Welcome, GLHF!"),
                                ("002", "Your host is tmi.twitch.tv"),
                                ("003", "This server is rather new"),
                                ("004", "-"),
                                ("375", "-"),
                                ("372", "You are in a maze of twisty passages, all alike."),
                                ("376", ">"),
                            ] {
                                out.push(format!(":tmi.twitch.tv {code} {n} :{text}"));
                            }
                            out.push(format!(
                                "@badge-info=;badges=;color=;display-name={n};emote-sets=0;user-id=42;user-type= \
                                 :tmi.twitch.tv GLOBALUSERSTATE"
                            ));
                            nick = Some(n);
                        }
                        "JOIN" => {
                            let Some(n) = &nick else { continue };
                            for ch in rest.trim().split(',') {
                                let ch = ch.trim().trim_start_matches('#').to_ascii_lowercase();
                                if ch.is_empty() { continue; }
                                out.push(format!(":{n}!{n}@{n}.tmi.twitch.tv JOIN #{ch}"));
                                out.push(format!(":{n}.tmi.twitch.tv 353 {n} = #{ch} :{n}"));
                                out.push(format!(":{n}.tmi.twitch.tv 366 {n} #{ch} :End of /NAMES list"));
                                out.push(format!(
                                    "@badge-info=;badges=;color=;display-name={n};emote-sets=0;mod=0;subscriber=0;\
                                     user-type= :tmi.twitch.tv USERSTATE #{ch}"
                                ));
                                out.push(format!(
                                    "@emote-only=0;followers-only=-1;r9k=0;room-id=1000;slow=0;subs-only=0 \
                                     :tmi.twitch.tv ROOMSTATE #{ch}"
                                ));
                                info!(channel = %ch, "demo server: bot joined; viewers start chatting");
                                if !channels.contains(&ch) { channels.push(ch); }
                            }
                        }
                        "PART" => {
                            let Some(n) = &nick else { continue };
                            let ch = rest.trim().trim_start_matches('#').to_ascii_lowercase();
                            channels.retain(|c| *c != ch);
                            out.push(format!(":{n}!{n}@{n}.tmi.twitch.tv PART #{ch}"));
                        }
                        "PING" => out.push(format!(":tmi.twitch.tv PONG tmi.twitch.tv {}", rest.trim())),
                        "PONG" => {}
                        "PRIVMSG" => {
                            let Some(n) = &nick else { continue };
                            let (target, text) = rest.split_once(" :").unwrap_or((rest, ""));
                            info!(channel = %target.trim_start_matches('#'), "demo chat <{n}> {text}");
                            out.push(format!(
                                "@badge-info=;badges=;color=;display-name={n};emote-sets=0;id={};mod=0;subscriber=0;\
                                 user-type= :tmi.twitch.tv USERSTATE {target}",
                                crowd.uuid()
                            ));
                        }
                        other => {
                            let n = nick.as_deref().unwrap_or("*");
                            out.push(format!(":tmi.twitch.tv 421 {n} {other} :Unknown command"));
                        }
                    }
                }
                send_lines(&mut ws, &out).await?;
            }
            _ = chat_tick.tick(), if !channels.is_empty() => {
                let ch = &channels[crowd.rng.random_range(0..channels.len())];
                let lines = crowd.next_lines(ch);
                send_lines(&mut ws, &lines).await?;
            }
            _ = ping_tick.tick(), if nick.is_some() => {
                send_lines(&mut ws, &["PING :tmi.twitch.tv".to_owned()]).await?;
            }
        }
    }
}

/// Sends lines as one frame, `\r\n`-terminated, as Twitch does.
async fn send_lines<S>(ws: &mut S, lines: &[String]) -> Result<(), DemoError>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    if lines.is_empty() {
        return Ok(());
    }
    let mut frame = String::new();
    for l in lines {
        frame.push_str(l);
        frame.push_str("\r\n");
    }
    ws.send(Message::text(frame)).await?;
    Ok(())
}

/// The simulated viewers.
struct Crowd {
    rng: SmallRng,
    /// The direction most of chat wants right now; it drifts so winners vary.
    favourite: usize,
    ticks: u64,
    /// The last plain line sent, for a replay with the same `id` (as after a reconnect).
    last: Option<String>,
    /// A message id that a moderator will delete.
    to_delete: Option<(String, String, String)>,
}

const VIEWERS: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar",
];
const DIRECTIONS: [&str; 4] = ["up", "down", "left", "right"];
const NOISE: [&str; 6] = [
    "lol",
    "PogChamp",
    "what game is this",
    "upup",
    "go left!!",
    "gg",
];

impl Crowd {
    fn new() -> Crowd {
        Crowd {
            rng: SmallRng::from_os_rng(),
            favourite: 0,
            ticks: 0,
            last: None,
            to_delete: None,
        }
    }

    fn uuid(&mut self) -> String {
        let a: u128 = self.rng.random();
        let h = format!("{a:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    fn line(&mut self, channel: &str, viewer: usize, text: &str) -> (String, String) {
        let login = VIEWERS[viewer];
        let id = self.uuid();
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let display = {
            let mut c = login.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        };
        let badges = if viewer == 0 { "moderator/1" } else { "" };
        let is_mod = u8::from(viewer == 0);
        let line = format!(
            "@badge-info=;badges={badges};color=#1E90FF;display-name={display};emotes=;first-msg=0;flags=;id={id};\
             mod={is_mod};returning-chatter=0;room-id=1000;subscriber=0;tmi-sent-ts={ts};turbo=0;user-id={uid};\
             user-type= :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #{channel} :{text}",
            uid = 1001 + viewer
        );
        (line, id)
    }

    /// The lines of the next frame (usually one, sometimes several).
    fn next_lines(&mut self, channel: &str) -> Vec<String> {
        self.ticks += 1;
        if self.ticks.is_multiple_of(21) {
            self.favourite = self.rng.random_range(0..DIRECTIONS.len());
        }
        let fav = DIRECTIONS[self.favourite];
        let any = DIRECTIONS[self.rng.random_range(0..DIRECTIONS.len())];
        let dir = if self.rng.random_bool(0.6) { fav } else { any };
        let viewer = self.rng.random_range(1..VIEWERS.len() - 1);
        let roll: u32 = self.rng.random_range(0..100);
        let mut lines = Vec::new();
        let text: String = match roll {
            0..=39 => dir.to_owned(),
            40..=45 => dir.to_uppercase(),
            46..=50 => format!("!vote {dir}"),
            51..=54 => format!("+{dir}"),
            55..=58 => format!("\x01ACTION {dir}\x01"),
            59..=62 => format!("{dir} \u{E0000}"),
            63..=65 => format!("\u{200B}{dir}"),
            66..=69 => format!("{dir}{}", self.rng.random_range(2..=3)),
            70..=77 => ["a", "b"][self.rng.random_range(0..2)].to_owned(),
            78..=80 => "!jump high".to_owned(),
            81..=86 => NOISE[self.rng.random_range(0..NOISE.len())].to_owned(),
            87..=89 => {
                // Spam: the same viewer sends the same vote three times in one frame; it counts once.
                for _ in 0..3 {
                    lines.push(self.line(channel, viewer, dir).0);
                }
                return lines;
            }
            90..=92 => {
                // A change of mind: the last ballot counts.
                lines.push(self.line(channel, viewer, any).0);
                lines.push(self.line(channel, viewer, fav).0);
                return lines;
            }
            93..=94 => {
                // A troll votes and is timed out at once: the ballot is removed.
                let troll = VIEWERS.len() - 1;
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                lines.push(self.line(channel, troll, "down").0);
                lines.push(format!(
                    "@ban-duration=10;room-id=1000;target-user-id={};tmi-sent-ts={ts} :tmi.twitch.tv CLEARCHAT #{channel} :{}",
                    1001 + troll,
                    VIEWERS[troll]
                ));
                return lines;
            }
            95..=96 => {
                // A replayed line (same `id`), as a reconnect can cause: it counts once.
                if let Some(l) = self.last.clone() {
                    lines.push(l);
                    return lines;
                }
                dir.to_owned()
            }
            97 => {
                // A moderator deletes a message that voted: its ballot is removed.
                if let Some((id, login, text)) = self.to_delete.take() {
                    let ts = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                    lines.push(format!(
                        "@login={login};room-id=;target-msg-id={id};tmi-sent-ts={ts} :tmi.twitch.tv CLEARMSG #{channel} :{text}"
                    ));
                    return lines;
                }
                let (line, id) = self.line(channel, viewer, "left");
                self.to_delete = Some((id, VIEWERS[viewer].to_owned(), "left".to_owned()));
                lines.push(line);
                return lines;
            }
            _ => format!("{dir} {}", NOISE[self.rng.random_range(0..NOISE.len())]),
        };
        let (line, _) = self.line(channel, viewer, &text);
        self.last = Some(line.clone());
        lines.push(line);
        // Now and then Twitch batches a second message into the same frame.
        if self.rng.random_bool(0.15) {
            let other = self.rng.random_range(1..VIEWERS.len() - 1);
            lines.push(self.line(channel, other, fav).0);
        }
        lines
    }
}
