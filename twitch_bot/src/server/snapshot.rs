//! The `snapshot` a `/ws` client gets first: every vote with its options, mode and round, the live tally and
//! remaining time, and the connection state. The driver takes it ([`crate::bot::Request::Snapshot`]); the
//! live tallies inside are the same `tally` events the bot prints on stdout.

use std::time::Instant;

use serde::Serialize;

use crate::bot::ConnectionState;
use crate::chatplay::{Engine, Mode};
use crate::events::{Event, Tally};

/// The bot's state at one point of its event stream.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// How many events the stdout writer has seen, or will have seen, before this state: the events
    /// numbered above this one happened after it (see [`crate::outbox::Outbox::sequence`]).
    pub after: u64,
    /// The connection state.
    pub state: ConnectionState,
    /// Channels joined.
    pub channels: Vec<String>,
    /// Every vote, in configuration order.
    pub votes: Vec<VoteState>,
    /// Chat messages held by the rate limiter.
    pub chat_queued: u64,
}

/// One vote in a [`Snapshot`].
#[derive(Debug, Clone)]
pub struct VoteState {
    /// Democracy or anarchy.
    pub mode: Mode,
    /// The enabled options, in order.
    pub options: Vec<String>,
    /// The round window in milliseconds.
    pub window_ms: u64,
    /// The live tally: an [`Event::Tally`].
    pub tally: Event,
}

/// The votes of `engine` at `now`.
pub fn votes(engine: &Engine, now: Instant) -> Vec<VoteState> {
    engine
        .votes()
        .filter_map(|v| {
            let live = engine.tally(v.name(), now)?;
            Some(VoteState {
                mode: v.mode(),
                options: v
                    .options()
                    .filter(|(_, on)| *on)
                    .map(|(n, _)| n.to_owned())
                    .collect(),
                window_ms: v.window().as_millis() as u64,
                tally: crate::driver::tally_event(live),
            })
        })
        .collect()
}

#[derive(Serialize)]
struct Connection<'a> {
    state: &'static str,
    channels: &'a [String],
}

#[derive(Serialize)]
struct VoteJson<'a> {
    vote: &'a str,
    mode: &'static str,
    options: &'a [String],
    window_ms: u64,
    round: u64,
    open: bool,
    tally: &'a Tally,
    voters: u64,
    remaining_ms: u64,
}

#[derive(Serialize)]
struct SnapshotJson<'a> {
    r#type: &'static str,
    connection: Connection<'a>,
    votes: Vec<VoteJson<'a>>,
}

impl Snapshot {
    /// The `snapshot` event as JSON:
    /// `{"type":"snapshot","connection":{"state":"connected","channels":[..]},"votes":[{"vote":V,"mode":M,
    /// "options":[..],"window_ms":W,"round":R,"open":B,"tally":{..},"voters":N,"remaining_ms":MS},..]}`
    /// (each vote: its options and the fields of its live `tally` event).
    pub fn to_json(&self) -> String {
        let votes = self
            .votes
            .iter()
            .filter_map(|v| match &v.tally {
                Event::Tally {
                    vote,
                    round,
                    open,
                    tally,
                    voters,
                    remaining_ms,
                    ..
                } => Some(VoteJson {
                    vote,
                    mode: match v.mode {
                        Mode::Democracy => "democracy",
                        Mode::Anarchy => "anarchy",
                    },
                    options: &v.options,
                    window_ms: v.window_ms,
                    round: *round,
                    open: *open,
                    tally,
                    voters: *voters,
                    remaining_ms: *remaining_ms,
                }),
                _ => None,
            })
            .collect();
        let doc = SnapshotJson {
            r#type: "snapshot",
            connection: Connection {
                state: state_name(self.state),
                channels: &self.channels,
            },
            votes,
        };
        serde_json::to_string(&doc).unwrap_or_default()
    }

    /// The open rounds' live tallies.
    pub fn open_tallies(&self) -> impl Iterator<Item = (&str, &Event)> {
        self.votes.iter().filter_map(|v| match &v.tally {
            Event::Tally {
                vote, open: true, ..
            } => Some((vote.as_str(), &v.tally)),
            _ => None,
        })
    }
}

/// The connection state's name in JSON.
pub fn state_name(s: ConnectionState) -> &'static str {
    match s {
        ConnectionState::Connecting => "connecting",
        ConnectionState::Connected => "connected",
        ConnectionState::Reconnecting => "reconnecting",
        ConnectionState::Stopped => "stopped",
    }
}
