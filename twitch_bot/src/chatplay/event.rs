//! What the engine tells its driver: [`Event`]s taken with [`Engine::poll_event`](super::Engine::poll_event).
//!
//! Every event carries what the bot program needs to print it as a JSON line, for example
//! `{"type":"vote_closed","vote":"move","round":1,"winner":"up","tally":{"up":3,"down":1},"voters":4}`:
//! the vote's name, the round number, the options, the window, the winner, the tally in option
//! order, the number of voters, anarchy inputs with their repeat count and user, and commands with
//! their channel, user and arguments.

use std::time::{Duration, Instant};

use super::config::Mode;

/// One input of a vote: an option and a repeat count (`up2` is option `up`, repeat 2).
///
/// In democracy `up` and `up2` are different inputs, tallied separately.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Choice {
    /// The option, spelled as configured.
    pub option: String,
    /// The repeat count, 1 to the vote's `max_repeat`.
    pub repeat: u8,
}

impl Choice {
    /// The input as chat writes it: the option, followed by the repeat count when above 1.
    ///
    /// ```
    /// use twitch_bot::chatplay::Choice;
    /// assert_eq!(Choice { option: "up".into(), repeat: 1 }.label(), "up");
    /// assert_eq!(Choice { option: "up".into(), repeat: 2 }.label(), "up2");
    /// ```
    pub fn label(&self) -> String {
        if self.repeat > 1 {
            format!("{}{}", self.option, self.repeat)
        } else {
            self.option.clone()
        }
    }
}

/// One line of a tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyEntry {
    /// The input.
    pub choice: Choice,
    /// Its count.
    pub count: u64,
}

/// A round has opened.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundOpened {
    /// The vote's name.
    pub vote: String,
    /// The round number, from 1, per vote.
    pub round: u64,
    /// Democracy or anarchy.
    pub mode: Mode,
    /// The enabled options, in order.
    pub options: Vec<String>,
    /// The highest repeat suffix accepted.
    pub max_repeat: u8,
    /// How long the round stays open.
    pub window: Duration,
    /// When it closes (the `now` it opened at plus the window).
    pub closes_at: Instant,
    /// The vote's `announce` setting.
    pub announce: bool,
}

impl RoundOpened {
    /// A short chat announcement (at most 450 bytes; the option list is cut if needed).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use twitch_bot::chatplay::{Mode, RoundOpened};
    /// let o = RoundOpened {
    ///     vote: "move".into(), round: 3, mode: Mode::Democracy,
    ///     options: vec!["up".into(), "down".into()], max_repeat: 1,
    ///     window: Duration::from_secs(20), closes_at: Instant::now(), announce: true,
    /// };
    /// assert_eq!(o.announcement(), "Vote move #3 is open for 20 s: up, down");
    /// ```
    pub fn announcement(&self) -> String {
        let mut text = format!(
            "Vote {} #{} is open for {} s: ",
            self.vote,
            self.round,
            format_secs(self.window)
        );
        for (i, option) in self.options.iter().enumerate() {
            if text.len() + option.len() + 2 > 440 {
                text.push_str(", ...");
                break;
            }
            if i > 0 {
                text.push_str(", ");
            }
            text.push_str(option);
        }
        text
    }
}

/// A round has closed: its result.
#[derive(Debug, Clone, PartialEq)]
pub struct VoteResult {
    /// The vote's name.
    pub vote: String,
    /// The round number.
    pub round: u64,
    /// Democracy or anarchy.
    pub mode: Mode,
    /// The winning input. `None` in anarchy (inputs were passed on as they came), below
    /// `min_voters`, or when no enabled option could win.
    pub winner: Option<Choice>,
    /// The inputs that got ballots (count above 0), in option order then repeat order.
    pub tally: Vec<TallyEntry>,
    /// Democracy: users holding a ballot at close (plus ballots kept by `reset_voted_list` or
    /// counted with voter limiting off). Anarchy: distinct users whose input was passed on.
    pub voters: u64,
    /// Ballots refused because the vote was full: new users past
    /// [`VoteConfig::max_voters`](super::VoteConfig::max_voters) (one per refused message; see
    /// [bounded memory](super::vote#bounded-memory)). 0 unless the cap was reached.
    pub refused_ballots: u64,
    /// Weighted votes only ([`VoteConfig::bits_per_vote`](super::VoteConfig::bits_per_vote) set):
    /// the weighted total of each input in [`tally`](Self::tally), in the same order; the winner
    /// was chosen on these. `None` when weights are off.
    pub weighted: Option<Vec<TallyEntry>>,
    /// The vote's `announce` setting.
    pub announce: bool,
}

