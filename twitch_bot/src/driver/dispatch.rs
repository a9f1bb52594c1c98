//! What the driver does with each thing its state machines and the game say: a session event (per
//! [`Role`]), an engine event, a control request.

use std::time::Instant;

use tracing::{debug, info, warn};

use super::Core;
use super::link::Role;
use crate::chatplay::{Engine, Moderation};
use crate::events::{Control, Event};
use crate::lifecycle::{BotError, ConnectionState};
use crate::session;

impl Core {
    pub(super) fn handle_control(&mut self, c: Control, now: Instant) {
        if let Err(e) = self.control(c, now) {
            self.chat.outbox.emit(e);
        }
    }

    /// Carries out a control op; a refusal comes back as the `error` event to report.
    pub(super) fn control(&mut self, c: Control, now: Instant) -> Result<(), Event> {
        match c {
            c @ (Control::StartVote { .. } | Control::StopVote { .. } | Control::Tally { .. }) => {
                self.chat.control_votes(c, now)
            }
            Control::Say { channel, text } => self.say(&channel, &text),
            Control::ChatStatus => {
                let status = self.session.chat_status(now);
                self.chat.outbox.emit(Event::ChatStatus(status));
                Ok(())
            }
            // During a handover the new session follows, so that it wants the same channels at the switch.
            Control::Join { channel } => {
                self.session
                    .join(&channel)
                    .map_err(|e| Event::error("join", format!("join {channel:?}: {e}")))?;
                if let Some(h) = self.handover.as_mut() {
                    let _ = h.session.join(&channel);
                }
                Ok(())
            }
            Control::Part { channel } => {
                self.session
                    .part(&channel)
                    .map_err(|e| Event::error("part", format!("part {channel:?}: {e}")))?;
                if let Some(h) = self.handover.as_mut() {
                    let _ = h.session.part(&channel);
                }
                Ok(())
            }
            // The program hands this op to its keyboard output before it gets here (see `crate::output`).
            Control::Output { .. } => Err(Event::error(
                "output",
                "keyboard output is off: set [output] kind = \"keyboard\" in the config",
            )),
        }
    }

    /// The state the local server's `snapshot` shows (see [`crate::server::snapshot`]).
    pub(super) fn snapshot(&self, now: Instant) -> crate::server::Snapshot {
        self.chat
            .snapshot(now, self.session.queued_messages() as u64)
    }

    fn say(&mut self, channel: &str, text: &str) -> Result<(), Event> {
        if self.settings.config.connection.nick.is_none() {
            return Err(Event::error(
                "send",
                "cannot post in chat anonymously: set connection.nick and the token variable",
            ));
        }
        let parts = self
            .session
            .say(channel, text)
            .map_err(|e| Event::error("send", format!("say in {channel:?}: {e}")))?;
        self.chat.outbox.emit(Event::ChatQueued {
            channel: crate::rate_limit::normalize_channel(channel).unwrap_or_default(),
            parts,
            queued: self.session.queued_in(channel),
            queued_total: self.session.queued_messages(),
        });
        Ok(())
    }

