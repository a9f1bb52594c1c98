//! The EventSub driver: sockets, Helix calls and timers around the sans-IO [`Session`], feeding the same
//! engine side ([`ChatCore`]) as the IRC driver.
//!
//! ```text
//!  websockets reader tasks ──OnMessage(&str)──► frames (bounded) ──► Session::handle_text ─┐ poll_event
//!  Helix calls (spawned) ──────────────────────► done ─────────────► Session::handle_* ────┤
//!  game (stdin / Bot / /ws) ──► requests ──► driver ◄──────────────────────────────────────┘
//!                                             │ map::map ─► Engine::handle_chat / handle_moderation
//!  ChatLimiter::poll ──► POST /chat/messages  └─ ChatCore ─► Outbox ─► stdout, /ws
//! ```
//!
//! **Start.** The driver resolves the reader (`GET /users` with the token alone) and the channels
//! (`GET /users?login=`), plans the subscriptions ([`plan_subscriptions`]: per channel
//! `channel.chat.message`, `message_delete`, `clear_user_messages`, `clear`, plus redemptions with
//! `[twitch] eventsub_redemptions`), and starts the session. Each welcome of a fresh session asks for every
//! subscription at once (inside the welcome's window); `joined` is reported per channel when its
//! `channel.chat.message` subscription is created. A connection lost (close, keepalive missed) is reported
//! as `disconnected` and `reconnecting` with the backoff delay, and the next welcome subscribes again.
//! `session_reconnect` is an overlap: `reconnecting` with attempt 0, the new link is read beside the old one,
//! and nothing is subscribed again.
//!
//! **Errors become events, not loops.** A refused subscription is an `error` of kind `subscription` naming
//! the missing scope (403), the conflict (409) or the limit (429), and is not asked for again; a revocation
//! is an `error` of kind `revoked`, subscribed again once only where that can help (never after
//! `authorization_revoked`). A Helix 401 refreshes the token once ([`Helix`]); a token that stays refused
//! ends the bot with exit code 2.
//!
//! **`join` and `part`.** A channel is read through its subscriptions: `join` looks the login up
//! (`GET /users?login=`) and creates the channel's subscriptions on the live session (and on every fresh
//! session after), `joined` following when its `channel.chat.message` subscription exists; `part` takes
//! them out of the plan, deletes the created ones (`DELETE /eventsub/subscriptions?id=`) and reports
//! `parted` (a subscription created after the part is deleted as its answer arrives).
//!
//! **Sending chat.** `say` goes through the same [`ChatLimiter`] as over IRC, then `POST /chat/messages`,
//! one request at a time (so messages of a channel keep their order). `is_sent: false` is an `error` of kind
//! `chat_dropped` with Twitch's `drop_reason` code and message; a 429 pauses the limiter (its `msg_ratelimit`
//! back-off) and the message is sent again.
//!
//! **Counting once.** Twitch delivers at least once: the session drops repeated `message_id`s and messages
//! older than 10 minutes, and the engine's own message-id memory drops a chat message seen on both links of
//! a reconnect. Bits come only from `channel.chat.message`'s `cheer.bits` (`channel.cheer` is not
//! subscribed); with redemptions subscribed, a chat message carrying a reward id is not counted, the
//! redemption is (see [`super::map`]).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::api::{Helix, HelixCallError, SendFailure};
use super::events::types;
use super::helix::{
    CreateSubscription, CreatedSubscription, SendChatMessage, SentMessage, SubscribeFailure, User,
};
use super::map::{self, Mapped};
use super::session::{
    self, ChannelIds, Event as SessionEvent, LinkFailure, LinkId, PlanRequest, Session,
    SessionConfig, SubTicket, eventsub_url, plan_subscriptions,
};
use crate::backoff::Backoff;
use crate::config::Login;
use crate::driver::{ChatCore, MAX_FRAME, Settings};
use crate::events::{Control, Event};
use crate::lifecycle::{BotError, ConnectionState, Request};
use crate::outbox::Outbox;
use crate::rate_limit::{ChatLimiter, RateLimitConfig, Refusal, normalize_channel};

/// Frames waiting between the sockets' reader tasks and the driver (each at most [`MAX_FRAME`] bytes):
/// when full, a reader task waits (off the scheduler), so the socket is not read.
const FRAME_QUEUE: usize = 64;
/// How long shutdown waits for the event reader to take the last events.
const DRAIN_WAIT: Duration = Duration::from_secs(10);
/// `max_total_cost` assumed until Twitch says (its value for a user's WebSocket subscriptions).
const MAX_TOTAL_COST: u64 = 10;