impl VoteResult {
    /// A short chat announcement of the result.
    ///
    /// ```
    /// use twitch_bot::chatplay::{Choice, Mode, TallyEntry, VoteResult};
    /// let r = VoteResult {
    ///     vote: "move".into(), round: 1, mode: Mode::Democracy,
    ///     winner: Some(Choice { option: "up".into(), repeat: 1 }),
    ///     tally: vec![TallyEntry { choice: Choice { option: "up".into(), repeat: 1 }, count: 3 }],
    ///     voters: 4, refused_ballots: 0, weighted: None, announce: true,
    /// };
    /// assert_eq!(r.announcement(), "Vote move #1 closed: up wins with 3 of 4 voters");
    /// ```
    pub fn announcement(&self) -> String {
        match &self.winner {
            Some(winner) => {
                let count = self
                    .tally
                    .iter()
                    .find(|e| &e.choice == winner)
                    .map_or(0, |e| e.count);
                format!(
                    "Vote {} #{} closed: {} wins with {} of {} voters",
                    self.vote,
                    self.round,
                    winner.label(),
                    count,
                    self.voters
                )
            }
            None if self.mode == Mode::Anarchy => format!(
                "Vote {} #{} closed: {} players took part",
                self.vote, self.round, self.voters
            ),
            None => format!(
                "Vote {} #{} closed: no winner ({} voters)",
                self.vote, self.round, self.voters
            ),
        }
    }
}

/// An anarchy input, passed on as soon as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnarchyInput {
    /// The vote's name.
    pub vote: String,
    /// The round it arrived in.
    pub round: u64,
    /// The input (option and repeat count).
    pub choice: Choice,
    /// The sender's login.
    pub user: String,
    /// The sender's user id, when the message had tags.
    pub user_id: Option<String>,
    /// The channel it was typed in.
    pub channel: String,
}

/// A redemption of a configured `[[reward]]` (see [`reward`](super::reward)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionEvent {
    /// The channel it was redeemed in.
    pub channel: String,
    /// The viewer's login.
    pub user: String,
    /// The viewer's user id, when known.
    pub user_id: Option<String>,
    /// The reward: its title when the transport gives one (EventSub), else the configured
    /// `title`, else its id (IRC knows only the id).
    pub reward: String,
    /// The reward's id.
    pub reward_id: String,
    /// The text the viewer typed with it (empty for a reward without text).
    pub input: String,
}

/// A chat command that passed its checks (permission and cooldowns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandInvocation {
    /// The command's configured name.
    pub command: String,
    /// The keyword as configured that matched.
    pub keyword: String,
    /// The channel it was typed in.
    pub channel: String,
    /// The sender's login.
    pub user: String,
    /// The sender's user id, when the message had tags.
    pub user_id: Option<String>,
    /// The rest of the message after the keyword, trimmed, invisible characters removed.
    pub args: String,
}

/// Something the driver must act on; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A channel-points redemption of a configured reward (see [`reward`](super::reward)).
    Redemption(RedemptionEvent),
    /// A round opened.
    VoteOpened(RoundOpened),
    /// A round closed with this result.
    VoteClosed(VoteResult),
    /// An anarchy input to apply now.
    Input(AnarchyInput),
    /// A chat command to run.
    Command(CommandInvocation),
}

/// The live state of a vote, for an overlay: readable at any time.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTally {
    /// The vote's name.
    pub vote: String,
    /// The current (or, when closed, the last) round; 0 before the first round.
    pub round: u64,
    /// Whether the round is open.
    pub open: bool,
    /// Time left in the open round (zero when closed).
    pub remaining: Duration,
    /// The inputs with a count above 0, in option order then repeat order (frozen at close).
    pub tally: Vec<TallyEntry>,
    /// As [`VoteResult::voters`].
    pub voters: u64,
    /// As [`VoteResult::weighted`]: weighted totals, `None` when weights are off.
    pub weighted: Option<Vec<TallyEntry>>,
    /// The input that would win if the round closed now (democracy; same rules as at close, but a
    /// random tie-break shows the first of the tied).
    pub leader: Option<Choice>,
}

fn format_secs(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        format!("{secs:.1}")
    }
}