    pub(super) fn on_session_event(&mut self, ev: session::Event, now: Instant, role: Role) {
        if role == Role::Retiring {
            // Only the chat still arriving on a closing connection matters; the rest is about that socket.
            match ev {
                session::Event::Chat(m) => self.chat.engine.handle_chat(&(&m).into(), now),
                session::Event::ClearChat(c) => {
                    feed_moderation(&mut self.chat.engine, c.moderation(), now)
                }
                session::Event::ClearMsg(c) => {
                    feed_moderation(&mut self.chat.engine, c.moderation(), now)
                }
                other => debug!(?other, "replaced connection: event ignored"),
            }
            return;
        }
        match ev {
            session::Event::Connected
            | session::Event::Disconnected
            | session::Event::Message(_) => {}
            session::Event::LoggedIn { nick } => {
                let server = self.settings.config.connection.server.clone();
                debug!(%server, %nick, "logged in");
                // A handover's new connection logging in while the main one is up does not restart the
                // clock of a stable connection: chat never stopped.
                if role == Role::Main || self.session.state() != session::SessionState::LoggedIn {
                    self.backoff.handle_connected(now);
                }
                self.set_state(ConnectionState::Connected);
                if let Some(t) = &self.settings.tokens {
                    t.handle_logged_in();
                }
                self.chat.outbox.emit(Event::Connected { server });
            }
            session::Event::CapabilitiesDenied { capabilities } => {
                let message = format!(
                    "the server refused capabilities {capabilities:?}: user ids, badges and moderation events may be missing"
                );
                self.chat.outbox.emit(Event::error("capabilities", message));
            }
            session::Event::Joined { channel } => self.chat.on_joined(channel, now),
            session::Event::JoinFailed { channel, reason } => {
                warn!(%channel, %reason, ?role, "join failed");
                if role == Role::Handover
                    && let Some(h) = self.handover.as_mut()
                {
                    h.failed.push(channel.clone());
                }
                self.chat.outbox.emit(Event::error(
                    "join",
                    format!("cannot join {channel}: {reason}"),
                ));
            }
            // The main session reports the part; the handover's echo of the same part is not news.
            session::Event::Parted { channel } if role == Role::Handover => {
                debug!(%channel, "handover: parted on the new connection too")
            }
            session::Event::Parted { channel } => self.chat.on_parted(channel),
            session::Event::Chat(m) => self.chat.engine.handle_chat(&(&m).into(), now),
            session::Event::ClearChat(c) => {
                feed_moderation(&mut self.chat.engine, c.moderation(), now)
            }
            session::Event::ClearMsg(c) => {
                feed_moderation(&mut self.chat.engine, c.moderation(), now)
            }
            session::Event::Notice(n) => {
                info!(channel = ?n.channel, msg_id = ?n.msg_id, text = %n.text, "server notice");
                let id = n.msg_id.as_deref().unwrap_or("notice");
                self.chat
                    .outbox
                    .emit(Event::error("notice", format!("{id}: {}", n.text)));
            }
            session::Event::InvalidLine { line, error } => {
                debug!(%line, %error, "invalid line skipped")
            }
            session::Event::RateLimited { channel, text } => {
                warn!(?channel, %text, "rate limited by Twitch");
                let message = format!("{text} (the message is sent again after a pause)");
                self.chat.outbox.emit(Event::error("rate_limited", message));
            }
            session::Event::ChatDropped {
                channel,
                text,
                reason,
            } => {
                let text: String = text.chars().take(80).collect();
                self.chat.outbox.emit(Event::error(
                    "chat_dropped",
                    format!("message to #{channel} not delivered: {reason}: {text:?}"),
                ));
            }
            session::Event::ReconnectWanted { reason } => {
                let server_requested = reason == session::ReconnectReason::ServerRequested;
                let reason = match reason {
                    session::ReconnectReason::ServerRequested => {
                        "the server asked to reconnect (RECONNECT)"
                    }
                    session::ReconnectReason::PongTimeout => "no PONG from the server in time",
                    session::ReconnectReason::LoginTimeout => {
                        "no login confirmation from the server in time"
                    }
                };
                match role {
                    Role::Handover => {
                        if let Some(h) = self.handover.as_mut() {
                            h.broken.get_or_insert_with(|| reason.to_owned());
                        }
                    }
                    // A RECONNECT on the main link: overlap (at most one handover at a time; a second
                    // RECONNECT on the old link during one changes nothing).
                    _ if server_requested => {
                        if self.handover.is_none() {
                            self.handover_wanted
                                .get_or_insert_with(|| reason.to_owned());
                        } else {
                            debug!("RECONNECT again during a handover: ignored");
                        }
                    }
                    _ => {
                        self.drop_link.get_or_insert_with(|| reason.to_owned());
                    }
                }
            }
            session::Event::AuthFailed { reason } if self.settings.tokens.is_some() => {
                let tokens = self.settings.tokens.as_ref().expect("guarded");
                match tokens.handle_auth_failure(&reason, now) {
                    Ok(()) => {
                        warn!(%reason, "login refused; refreshing the token and trying once more");
                        let why = format!(
                            "login refused (\"{reason}\"); reconnecting with a refreshed token"
                        );
                        match self.handover.as_mut() {
                            Some(h) if role == Role::Handover => {
                                h.broken.get_or_insert(why);
                            }
                            _ => {
                                self.drop_link.get_or_insert(why);
                            }
                        }
                    }
                    Err(message) => self.fatal = Some(BotError::AuthFailed(message)),
                }
            }
            session::Event::AuthFailed { reason } => {
                let var = &self.settings.config.connection.token_env;
                self.fatal = Some(BotError::AuthFailed(format!(
                    "the server said \"{reason}\". Check the token in the environment variable {var}: a user \
                     access token for connection.nick with scopes chat:read and chat:edit (e.g. {var}=oauth:abc...); \
                     or remove connection.nick to join anonymously"
                )));
            }
        }
    }
}

/// Chat read by [`Session::handle_frame_with`](session::Session::handle_frame_with), into the
/// engine as it arrives.
pub(super) fn feed(engine: &mut Engine, input: session::ChatInput<'_>, now: Instant) {
    match input {
        session::ChatInput::Message(m) => engine.handle_chat(&m, now),
        session::ChatInput::Moderation(m) => engine.handle_moderation(&m, now),
    }
}

fn feed_moderation(engine: &mut Engine, action: Option<Moderation<'_>>, now: Instant) {
    if let Some(action) = action {
        engine.handle_moderation(&action, now);
    }
}