/// What a socket's handlers pass to the driver.
#[derive(Debug)]
enum LinkMsg {
    Text(String),
    Closed(Option<u16>),
}

/// What a spawned task (connect, Helix call) reports back.
#[derive(Debug)]
enum Done {
    /// The reader and the channels (`None`: the call failed).
    Resolved(Result<(User, Vec<User>), HelixCallError>),
    /// A link's handshake ended.
    Connected(
        LinkId,
        Result<websockets::WebsocketClient, websockets::Error>,
    ),
    /// A subscription request's answer.
    Subscribed {
        ticket: SubTicket,
        request: CreateSubscription,
        result: Result<Result<CreatedSubscription, SubscribeFailure>, HelixCallError>,
    },
    /// A `join`'s channel lookup.
    JoinResolved {
        login: String,
        result: Result<Vec<User>, HelixCallError>,
    },
    /// A chat message's answer.
    Sent {
        channel: String,
        result: Result<SentMessage, SendFailure>,
    },
}

/// The EventSub driver's state (see the [module docs](self)).
struct Driver {
    settings: Settings,
    helix: Helix,
    chat: ChatCore,
    /// The reader (the token's user), once resolved.
    me: Option<User>,
    /// Channel login → user id, once resolved: the channels read (configured, or joined with `join`).
    channel_ids: HashMap<String, String>,
    /// `(type, broadcaster id)` → the subscription id Twitch gave it (for `part`'s deletes).
    created: HashMap<(String, String), String>,
    session: Option<Session>,
    redemptions: bool,
    links: HashMap<LinkId, websockets::WebsocketClient>,
    connecting: HashMap<LinkId, JoinHandle<()>>,
    frames_tx: mpsc::Sender<(LinkId, LinkMsg)>,
    done_tx: mpsc::UnboundedSender<Done>,
    limiter: ChatLimiter,
    /// A chat message is on its way to Helix (one at a time: a channel's order is kept).
    sending: bool,
    /// Retry of the start-up resolution.
    resolve_at: Option<Instant>,
    resolve_backoff: Backoff,
    /// Attempts since the last welcome (for the `reconnecting` event).
    attempt: u32,
    fatal: Option<BotError>,
}

