//! Game-input events (JSON lines the bot writes) and control operations (JSON lines the game writes).
//!
//! Each [`Event`] serialises to one JSON object on one line, with a `type` field and stable field names (a
//! contract: games and tests parse them). Each [`Control`] is parsed from one JSON object with an `op` field;
//! [`Control::parse_line`] never panics and returns a [`ControlError`] the bot reports as an `error` event.
//!
//! ```
//! use twitch_bot::events::{Control, Event};
//!
//! let line = Event::Joined { channel: "somechannel".into() }.to_json_line();
//! assert_eq!(line, "{\"type\":\"joined\",\"channel\":\"somechannel\"}\n");
//!
//! let op = Control::parse_line(r#"{"op":"start_vote","vote":"move"}"#).unwrap();
//! assert_eq!(op, Control::StartVote { vote: "move".into() });
//! let op = Control::parse_line(r#"{"op":"tally","vote":"move"}"#).unwrap();
//! assert_eq!(op, Control::Tally { vote: "move".into() });
//! assert!(Control::parse_line("not json").is_err());
//! ```

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

pub use crate::rate_limit::ChatStatus;

/// Longest control line accepted, in bytes; longer lines are answered with an `error` event.
pub const MAX_CONTROL_LINE: usize = 64 * 1024;

/// A vote's tally: `(input, ballots)` in the vote's option order, only inputs that got ballots.
///
/// Serialises as a JSON object in that order: `{"up":3,"down":1}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally(pub Vec<(String, u64)>);

