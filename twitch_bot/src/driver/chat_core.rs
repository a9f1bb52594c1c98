//! The engine side of a driver, shared by both transports: the ChatPlay [`Engine`], the event [`Outbox`],
//! the connection state, the joined channels, the automatic rounds and the live tallies.
//!
//! A transport's driver (IRC in [`super`], EventSub in [`crate::eventsub::driver`]) owns one [`ChatCore`],
//! feeds it chat ([`Engine::handle_chat`], [`Engine::handle_moderation`]) and the channel changes
//! ([`ChatCore::on_joined`], [`ChatCore::on_parted`]), drains [`ChatCore::pump_engine`], and sends the round
//! announcements it queues ([`ChatCore::announcements`]) with its own chat sender. The vote control ops
//! (`start_vote`, `stop_vote`, `tally`), the vote events and the periodic tallies are this file's, so they
//! behave the same whichever transport delivers chat.

use std::time::Instant;

use tokio::sync::watch;
use tracing::info;

use super::timers::{LiveTallyTimer, live_tally_timers, tally_event};
use crate::chatplay::{self, Engine};
use crate::config::Config;
use crate::events::{Control, Event, Tally};
use crate::lifecycle::{BotError, ConnectionState};
use crate::outbox::Outbox;

/// The engine side of a driver (see the [module docs](self)).
pub(crate) struct ChatCore {
    /// The ChatPlay engine.
    pub(crate) engine: Engine,
    /// The events for stdout and `/ws`.
    pub(crate) outbox: Outbox,
    /// The connection state the game can watch.
    pub(crate) state: watch::Sender<ConnectionState>,
    /// Channels confirmed joined (for the parts at shutdown and the announcements).
    pub(crate) joined: Vec<String>,
    /// Whether auto-start votes were started (on the first join).
    pub(crate) auto_started: bool,
    /// The votes with `tally_interval_secs` set: their periodic `tally` events.
    pub(crate) live_tallies: Vec<LiveTallyTimer>,
    /// Whether the bot may post in chat (round announcements are queued only then).
    pub(crate) can_say: bool,
    /// Round results to post, `(channel, text)`: the transport takes them and sends them.
    pub(crate) announcements: Vec<(String, String)>,
}

impl ChatCore {
    /// The engine for `config` (`nick`: the bot's own login, whose messages the engine ignores).
    pub(crate) fn new(
        config: &Config,
        nick: &str,
        can_say: bool,
        outbox: Outbox,
        state: watch::Sender<ConnectionState>,
    ) -> Result<ChatCore, BotError> {
        let engine =
            Engine::new(config.engine_config(nick)).map_err(|e| BotError::Config(e.to_string()))?;
        Ok(ChatCore {
            engine,
            outbox,
            state,
            joined: Vec::new(),
            auto_started: false,
            live_tallies: live_tally_timers(config),
            can_say,
            announcements: Vec::new(),
        })
    }

    /// Sets the connection state (watchers are woken only by a change).
    pub(crate) fn set_state(&self, s: ConnectionState) {
        self.state.send_if_modified(|old| {
            let changed = *old != s;
            *old = s;
            changed
        });
    }

    /// `channel` is joined (reported once per channel): the `joined` event, and the automatic rounds start on
    /// the first join.
    pub(crate) fn on_joined(&mut self, channel: String, now: Instant) {
        if !self.joined.contains(&channel) {
            self.joined.push(channel.clone());
        }
        self.outbox.emit(Event::Joined { channel });
        if !self.auto_started {
            self.auto_started = true;
            self.engine.start(now);
        }
    }

    /// `channel` is left: the `parted` event.
    pub(crate) fn on_parted(&mut self, channel: String) {
        self.joined.retain(|c| *c != channel);
        self.outbox.emit(Event::Parted { channel });
    }

    /// Drains the engine's events; true when there was one.
    pub(crate) fn pump_engine(&mut self, now: Instant) -> bool {
        let mut busy = false;
        while let Some(ev) = self.engine.poll_event() {
            busy = true;
            self.on_engine_event(ev, now);
        }
        busy
    }

    /// Closes every open round (results out), for the shutdown.
    pub(crate) fn close_rounds(&mut self, config: &Config, now: Instant) {
        for v in config
            .votes
            .iter()
            .map(|v| v.name.clone())
            .collect::<Vec<_>>()
        {
            let _ = self.engine.stop_vote(&v, now);
        }
    }