/// Runs the bot over EventSub until a [`Request::Shutdown`] (or the request channel closing) or a fatal
/// error (a token refused for good: [`BotError::AuthFailed`]).
pub async fn run(
    settings: Settings,
    mut requests: mpsc::Receiver<Request>,
    outbox: Outbox,
    state: tokio::sync::watch::Sender<ConnectionState>,
) -> Result<(), BotError> {
    let mut settings = settings;
    let config = &settings.config;
    let token = match (&settings.tokens, &settings.token) {
        (Some(t), _) => t.current(),
        (None, Some(t)) => t.clone(),
        (None, None) => {
            return Err(BotError::AuthFailed(format!(
                "connection.transport = \"eventsub\" needs a user token: run `twitch_bot login`, or set {}",
                config.connection.token_env
            )));
        }
    };
    let Some(client_id) = config.auth.client_id.clone() else {
        return Err(BotError::Config(
            "connection.transport = \"eventsub\" needs [auth] client_id (Helix requires the app's client id)"
                .into(),
        ));
    };
    let http = crate::auth::http::http_client(config.connection.ca_file.as_deref())
        .map_err(|e| BotError::Config(e.to_string()))?;
    let helix = Helix::new(
        http,
        &config.twitch.api_url,
        &client_id,
        settings.tokens.clone(),
        token,
        &config.connection.token_env,
    );
    let nick = config
        .connection
        .nick
        .as_ref()
        .map(Login::to_string)
        .unwrap_or_default();
    let chat = ChatCore::new(config, &nick, true, outbox, state)?;
    if let Some(to) = settings.keywords_to.take() {
        let _ = to.send(chat.engine.keywords().clone());
    }
    let (frames_tx, mut frames) = mpsc::channel(FRAME_QUEUE);
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut d = Driver {
        redemptions: settings.config.twitch.eventsub_redemptions,
        settings,
        helix,
        chat,
        me: None,
        channel_ids: HashMap::new(),
        created: HashMap::new(),
        session: None,
        links: HashMap::new(),
        connecting: HashMap::new(),
        frames_tx,
        done_tx,
        limiter: ChatLimiter::new(RateLimitConfig::default()),
        sending: false,
        resolve_at: Some(Instant::now()),
        resolve_backoff: Backoff::new(),
        attempt: 0,
        fatal: None,
    };
    d.chat.set_state(ConnectionState::Connecting);
    let token_source = d.settings.tokens.clone();
    let mut token_changes = token_source.as_ref().map(|t| t.subscribe());

    loop {
        let now = Instant::now();
        let deadline = d.next_deadline(now);
        let room = !d.chat.outbox.is_backlogged();
        tokio::select! {
            biased;
            r = requests.recv() => match r {
                Some(Request::Shutdown) | None => break,
                Some(Request::InputClosed) => debug!("control input closed"),
                Some(Request::BadControl(e)) => d.chat.outbox.emit(Event::error("bad_control", e.to_string())),
                Some(Request::Control(c)) => {
                    if let Err(e) = d.control(c, Instant::now()) {
                        d.chat.outbox.emit(e);
                    }
                }
                Some(Request::Emit(e)) => d.chat.outbox.emit(e),
                Some(Request::Op(c, reply)) => {
                    let result = d.control(c, Instant::now()).map_err(|e| match e {
                        Event::Error { message, .. } => message,
                        other => other.kind().to_owned(),
                    });
                    let _ = reply.send(result);
                }
                Some(Request::Snapshot(reply)) => {
                    let queued = d.limiter.queued() as u64;
                    let _ = reply.send(d.chat.snapshot(Instant::now(), queued));
                }
            },
            () = d.chat.outbox.room(), if d.chat.outbox.is_pending() => d.chat.outbox.flush(),
            Ok(()) = async { token_changes.as_mut().expect("guarded").changed().await }, if token_changes.is_some() => {
                if let Some(why) = token_source.as_ref().and_then(|t| t.fatal()) {
                    d.fatal = Some(BotError::AuthFailed(why));
                }
            }
            Some(result) = done.recv() => d.on_done(result, Instant::now()),
            Some((link, msg)) = frames.recv(), if room => {
                let now = Instant::now();
                match msg {
                    LinkMsg::Text(text) => {
                        if let Some(s) = d.session.as_mut() {
                            s.handle_text(link, &text, now, SystemTime::now());
                        }
                    }
                    LinkMsg::Closed(code) => {
                        d.links.remove(&link);
                        if let Some(s) = d.session.as_mut() {
                            s.handle_closed(link, code, now);
                        }
                    }
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                if let Some(s) = d.session.as_mut()
                    && s.poll_timeout().is_some_and(|t| t <= now)
                {
                    s.handle_timeout(now);
                }
                if d.resolve_at.is_some_and(|t| t <= now) {
                    d.resolve_at = None;
                    d.spawn_resolve();
                }
                d.chat.engine_timers(now);
            }
        }
        d.pump(Instant::now());
        if d.fatal.is_some() {
            break;
        }
    }
    d.shutdown().await
}

impl Driver {
    fn next_deadline(&mut self, now: Instant) -> Instant {
        [
            self.session.as_ref().and_then(Session::poll_timeout),
            self.chat.poll_timeout(),
            self.resolve_at,
            if self.sending || self.session.is_none() {
                None
            } else {
                self.limiter.next_ready(now)
            },
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + Duration::from_secs(3600))
    }

    /// Resolves the reader and the configured channels (`GET /users`), in a task.
    fn spawn_resolve(&self) {
        let (helix, done) = (self.helix.clone(), self.done_tx.clone());
        let logins: Vec<String> = self
            .settings
            .config
            .connection
            .channels
            .iter()
            .map(Login::to_string)
            .collect();
        tokio::spawn(async move {
            let result = async {
                let me = helix.users(&[]).await?.into_iter().next().ok_or_else(|| {
                    HelixCallError::Shape {
                        call: "users",
                        detail: "no user for the token".into(),
                    }
                })?;
                let channels = if logins.is_empty() {
                    Vec::new()
                } else {
                    helix.users(&logins).await?
                };
                Ok((me, channels))
            }
            .await;
            let _ = done.send(Done::Resolved(result));
        });
    }

    fn on_done(&mut self, done: Done, now: Instant) {
        match done {
            Done::Resolved(Ok((me, users))) => self.start_session(me, users, now),
            Done::Resolved(Err(HelixCallError::Auth(why))) => {
                self.fatal = Some(BotError::AuthFailed(why))
            }
            Done::Resolved(Err(e)) => {
                let (attempt, delay) = self
                    .resolve_backoff
                    .handle_disconnected(now, rand::random());
                warn!(error = %e, attempt, "cannot resolve the account and channels; trying again");
                self.chat.outbox.emit(Event::error(
                    "connect",
                    format!("{e} (trying again in {} ms)", delay.as_millis()),
                ));
                self.resolve_at = Some(now + delay);
            }
            Done::Connected(link, result) => {
                self.connecting.remove(&link);
                let Some(session) = self.session.as_mut() else {
                    return;
                };
                match result {
                    Ok(client) => {
                        if session.open_links().contains(&link) {
                            session.handle_opened(link, now);
                            self.links.insert(link, client);
                        } else {
                            let _ = client.close(1000, "");
                        }
                    }
                    Err(e) => {
                        warn!(link, error = %e, "EventSub connect failed");
                        session.handle_closed(link, None, now);
                    }
                }
            }
            Done::Subscribed {
                ticket,
                request,
                result,
            } => {
                let result = match result {
                    Ok(r) => r,
                    Err(HelixCallError::Auth(why)) => {
                        self.fatal = Some(BotError::AuthFailed(why));
                        return;
                    }
                    Err(e) => Err(SubscribeFailure::Transport {
                        kind: request.kind.clone(),
                        detail: e.to_string(),
                    }),
                };
                let broadcaster = request
                    .condition
                    .get("broadcaster_user_id")
                    .cloned()
                    .unwrap_or_default();
                let login = self
                    .channel_ids
                    .iter()
                    .find(|(_, v)| **v == broadcaster)
                    .map(|(k, _)| k.clone());
                let sub_id = result
                    .as_ref()
                    .ok()
                    .and_then(|c| c.data.first())
                    .map(|d| d.id.clone());
                if let Some(s) = self.session.as_mut() {
                    s.handle_subscribed(ticket, result, now);
                }
                let Some(sub_id) = sub_id else { return };
                match login {
                    Some(login) => {
                        self.created
                            .insert((request.kind.clone(), broadcaster), sub_id);
                        if request.kind == types::CHAT_MESSAGE {
                            self.chat.on_joined(login, now);
                        }
                    }
                    // Parted while the request was on its way.
                    None => self.spawn_delete(vec![sub_id]),
                }
            }
            Done::JoinResolved { login, result } => match result {
                Ok(users) => match users.iter().find(|u| u.login.eq_ignore_ascii_case(&login)) {
                    Some(user) => {
                        let id = user.id.clone();
                        self.channel_ids.insert(login.clone(), id.clone());
                        let specs = self.channel_specs(&id);
                        if let Some(Err(e)) =
                            self.session.as_mut().map(|s| s.add_subscriptions(specs))
                        {
                            self.channel_ids.remove(&login);
                            self.chat
                                .outbox
                                .emit(Event::error("join", format!("cannot join {login}: {e}")));
                        }
                    }
                    None => self.chat.outbox.emit(Event::error(
                        "join",
                        format!("cannot join {login}: Twitch knows no user with this login"),
                    )),
                },
                Err(HelixCallError::Auth(why)) => self.fatal = Some(BotError::AuthFailed(why)),
                Err(e) => self
                    .chat
                    .outbox
                    .emit(Event::error("join", format!("cannot join {login}: {e}"))),
            },
            Done::Sent { channel, result } => {
                self.sending = false;
                match result {
                    Ok(sent) if sent.is_sent => self.limiter.on_accepted(&channel),
                    Ok(sent) => {
                        let reason = match &sent.drop_reason {
                            Some(r) => format!("{}: {}", r.code, r.message),
                            None => "is_sent false without a drop_reason".to_owned(),
                        };
                        self.dropped(now, &channel, reason);
                    }
                    Err(SendFailure::RateLimited(message)) => {
                        warn!(%channel, %message, "Helix chat/messages: 429");
                        let _ = self
                            .limiter
                            .on_refused(now, Some(&channel), Refusal::RateLimited);
                        self.chat.outbox.emit(Event::error(
                            "rate_limited",
                            format!("{message} (the message is sent again after a pause)"),
                        ));
                    }
                    Err(SendFailure::Call(HelixCallError::Auth(why))) => {
                        self.fatal = Some(BotError::AuthFailed(why));
                    }
                    Err(SendFailure::Call(e)) => self.dropped(now, &channel, e.to_string()),
                }
            }
        }
    }

    /// The subscriptions that read one channel: the four chat types, plus redemptions when on.
    fn channel_specs(&self, broadcaster_id: &str) -> Vec<session::SubscriptionSpec> {
        let reader = self.me.as_ref().map(|m| m.id.as_str()).unwrap_or_default();
        let plan = PlanRequest {
            reader_user_id: reader.to_owned(),
            channels: vec![ChannelIds {
                login: String::new(),
                user_id: broadcaster_id.to_owned(),
            }],
            redemptions: self.redemptions,
            cheers: false,
            max_total_cost: u64::MAX,
        };
        plan_subscriptions(&plan).unwrap_or_default()
    }

    /// Deletes subscriptions Twitch created (`part`), in a task; failures are logged only (a subscription
    /// of a session that ends is deleted by Twitch anyway).
    fn spawn_delete(&self, ids: Vec<String>) {
        let helix = self.helix.clone();
        tokio::spawn(async move {
            for id in ids {
                if let Err(e) = helix.delete_subscription(&id).await {
                    warn!(error = %e, "could not delete an EventSub subscription");
                }
            }
        });
    }

    fn join(&mut self, channel: &str) -> Result<(), Event> {
        let refuse = |why: String| Event::error("join", format!("join {channel:?}: {why}"));
        let login = Login::new(channel.trim_start_matches('#'))
            .map_err(|e| refuse(e.to_string()))?
            .to_string();
        if self.session.is_none() {
            return Err(refuse(
                "not connected yet: try again after `connected`".into(),
            ));
        }
        if self.channel_ids.contains_key(&login) {
            return Err(refuse("already reading this channel".into()));
        }
        let (helix, done) = (self.helix.clone(), self.done_tx.clone());
        tokio::spawn(async move {
            let result = helix.users(std::slice::from_ref(&login)).await;
            let _ = done.send(Done::JoinResolved { login, result });
        });
        Ok(())
    }

    fn part(&mut self, channel: &str) -> Result<(), Event> {
        let login = channel.trim_start_matches('#').to_ascii_lowercase();
        let Some(id) = self.channel_ids.remove(&login) else {
            return Err(Event::error(
                "part",
                format!("part {channel:?}: not reading this channel"),
            ));
        };
        if let Some(s) = self.session.as_mut() {
            s.remove_subscriptions(|spec| spec.condition.get("broadcaster_user_id") == Some(&id));
        }
        let mut ids = Vec::new();
        self.created.retain(|(_, b), sub| {
            let keep = *b != id;
            if !keep {
                ids.push(sub.clone());
            }
            keep
        });
        self.spawn_delete(ids);
        if self.chat.joined.contains(&login) {
            self.chat.on_parted(login);
        }
        Ok(())
    }

    fn dropped(&mut self, now: Instant, channel: &str, reason: String) {
        if let Some(d) = self
            .limiter
            .on_refused(now, Some(channel), Refusal::Final(reason))
        {
            let text: String = d.text.chars().take(80).collect();
            self.chat.outbox.emit(Event::error(
                "chat_dropped",
                format!(
                    "message to #{} not delivered: {}: {text:?}",
                    d.channel, d.reason
                ),
            ));
        }
    }

    fn start_session(&mut self, me: User, users: Vec<User>, now: Instant) {
        info!(login = %me.login, "EventSub: reading chat as this account");
        let config = &self.settings.config;
        let mut channels = Vec::new();
        for login in &config.connection.channels {
            let login = login.to_string();
            match users.iter().find(|u| u.login.eq_ignore_ascii_case(&login)) {
                Some(u) => {
                    self.channel_ids.insert(login.clone(), u.id.clone());
                    channels.push(ChannelIds {
                        login,
                        user_id: u.id.clone(),
                    });
                }
                None => self.chat.outbox.emit(Event::error(
                    "join",
                    format!("cannot join {login}: Twitch knows no user with this login"),
                )),
            }
        }
        // The bot's own channel gets the moderator limits, as over IRC.
        self.limiter
            .set_privileged(&me.login.to_ascii_lowercase(), true);
        let plan = PlanRequest {
            reader_user_id: me.id.clone(),
            channels,
            redemptions: self.redemptions,
            cheers: false,
            max_total_cost: MAX_TOTAL_COST,
        };
        self.me = Some(me);
        let specs = match plan_subscriptions(&plan) {
            Ok(s) => s,
            Err(session::PlanError::NoChannels) => Vec::new(),
            Err(e) => {
                self.fatal = Some(BotError::Config(e.to_string()));
                return;
            }
        };
        let url = eventsub_url(
            &config.twitch.eventsub_url,
            config.twitch.eventsub_keepalive_secs,
        );
        let mut sc = SessionConfig::new(url, specs);
        sc.jitter_seed = rand::random();
        let mut session = Session::new(sc);
        session.start(now);
        self.session = Some(session);
    }

    /// Drains the session and the engine, starts what they ask for, sends the chat that is due.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(ev) = self.session.as_mut().and_then(Session::poll_event) {
                busy = true;
                self.on_session_event(ev, now);
            }
            busy |= self.chat.pump_engine(now);
            for (channel, text) in std::mem::take(&mut self.chat.announcements) {
                let _ = self.limiter.enqueue(&channel, &text, None);
            }
            if !busy {
                break;
            }
        }
        self.send_due(Instant::now());
    }

    fn send_due(&mut self, now: Instant) {
        if self.sending {
            return;
        }
        let Some(me) = &self.me else { return };
        let Some(line) = self.limiter.poll(now) else {
            return;
        };
        let Some((channel, reply_to, text)) = parse_privmsg(&line) else {
            warn!("internal: unexpected chat line from the limiter");
            return;
        };
        let Some(broadcaster_id) = self.channel_ids.get(&channel).cloned() else {
            self.dropped(now, &channel, "the channel's user id is not known".into());
            return;
        };
        let message = SendChatMessage {
            broadcaster_id,
            sender_id: me.id.clone(),
            message: text,
            reply_parent_message_id: reply_to,
        };
        self.sending = true;
        let (helix, done) = (self.helix.clone(), self.done_tx.clone());
        tokio::spawn(async move {
            let result = helix.send_chat(&message).await;
            let _ = done.send(Done::Sent { channel, result });
        });
    }

    fn on_session_event(&mut self, ev: SessionEvent, now: Instant) {
        match ev {
            SessionEvent::Connect { link, url } => {
                self.chat.set_state(if self.attempt == 0 {
                    ConnectionState::Connecting
                } else {
                    ConnectionState::Reconnecting
                });
                let task = spawn_connect(
                    link,
                    url,
                    self.settings.config.connection.ca_file.clone(),
                    self.frames_tx.clone(),
                    self.done_tx.clone(),
                );
                self.connecting.insert(link, task);
            }
            SessionEvent::Close { link } => {
                if let Some(c) = self.links.remove(&link) {
                    let _ = c.close(1000, "");
                }
                if let Some(t) = self.connecting.remove(&link) {
                    t.abort();
                }
            }
            SessionEvent::Subscribe {
                session_id,
                requests,
            } => {
                debug!(%session_id, count = requests.len(), "creating EventSub subscriptions");
                for (ticket, request) in requests {
                    let (helix, done) = (self.helix.clone(), self.done_tx.clone());
                    tokio::spawn(async move {
                        let result = helix.create_subscription(&request).await;
                        let _ = done.send(Done::Subscribed {
                            ticket,
                            request,
                            result,
                        });
                    });
                }
            }
            SessionEvent::Welcomed {
                session_id,
                keepalive,
                ..
            } => {
                info!(%session_id, keepalive_secs = keepalive.as_secs(), "EventSub session welcomed");
                self.attempt = 0;
                self.chat.set_state(ConnectionState::Connected);
                if let Some(t) = &self.settings.tokens {
                    t.handle_logged_in();
                }
                self.chat.outbox.emit(Event::Connected {
                    server: self.settings.config.twitch.eventsub_url.clone(),
                });
            }
            SessionEvent::Switched { from, to, .. } => {
                info!(
                    ?from,
                    to, "EventSub: switched to the reconnect link; subscriptions carried over"
                )
            }
            SessionEvent::Reconnecting { link } => {
                info!(
                    link,
                    "EventSub: session_reconnect; opening the new link beside the old one"
                );
                self.chat.outbox.emit(Event::Reconnecting {
                    attempt: 0,
                    delay_ms: 0,
                    reason: "the server asked to reconnect (session_reconnect)".into(),
                });
            }
            SessionEvent::ReconnectFailed { link, reason } => {
                warn!(link, reason = %failure_words(&reason), "EventSub: the reconnect link failed");
            }
            SessionEvent::Disconnected {
                reason, retry_in, ..
            } => {
                self.attempt += 1;
                let reason = failure_words(&reason);
                warn!(%reason, retry_ms = retry_in.as_millis() as u64, "EventSub connection lost");
                self.chat.set_state(ConnectionState::Reconnecting);
                self.chat.outbox.emit(Event::Disconnected {
                    reason: reason.clone(),
                });
                self.chat.outbox.emit(Event::Reconnecting {
                    attempt: self.attempt,
                    delay_ms: retry_in.as_millis() as u64,
                    reason,
                });
            }
            SessionEvent::Notification(n) => self.on_notification(&n.event, now),
            SessionEvent::Subscribed {
                kind,
                total_cost,
                max_total_cost,
            } => debug!(%kind, total_cost, max_total_cost, "EventSub subscription created"),
            SessionEvent::SubscriptionFailed(f) => {
                warn!(failure = %f, "EventSub subscription refused");
                self.chat
                    .outbox
                    .emit(Event::error("subscription", f.to_string()));
            }
            SessionEvent::SubscribeWindowMissed { session_id } => {
                self.chat.outbox.emit(Event::error(
                    "subscription",
                    format!(
                        "no EventSub subscription was created within the welcome's window on session {session_id}; \
                         Twitch closes such a connection (4003)"
                    ),
                ));
            }
            SessionEvent::Revoked {
                kind,
                reason,
                retrying,
            } => {
                warn!(%kind, ?reason, retrying, "EventSub subscription revoked");
                let then = if retrying {
                    "subscribing again once".to_owned()
                } else {
                    "not subscribing again (asking again cannot help)".to_owned()
                };
                let reason: String = reason
                    .as_str()
                    .chars()
                    .take(100)
                    .filter(|c| !c.is_control())
                    .collect();
                self.chat.outbox.emit(Event::error(
                    "revoked",
                    format!("Twitch revoked the {kind} subscription ({reason}); {then}"),
                ));
            }
            SessionEvent::BadMessage { link, error } => {
                debug!(link, %error, "EventSub frame skipped")
            }
        }
    }

    fn on_notification(&mut self, event: &super::events::NotificationEvent, now: Instant) {
        match map::map(event) {
            Mapped::Chat(m) => {
                if map::chat_counts(&m, self.redemptions) {
                    self.chat.engine.handle_chat(&m, now);
                } else {
                    debug!(user = %m.login, "chat message with a reward id: the redemption counts instead");
                }
            }
            Mapped::Moderation(m) => self.chat.engine.handle_moderation(&m, now),
            Mapped::Redemption(r) => self.chat.engine.handle_redemption(&r, now),
            Mapped::Nothing => {}
        }
    }

    /// Carries out a control op; a refusal comes back as the `error` event to report.
    fn control(&mut self, c: Control, now: Instant) -> Result<(), Event> {
        match c {
            c @ (Control::StartVote { .. } | Control::StopVote { .. } | Control::Tally { .. }) => {
                self.chat.control_votes(c, now)
            }
            Control::Say { channel, text } => {
                let parts = self
                    .limiter
                    .enqueue(&channel, &text, None)
                    .map_err(|e| Event::error("send", format!("say in {channel:?}: {e}")))?;
                let channel = normalize_channel(&channel).unwrap_or_default();
                self.chat.outbox.emit(Event::ChatQueued {
                    queued: self.limiter.queued_in(&channel),
                    channel,
                    parts,
                    queued_total: self.limiter.queued(),
                });
                Ok(())
            }
            Control::ChatStatus => {
                let status = self.limiter.status(now);
                self.chat.outbox.emit(Event::ChatStatus(status));
                Ok(())
            }
            // Over EventSub a channel is read through its subscriptions: join creates them, part deletes them.
            Control::Join { channel } => self.join(&channel),
            Control::Part { channel } => self.part(&channel),
            Control::Output { .. } => Err(Event::error(
                "output",
                "keyboard output is off: set [output] kind = \"keyboard\" in the config",
            )),
        }
    }

    /// Graceful end: close open rounds (results out), close the links with 1000, deliver every event.
    async fn shutdown(mut self) -> Result<(), BotError> {
        let now = Instant::now();
        let fatal = self.fatal.take();
        if let Some(e) = &fatal {
            self.chat
                .outbox
                .emit(Event::error("auth_failed", e.to_string()));
        }
        info!("shutting down: closing open rounds");
        self.chat.close_rounds(&self.settings.config, now);
        self.chat.pump_engine(now);
        for (_, t) in self.connecting.drain() {
            t.abort();
        }
        for (_, c) in self.links.drain() {
            let _ = c.close(1000, "");
        }
        self.chat.set_state(ConnectionState::Stopped);
        if tokio::time::timeout(DRAIN_WAIT, self.chat.outbox.drain())
            .await
            .is_err()
        {
            warn!(
                undelivered = self.chat.outbox.pending(),
                "the event reader did not take the last events within {DRAIN_WAIT:?}; stopping anyway"
            );
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The limiter's `PRIVMSG #channel :text` line (optionally with `@reply-parent-msg-id=ID `) as
/// `(channel, reply_to, text)`.
fn parse_privmsg(line: &str) -> Option<(String, Option<String>, String)> {
    let (reply_to, rest) = match line.strip_prefix("@reply-parent-msg-id=") {
        Some(r) => {
            let (id, rest) = r.split_once(' ')?;
            (Some(id.to_owned()), rest)
        }
        None => (None, line),
    };
    let rest = rest.strip_prefix("PRIVMSG #")?;
    let (channel, text) = rest.split_once(" :")?;
    Some((channel.to_owned(), reply_to, text.to_owned()))
}

fn failure_words(f: &LinkFailure) -> String {
    match f {
        LinkFailure::WelcomeTimeout => "no session_welcome from the server in time".into(),
        LinkFailure::KeepaliveTimeout => {
            "no message from the server within keepalive_timeout_seconds (plus margin)".into()
        }
        LinkFailure::Closed(Some(code)) => format!("the connection closed with code {code}"),
        LinkFailure::Closed(None) => "the connection failed or closed without a close code".into(),
    }
}

/// Opens link `link` with `websockets::create_client_with` on the blocking pool; its frames and its end go
/// to `frames`, the handshake's result to `done`.
fn spawn_connect(
    link: LinkId,
    url: String,
    ca_file: Option<std::path::PathBuf>,
    frames: mpsc::Sender<(LinkId, LinkMsg)>,
    done: mpsc::UnboundedSender<Done>,
) -> JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let push = move |msg: LinkMsg| {
            if let Err(mpsc::error::TrySendError::Full(m)) = frames.try_send((link, msg)) {
                // The driver is behind: wait off the scheduler, so this socket is not read meanwhile.
                let frames = frames.clone();
                let _ = tokio::task::block_in_place(move || frames.blocking_send(m));
            }
        };
        let (on_text, on_close, on_error) = (push.clone(), push.clone(), push);
        let mut options = websockets::ClientOptions::new()
            .max_message_size(MAX_FRAME)
            .on_close(move |code, _reason| on_close(LinkMsg::Closed(Some(code))))
            .on_error(move |_e| on_error(LinkMsg::Closed(None)));
        if let Some(ca) = ca_file {
            options = options.add_ca_pem_file(ca);
        }
        let kind = if url.starts_with("wss://") {
            websockets::WebsocketType::Secure
        } else {
            websockets::WebsocketType::NonSecure
        };
        let on_message = move |frame: &str| on_text(LinkMsg::Text(frame.to_owned()));
        let result = websockets::create_client_with(&url, on_message, kind, options);
        let _ = done.send(Done::Connected(link, result));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_lines_parse_back() {
        assert_eq!(
            parse_privmsg("PRIVMSG #chan :hello :) there"),
            Some(("chan".into(), None, "hello :) there".into()))
        );
        assert_eq!(
            parse_privmsg("@reply-parent-msg-id=abc-1 PRIVMSG #c :x"),
            Some(("c".into(), Some("abc-1".into()), "x".into()))
        );
        assert_eq!(parse_privmsg("JOIN #c"), None);
        // The limiter's own output round-trips, duplicate marker and all.
        let mut l = ChatLimiter::new(RateLimitConfig::default());
        l.enqueue("Chan", "a\r\nb", None).unwrap();
        let line = l.poll(Instant::now()).unwrap();
        assert_eq!(
            parse_privmsg(&line),
            Some(("chan".into(), None, "a  b".into()))
        );
    }
}