impl Serialize for Tally {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One thing that happened, for the game. Serialised as `{"type":"<snake_case name>", ...fields}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Logged in to the chat server (after every successful (re)connect).
    Connected {
        /// The server URL.
        server: String,
    },
    /// A channel was joined (confirmed by the server).
    Joined {
        /// Channel login, lowercase, without `#`.
        channel: String,
    },
    /// A channel was left.
    Parted {
        /// Channel login.
        channel: String,
    },
    /// The connection was lost or closed.
    Disconnected {
        /// Why, in words (close code and reason, error, missed PONG, server RECONNECT).
        reason: String,
    },
    /// The bot waits `delay_ms` before connection attempt `attempt` (1 for the first retry). After a server
    /// `RECONNECT` the bot opens the new connection at once while the old one keeps reading: then
    /// `attempt` and `delay_ms` are 0 and no `disconnected` precedes it (see [`crate::driver`]).
    Reconnecting {
        /// Attempt number since the last stable connection, from 1 (0: overlapping handover).
        attempt: u32,
        /// Delay before the attempt, in milliseconds.
        delay_ms: u64,
        /// Why, in words (the same text as the `disconnected` event before it, if any).
        reason: String,
    },
    /// A vote round opened.
    VoteOpened {
        /// The vote's name.
        vote: String,
        /// Round number, from 1, per vote.
        round: u64,
        /// The vote's options.
        options: Vec<String>,
        /// The round's window in milliseconds.
        window_ms: u64,
    },
    /// A vote round closed with its result.
    VoteClosed {
        /// The vote's name.
        vote: String,
        /// Round number.
        round: u64,
        /// The winning input, `null` below `min_voters` (or with no ballots).
        winner: Option<String>,
        /// Ballots per input (only inputs that got ballots), in option order.
        tally: Tally,
        /// Number of users holding a ballot at close.
        voters: u64,
        /// Ballots refused because the round already had the vote's `max_voters` voters (new voters are
        /// refused; known voters may still change their ballot). Left out of the JSON when 0.
        #[serde(skip_serializing_if = "is_zero")]
        refused_ballots: u64,
        /// Weighted votes only (`bits_per_vote` set): the weighted total per input, same keys and order as
        /// `tally`; the winner was chosen on these. Left out of the JSON when weights are off.
        #[serde(skip_serializing_if = "Option::is_none")]
        weighted: Option<Tally>,
    },
    /// A vote's live tally, for an overlay (e.g. vote bars): the answer to a `tally` control op
    /// ([`Control::Tally`], [`crate::bot::Bot::request_tally`]), and, for a vote with
    /// `tally_interval_secs` set, sent every that many seconds while a round is open (the first one an interval
    /// after `vote_opened`; none after `vote_closed`, which carries the final count).
    ///
    /// Droppable: when the reader falls behind, a `tally` may be dropped like `input` (the next one supersedes
    /// it; ask again with the op if you need one now).
    Tally {
        /// The vote's name.
        vote: String,
        /// The open round, or when none is open the last round (0 before the first).
        round: u64,
        /// Whether the round is open.
        open: bool,
        /// Ballots per input (only inputs that got ballots), in option order, like `vote_closed`. When no round
        /// is open: the last round's final count (empty before the first round).
        tally: Tally,
        /// Number of users holding a ballot (as in `vote_closed`).
        voters: u64,
        /// Milliseconds until the open round closes; always present, 0 when no round is open.
        remaining_ms: u64,
        /// Weighted votes only: the weighted totals, as in `vote_closed`. Left out when weights are off.
        #[serde(skip_serializing_if = "Option::is_none")]
        weighted: Option<Tally>,
    },
    /// An anarchy-mode input: apply it now.
    Input {
        /// The vote's name.
        vote: String,
        /// The option.
        input: String,
        /// The repeat count (1 unless `up2`-style input).
        repeat: u32,
        /// The viewer's login.
        user: String,
        /// The viewer's user id (empty when the server sent no tags).
        user_id: String,
    },
    /// A viewer redeemed a channel-points reward that a `[[reward]]` names (see [`crate::chatplay::reward`]).
    /// Never dropped (it cost the viewer points). Boxed: the largest event would otherwise grow every event.
    Redemption(Box<Redemption>),
    /// A chat command was used.
    Command {
        /// The command's name from the config.
        command: String,
        /// The channel it was used in.
        channel: String,
        /// The viewer's login.
        user: String,
        /// The viewer's user id (empty when the server sent no tags).
        user_id: String,
        /// The text after the keyword, trimmed (may be empty).
        args: String,
    },
    /// Keyboard output pressed a binding's keys (`[output] kind = "keyboard"`; see [`crate::output`]). Sent
    /// when the first press starts; `repeat` presses follow, each held `hold_ms`.
    Keys {
        /// The vote, for a vote binding.
        #[serde(skip_serializing_if = "Option::is_none")]
        vote: Option<String>,
        /// The option, for a vote binding.
        #[serde(skip_serializing_if = "Option::is_none")]
        input: Option<String>,
        /// The command, for a command binding.
        #[serde(skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        /// The chord's key names, in press order.
        keys: Vec<String>,
        /// How many times the chord is pressed.
        repeat: u32,
        /// The viewer (anarchy inputs and commands; absent for a democracy winner).
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// Keyboard output skipped a press because the focus guard's window (`target_window`) was not focused.
    KeysSkipped {
        /// Why: `focus`.
        reason: String,
        /// The chord's key names.
        keys: Vec<String>,
        /// Presses skipped for this reason since the start.
        total: u64,
    },
    /// Keyboard output was paused: every held key was released, waiting presses were dropped, and nothing is
    /// pressed until `output_resumed`.
    OutputPaused {
        /// Who paused it: `stdin`, `--output-paused`, or the moderator's login.
        by: String,
    },
    /// Keyboard output was resumed.
    OutputResumed {
        /// Who resumed it: `stdin` or the moderator's login.
        by: String,
    },
    /// Events were dropped because the reader fell behind (see the crate docs' queue policy). Only `input`,
    /// `command` and `tally` events are ever dropped.
    Dropped {
        /// How many events were dropped since the last `dropped` event.
        count: u64,
    },
    /// The answer to a `say`: the message is queued (`parts` pieces: longer than 500 characters splits), and
    /// `queued` messages now wait for `channel` (`queued_total` in all channels). A game that sees these grow
    /// is sending faster than Twitch allows, and should slow down.
    ChatQueued {
        /// Channel login.
        channel: String,
        /// Pieces this message was split into (1 unless longer than 500 characters).
        parts: usize,
        /// Messages waiting for this channel, this one included.
        queued: usize,
        /// Messages waiting in all channels.
        queued_total: usize,
    },
    /// The answer to `{"op":"chat_status"}`: the outgoing chat queue (see [`ChatStatus`]).
    ChatStatus(ChatStatus),
    /// A bad control line or a recoverable problem (the bot keeps running).
    Error {
        /// What kind: `bad_control` (a stdin line), `send` (a message could not be sent), `notice` (a server
        /// NOTICE such as msg_ratelimit), `connect`, `vote` (unknown vote / no open round), ...
        kind: String,
        /// What was wrong, in words.
        message: String,
    },
}