    /// The state the local server's `snapshot` shows (see [`crate::server::snapshot`]).
    pub(crate) fn snapshot(&self, now: Instant, chat_queued: u64) -> crate::server::Snapshot {
        crate::server::Snapshot {
            after: self.outbox.sequence(),
            state: *self.state.borrow(),
            channels: self.joined.clone(),
            votes: crate::server::snapshot::votes(&self.engine, now),
            chat_queued,
        }
    }

    /// The vote ops (`start_vote`, `stop_vote`, `tally`); a refusal comes back as the `error` event to
    /// report. Any other op is not this side's: refused as an internal error.
    pub(crate) fn control_votes(&mut self, c: Control, now: Instant) -> Result<(), Event> {
        match c {
            Control::StartVote { vote } => self
                .engine
                .start_vote(&vote, now)
                .map(|_| ())
                .map_err(|e| Event::error("vote", format!("start_vote {vote:?}: {e}"))),
            Control::StopVote { vote } => match self.engine.stop_vote(&vote, now) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(Event::error(
                    "vote",
                    format!(
                        "stop_vote {vote:?}: no round is open (automatic rounds are stopped until start_vote)"
                    ),
                )),
                Err(e) => Err(Event::error("vote", format!("stop_vote {vote:?}: {e}"))),
            },
            Control::Tally { vote } => match self.engine.tally(&vote, now) {
                Some(live) => {
                    self.outbox.emit(tally_event(live));
                    Ok(())
                }
                // The same words as start_vote/stop_vote for an unknown vote.
                None => Err(Event::error(
                    "vote",
                    format!(
                        "tally {vote:?}: {}",
                        chatplay::VoteError::UnknownVote(vote.clone())
                    ),
                )),
            },
            other => Err(Event::error(
                "internal",
                format!("not a vote op: {other:?}"),
            )),
        }
    }

    pub(crate) fn on_engine_event(&mut self, ev: chatplay::Event, now: Instant) {
        match ev {
            chatplay::Event::VoteOpened(o) => {
                self.live_tally_round_opened(&o.vote, now);
                info!(vote = %o.vote, round = o.round, window_ms = o.window.as_millis() as u64, "round opened");
                self.outbox.emit(Event::VoteOpened {
                    vote: o.vote,
                    round: o.round,
                    options: o.options,
                    window_ms: o.window.as_millis() as u64,
                });
            }
            chatplay::Event::VoteClosed(r) => {
                self.live_tally_round_closed(&r.vote);
                let tally = Tally(
                    r.tally
                        .iter()
                        .map(|e| (e.choice.label(), e.count))
                        .collect(),
                );
                info!(
                    vote = %r.vote, round = r.round,
                    winner = r.winner.as_ref().map(|w| w.label()).as_deref().unwrap_or("none"),
                    voters = r.voters,
                    tally = %tally.0.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(" "),
                    "round closed"
                );
                if r.announce && self.can_say {
                    let text = r.announcement();
                    for ch in &self.joined {
                        self.announcements.push((ch.clone(), text.clone()));
                    }
                }
                self.outbox.emit(Event::VoteClosed {
                    vote: r.vote,
                    round: r.round,
                    winner: r.winner.map(|w| w.label()),
                    tally,
                    voters: r.voters,
                    refused_ballots: r.refused_ballots,
                    weighted: r.weighted.as_deref().map(super::timers::tally_of),
                });
            }
            chatplay::Event::Input(i) => self.outbox.emit(Event::Input {
                vote: i.vote,
                input: i.choice.option,
                repeat: u32::from(i.choice.repeat),
                user: i.user,
                user_id: i.user_id.unwrap_or_default(),
            }),
            chatplay::Event::Redemption(r) => {
                self.outbox
                    .emit(Event::Redemption(Box::new(crate::events::Redemption {
                        channel: r.channel,
                        user: r.user,
                        user_id: r.user_id.unwrap_or_default(),
                        reward: r.reward,
                        reward_id: r.reward_id,
                        input: r.input,
                    })))
            }
            chatplay::Event::Command(c) => self.outbox.emit(Event::Command {
                command: c.command,
                channel: c.channel,
                user: c.user,
                user_id: c.user_id.unwrap_or_default(),
                args: c.args,
            }),
        }
    }
}