/// The fields of a `redemption` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redemption {
    /// The channel it was redeemed in.
    pub channel: String,
    /// The viewer's login.
    pub user: String,
    /// The viewer's user id (empty when unknown).
    pub user_id: String,
    /// The reward's title when the transport gives it (EventSub), else the configured `title`, else its id.
    pub reward: String,
    /// The reward's id.
    pub reward_id: String,
    /// The text the viewer typed (empty for a reward without text).
    pub input: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Event {
    /// The event as one JSON line, ending with `\n`.
    pub fn to_json_line(&self) -> String {
        // Serialising these types cannot fail (string keys, no non-finite floats).
        let mut s = serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","kind":"internal","message":"event serialisation failed: {e}"}}"#)
        });
        s.push('\n');
        s
    }

    /// The `type` field's value.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Connected { .. } => "connected",
            Event::Joined { .. } => "joined",
            Event::Parted { .. } => "parted",
            Event::Disconnected { .. } => "disconnected",
            Event::Reconnecting { .. } => "reconnecting",
            Event::VoteOpened { .. } => "vote_opened",
            Event::VoteClosed { .. } => "vote_closed",
            Event::Tally { .. } => "tally",
            Event::Input { .. } => "input",
            Event::Command { .. } => "command",
            Event::Redemption(_) => "redemption",
            Event::Keys { .. } => "keys",
            Event::KeysSkipped { .. } => "keys_skipped",
            Event::OutputPaused { .. } => "output_paused",
            Event::OutputResumed { .. } => "output_resumed",
            Event::Dropped { .. } => "dropped",
            Event::ChatQueued { .. } => "chat_queued",
            Event::ChatStatus(_) => "chat_status",
            Event::Error { .. } => "error",
        }
    }

    /// Whether the queue may drop this event when the reader falls behind: `input` and `command` (high volume,
    /// superseded quickly) and `tally` (superseded by the next one). Results (`vote_opened`, `vote_closed`)
    /// and connection events are never dropped; `error` events only once the backlog is full; see
    /// [`crate::outbox`].
    pub fn is_droppable(&self) -> bool {
        matches!(
            self,
            Event::Input { .. } | Event::Command { .. } | Event::Tally { .. }
        )
    }

    /// An `error` event.
    pub fn error(kind: &str, message: impl Into<String>) -> Event {
        Event::Error {
            kind: kind.to_owned(),
            message: message.into(),
        }
    }
}

/// An operation the game asks of the bot (a JSON line on stdin, or a [`crate::bot::Bot`] method call).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Control {
    /// `{"op":"start_vote","vote":NAME}`: open a round now (closes nothing; an open round is kept).
    StartVote {
        /// The vote's name.
        vote: String,
    },
    /// `{"op":"stop_vote","vote":NAME}`: close the open round now, with its result; an `auto` vote then opens
    /// no further rounds until the next `start_vote`.
    StopVote {
        /// The vote's name.
        vote: String,
    },
    /// `{"op":"tally","vote":NAME}`: report the vote's live tally now, as a [`Event::Tally`] (an unknown vote
    /// gets an `error` event of kind `vote`). Works whether or not a round is open.
    Tally {
        /// The vote's name.
        vote: String,
    },
    /// `{"op":"say","channel":CH,"text":TEXT}`: post in a channel (rate limited; logged-in bots only). Answered
    /// by a `chat_queued` event, or an `error` of kind `send` (e.g. the queue is full).
    Say {
        /// The channel (a leading `#` is accepted).
        channel: String,
        /// The message; line breaks are replaced by spaces, messages over 500 characters are split at a space.
        text: String,
    },
    /// `{"op":"chat_status"}`: report the outgoing chat queue now, as a `chat_status` event.
    ChatStatus,
    /// `{"op":"output","enabled":false}`: pause keyboard output (every held key is released at once), or resume
    /// it with `true` (see [`crate::output`]). Without keyboard output: an `error` event of kind `output`.
    Output {
        /// `false` pauses, `true` resumes.
        enabled: bool,
    },
    /// `{"op":"join","channel":CH}`: join a channel.
    Join {
        /// The channel.
        channel: String,
    },
    /// `{"op":"part","channel":CH}`: leave a channel.
    Part {
        /// The channel.
        channel: String,
    },
}

/// Why a control line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The line is longer than [`MAX_CONTROL_LINE`].
    #[error("control line too long ({0} bytes, at most {MAX_CONTROL_LINE})")]
    TooLong(usize),
    /// The line is not a JSON object with a known `op` and its fields.
    #[error(
        "bad control line: {0} (expected e.g. {{\"op\":\"start_vote\",\"vote\":\"move\"}}, \
         {{\"op\":\"stop_vote\",\"vote\":\"move\"}}, {{\"op\":\"tally\",\"vote\":\"move\"}}, \
         {{\"op\":\"say\",\"channel\":\"ch\",\"text\":\"hi\"}}, {{\"op\":\"chat_status\"}}, \
         {{\"op\":\"join\",\"channel\":\"ch\"}}, {{\"op\":\"part\",\"channel\":\"ch\"}}, \
         {{\"op\":\"output\",\"enabled\":false}})"
    )]
    Invalid(String),
}

impl Control {
    /// Parses one line (surrounding whitespace ignored).
    pub fn parse_line(line: &str) -> Result<Control, ControlError> {
        if line.len() > MAX_CONTROL_LINE {
            return Err(ControlError::TooLong(line.len()));
        }
        serde_json::from_str(line.trim()).map_err(|e| ControlError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_keeps_option_order() {
        let t = Tally(vec![("up".into(), 3), ("down".into(), 1), ("a".into(), 7)]);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"up":3,"down":1,"a":7}"#
        );
    }
}
