//! One vote: its options (with the legacy ChatPlay gem's operations), its timed rounds, its
//! ballots and its tally.
//!
//! A [`Vote`] lives inside the [`Engine`](super::Engine), which feeds it chat and runs its timer;
//! the game reaches it with [`Engine::vote`](super::Engine::vote) and
//! [`Engine::vote_mut`](super::Engine::vote_mut) for the legacy operations:
//!
//! | legacy ChatPlay (`ChatPlayVoteRequestBus`) | here |
//! |---|---|
//! | CreateVote / DestroyVote (`ChatPlayRequestBus`) | [`Engine::add_vote`](super::Engine::add_vote), [`Engine::remove_vote`](super::Engine::remove_vote) |
//! | AddOption / RemoveOption / OptionExists | [`Vote::add_option`], [`Vote::remove_option`], [`Vote::option_exists`] |
//! | ConfigureOption(name, count, enabled) | [`Vote::configure_option`] |
//! | GetOptionCount / SetOptionCount | [`Vote::option_count`], [`Vote::set_option_count`] |
//! | GetOptionEnabled / SetOptionEnabled | [`Vote::option_enabled`], [`Vote::set_option_enabled`] |
//! | SetEnableStateAll / SetCountAll | [`Vote::set_enabled_all`], [`Vote::set_count_all`] |
//! | SetVoterLimiting / ResetVotedList | [`Vote::set_voter_limiting`], [`Vote::reset_voted_list`] |
//! | Visit / HighScores (top 4) | [`Vote::visit`], [`Vote::top`] |
//!
//! # Fairness rules
//!
//! * **One ballot per user per round**, keyed by the `user-id` tag (by login only for messages
//!   without tags). **The last valid ballot wins**: a new ballot replaces the user's previous one.
//!   This is "voter limiting" on, the default; with it off ([`Vote::set_voter_limiting`]), every
//!   ballot message adds one, as in the legacy gem.
//! * **A message id counts once.** The engine remembers the ids of the messages it handled (at
//!   least the last `max_remembered_ids`, across rounds; see [`dedup`](super::dedup)) and drops a
//!   replayed one before any vote sees it, so lines replayed after a reconnect change nothing.
//! * **The bot's own messages never count** (the engine drops them before the votes see them).
//! * **Backlog lines never count.** A line tagged `historical=1` (chat history the server
//!   replays, [`ChatMessage::historical`]) was not said now: the engine drops it before keywords,
//!   commands and votes, so it casts no ballot and passes on no anarchy input.
//! * **Moderation.** A CLEARCHAT of a user (timeout or ban) removes that user's ballot in the open
//!   round. A CLEARMSG removes the ballot its message cast, if that is still the user's current
//!   ballot (a later ballot is left alone). A CLEARCHAT of the whole chat (`/clear`) removes no
//!   ballot: it cleans the screen and judges no one. Anarchy inputs were already passed on and are
//!   not taken back.
//! * **Disabled options** take no new ballots and cannot win; ballots they already hold stay
//!   counted until their voters vote again.
//! * **Results** never depend on hash order: tallies are dense vectors in option order, ties go to
//!   the input listed first (option order, then repeat count) or to a seeded random pick among
//!   the tied.
//!
//! Without manual counts ([`Vote::set_option_count`] and friends), the tally's sum always equals
//! the number of voters.
//!
//! # Channels
//!
//! By default **ballots from every joined channel count together**: a bot in `#a` and `#b`
//! runs one round per vote, and a user voting in both channels holds one ballot (keyed by
//! user id, the last one wins). To count one channel only, list it in
//! [`VoteConfig::channels`](super::VoteConfig::channels); ballots from other channels are then
//! ignored by that vote (they are not refused or counted anywhere).
//!
//! # Bounded memory
//!
//! Each vote keeps one record per voter (about 140 bytes), for the open round and for users who
//! voted in the last few rounds (so a regular voter costs no allocation per round). Records, and
//! the engine's message ids (see [`dedup`](super::dedup)), are capped:
//!
//! * at most [`VoteConfig::max_voters`](super::VoteConfig::max_voters) voter records (default
//!   [`DEFAULT_MAX_VOTERS`](super::config::DEFAULT_MAX_VOTERS), one million). When the cap is
//!   reached, the vote first forgets, once per round, every record that matters for nothing in
//!   the open round (users who did not vote in it and have no anarchy cooldown running). If it is
//!   still full, **a user it does not know is refused** until the round closes: the ballot is
//!   ignored (no tally change, no anarchy input). Users it already knows (they voted in this
//!   round, or recently) may still change their ballot: their record exists, so this costs no
//!   memory. Every refused ballot is counted in
//!   [`VoteResult::refused_ballots`](super::VoteResult::refused_ballots) (and
//!   [`Vote::refused_ballots`] while the round is open), and the first refusal of a round logs
//!   one `warn` (never one per message). Records are dropped again when later rounds open.
//! * at most `2 * max_remembered_ids` message ids, in the engine (see [`dedup`](super::dedup)).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

use super::ballot::match_ballot;
use super::config::{self, ConfigError, MAX_OPTIONS, Mode, Start, TieBreak, VoteConfig};
use super::count::Count;
use super::dedup::MessageKey;
use super::event::{AnarchyInput, Choice, LiveTally, RoundOpened, TallyEntry, VoteResult};
use super::fasthash::FastState;
use super::message::ChatMessage;
use super::normalize::normalized;
use super::weight::{self, Weighting};

/// A vote operation that cannot be done.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum VoteError {
    /// No vote has this name.
    #[error("no vote is named {0:?}")]
    UnknownVote(String),
    /// The vote has no such option.
    #[error("vote {vote:?} has no option {option:?}")]
    UnknownOption {
        /// The vote.
        vote: String,
        /// The option asked for.
        option: String,
    },
    /// A round is already open.
    #[error("vote {vote:?} already has round {round} open")]
    AlreadyOpen {
        /// The vote.
        vote: String,
        /// The open round.
        round: u64,
    },
    /// No round is open.
    #[error("vote {vote:?} has no open round")]
    NotOpen {
        /// The vote.
        vote: String,
    },
    /// The last option cannot be removed.
    #[error("vote {vote:?}: the last option cannot be removed")]
    LastOption {
        /// The vote.
        vote: String,
    },
    /// The new option is invalid (same rules as in the configuration).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

#[derive(Debug, Clone)]
struct OptionSlot {
    name: String,
    enabled: bool,
}

#[derive(Debug, Clone, Copy)]
struct OpenRound {
    closes_at: Instant,
}

/// Per-round counts. Index of an input: `option * max_repeat + (repeat - 1)`.
#[derive(Debug, Default)]
struct Tally {
    /// Ballots held by users (voter limiting on).
    live: Vec<u32>,
    /// Ballots no longer tied to a user: kept by `reset_voted_list`, counted with voter limiting
    /// off, or anarchy inputs passed on.
    frozen: Vec<u32>,
    /// Manual adjustments (`set_option_count`).
    manual: Vec<i64>,
    /// Users holding a ballot.
    holders: u64,
    /// Sum of `frozen`.
    frozen_total: u64,
    /// Anarchy: users whose input was passed on this round.
    distinct: u64,
    /// Ballots refused because the vote was full (`max_voters`).
    refused: u64,
    /// Weighted votes: the weighted total per input (ballots held and frozen); empty otherwise.
    weighted: Vec<u64>,
}

impl Tally {
    fn reset(&mut self, inputs: usize) {
        for v in [&mut self.live, &mut self.frozen] {
            v.clear();
            v.resize(inputs, 0);
        }
        self.manual.clear();
        self.manual.resize(inputs, 0);
        self.weighted.clear();
        self.weighted.resize(inputs, 0);
        self.holders = 0;
        self.frozen_total = 0;
        self.distinct = 0;
        self.refused = 0;
    }

    fn count(&self, i: usize) -> u64 {
        let raw = i64::from(self.live[i]) + i64::from(self.frozen[i]) + self.manual[i];
        u64::try_from(raw).unwrap_or(0)
    }

    /// A held ballot for input `b` goes (moderation), with its weight (`bits` of its user).
    fn remove_ballot(&mut self, b: u16, bits: u32, weighting: Option<Weighting>) {
        let b = usize::from(b);
        self.live[b].down(1, "live");
        self.holders.down(1, "holders");
        if let Some(w) = weighting {
            self.weighted[b].down(u64::from(w.weight(bits)), "weighted");
        }
    }

    /// The weighted total of input `i` (manual adjustments count one for one).
    fn weighted_count(&self, i: usize) -> u64 {
        let raw = i128::from(self.weighted[i]) + i128::from(self.manual[i]);
        u64::try_from(raw).unwrap_or(0)
    }
}

#[derive(Debug)]
struct Voter {
    /// The last round this user cast a ballot in; `ballot` is meaningless for older rounds.
    round: u64,
    /// The input held (democracy) or the last input passed on (anarchy) in `round`.
    ballot: Option<u16>,
    /// The fingerprint of the message that cast `ballot` (see `Voters::fingerprint`).
    message: u128,
    /// Hash of the login, to find the user when a CLEARCHAT names only the login.
    login_hash: u64,
    /// Hash of the channel `ballot` was cast in: a CLEARCHAT or CLEARMSG acts only on ballots cast in
    /// its own channel.
    channel_hash: u64,
    /// Anarchy: when the last input was passed on.
    last_input: Option<Instant>,
    /// Weighted votes: the bits cheered in `round` (saturating). A held `ballot` always weighs
    /// `Weighting::weight(bits)` in the weighted tally.
    bits: u32,
}

/// Who voted, found with one lookup by user id (a `u64` for Twitch's numeric ids, text
/// otherwise) or, without tags, by login. Records live inline in the maps (one cache miss per
/// ballot); a new voter with a numeric id costs no allocation beyond the map's growth.
#[derive(Debug, Default)]
struct Voters {
    by_number: HashMap<u64, Voter, FastState>,
    by_id: HashMap<Box<str>, Voter, FastState>,
    by_login: HashMap<Box<str>, Voter, FastState>,
    hasher: FastState,
}

/// A numeric user id as a `u64`; `None` for anything that would not map back to the same text
/// (leading zeros, signs, too long).
fn numeric_id(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.is_empty() || b.len() > 19 || (b[0] == b'0' && b.len() > 1) {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

impl Voters {
    /// The user's record, created on first use if `room` (else `None` for a user not known).
    fn slot(&mut self, user_id: Option<&str>, login: &str, room: bool) -> Option<&mut Voter> {
        let hasher = self.hasher;
        let fresh = || Voter {
            round: 0,
            ballot: None,
            message: 0,
            login_hash: hasher.hash_one(login),
            channel_hash: 0,
            last_input: None,
            bits: 0,
        };
        let (map, key) = match user_id {
            Some(id) => match numeric_id(id) {
                Some(n) => {
                    return match self.by_number.entry(n) {
                        Entry::Occupied(known) => Some(known.into_mut()),
                        Entry::Vacant(new) => room.then(|| new.insert(fresh())),
                    };
                }
                None => (&mut self.by_id, id),
            },
            None => (&mut self.by_login, login),
        };
        if !map.contains_key(key) {
            if !room {
                return None;
            }
            map.insert(key.into(), fresh());
        }
        map.get_mut(key)
    }

    /// How many records are held.
    fn len(&self) -> usize {
        self.by_number.len() + self.by_id.len() + self.by_login.len()
    }

    fn get(&self, user_id: Option<&str>, login: &str) -> Option<&Voter> {
        match user_id {
            Some(id) => match numeric_id(id) {
                Some(n) => self.by_number.get(&n),
                None => self.by_id.get(id),
            },
            None => self.by_login.get(login),
        }
    }

    fn get_mut(&mut self, user_id: Option<&str>, login: &str) -> Option<&mut Voter> {
        match user_id {
            Some(id) => match numeric_id(id) {
                Some(n) => self.by_number.get_mut(&n),
                None => self.by_id.get_mut(id),
            },
            None => self.by_login.get_mut(login),
        }
    }

    fn login_hash(&self, login: &str) -> u64 {
        self.hasher.hash_one(login)
    }

    /// The 128-bit fingerprint of a message key stored with a ballot (0: no id). UUIDs are
    /// exact; other ids are hashed (a collision needs 2^64 tries).
    fn fingerprint(&self, key: &MessageKey) -> u128 {
        match key {
            MessageKey::None => 0,
            MessageKey::Uuid(u) => *u,
            MessageKey::Text(t) => {
                let a = self.hasher.hash_one(t);
                let b = self.hasher.hash_one((t, 1u8));
                (u128::from(a) << 64 | u128::from(b)) | 1
            }
        }
    }

    fn all_mut(&mut self) -> impl Iterator<Item = &mut Voter> {
        self.by_number
            .values_mut()
            .chain(self.by_id.values_mut())
            .chain(self.by_login.values_mut())
    }

    fn retain(&mut self, keep: impl Fn(&Voter) -> bool) {
        self.by_number.retain(|_, v| keep(v));
        self.by_id.retain(|_, v| keep(v));
        self.by_login.retain(|_, v| keep(v));
    }
}

/// One vote; see the [module docs](self).
#[derive(Debug)]
pub struct Vote {
    name: String,
    folded_name: String,
    mode: Mode,
    window: Duration,
    start: Start,
    min_voters: u32,
    tie: TieBreak,
    max_repeat: u8,
    announce: bool,
    anarchy_cooldown: Duration,
    options: Vec<OptionSlot>,
    folded: Vec<Box<str>>,
    max_ballot_len: usize,
    voter_limiting: bool,
    round: u64,
    open: Option<OpenRound>,
    /// Auto votes: whether rounds run back to back (false after `stop`).
    running: bool,
    tally: Tally,
    voters: Voters,
    /// The cap on voter records (`VoteConfig::max_voters`).
    max_voters: usize,
    /// Whether the open round already dropped idle records to make room.
    made_room: bool,
    /// Only ballots from these channels count (lowercase logins); empty: all channels.
    channels: Vec<Box<str>>,
    rng: StdRng,
    /// Weighted votes: the rule (`None`: every ballot weighs 1).
    weighting: Option<Weighting>,
}

impl Vote {
    /// Builds a vote from a validated configuration.
    pub(crate) fn new(config: &VoteConfig, seed: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let window = config::window_duration(&config.name, config.window_secs)?;
        let anarchy_cooldown =
            config::cooldown_duration(&config.name, config.anarchy_cooldown_secs)?;
        let mut vote = Self {
            name: config.name.clone(),
            folded_name: normalized(&config.name),
            mode: config.mode,
            window,
            start: config.start,
            min_voters: config.min_voters,
            tie: config.tie,
            max_repeat: config.max_repeat,
            announce: config.announce,
            anarchy_cooldown,
            options: Vec::new(),
            folded: Vec::new(),
            max_ballot_len: 0,
            voter_limiting: true,
            round: 0,
            open: None,
            running: config.start == Start::Auto,
            tally: Tally::default(),
            voters: Voters::default(),
            max_voters: config.max_voters,
            made_room: false,
            channels: config
                .channels
                .iter()
                .map(|c| c.strip_prefix('#').unwrap_or(c).to_ascii_lowercase().into())
                .collect(),
            rng: StdRng::seed_from_u64(seed),
            weighting: config.weighting()?,
        };
        for option in &config.options {
            vote.options.push(OptionSlot {
                name: option.clone(),
                enabled: true,
            });
            vote.folded.push(normalized(option).into());
        }
        vote.refresh_limits();
        let inputs = vote.inputs();
        vote.tally.reset(inputs);
        Ok(vote)
    }

    // ----- getters -----

    /// The vote's name, as configured.
    ///
    /// ```
    /// # use twitch_bot::chatplay::{Engine, EngineConfig, VoteConfig};
    /// # let mut c = EngineConfig::new("bot"); c.votes.push(VoteConfig::new("move", ["up"]));
    /// let engine = Engine::new(c).unwrap();
    /// assert_eq!(engine.vote("move").unwrap().name(), "move");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Democracy or anarchy.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// How rounds start.
    pub fn start_mode(&self) -> Start {
        self.start
    }

    /// The round window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The current round number (the last one, when closed); 0 before the first.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// Whether a round is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// When the open round closes.
    pub fn closes_at(&self) -> Option<Instant> {
        self.open.map(|o| o.closes_at)
    }

    /// The options in order, with their enabled flag.
    ///
    /// ```
    /// # use twitch_bot::chatplay::{Engine, EngineConfig, VoteConfig};
    /// # let mut c = EngineConfig::new("bot"); c.votes.push(VoteConfig::new("move", ["up", "down"]));
    /// let engine = Engine::new(c).unwrap();
    /// let names: Vec<&str> = engine.vote("move").unwrap().options().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["up", "down"]);
    /// ```
    pub fn options(&self) -> impl Iterator<Item = (&str, bool)> {
        self.options.iter().map(|o| (o.name.as_str(), o.enabled))
    }

    /// The number of voters so far in this round (see [`VoteResult::voters`]).
    pub fn voters(&self) -> u64 {
        match self.mode {
            Mode::Democracy => self.tally.holders + self.tally.frozen_total,
            Mode::Anarchy => self.tally.distinct,
        }
    }

    /// Ballots refused so far in this round because the vote was full (see
    /// [bounded memory](self#bounded-memory)).
    pub fn refused_ballots(&self) -> u64 {
        self.tally.refused
    }

    /// The inputs with a count above 0, in option order then repeat order.
    pub fn tally(&self) -> Vec<TallyEntry> {
        (0..self.inputs())
            .filter_map(|i| {
                let count = self.tally.count(i);
                (count > 0).then(|| TallyEntry {
                    choice: self.choice(i),
                    count,
                })
            })
            .collect()
    }

    /// Weighted votes: the weighted total of each input in [`Vote::tally`], in the same order;
    /// `None` when weights are off (see [`weight`](super::weight)).
    pub fn weighted_tally(&self) -> Option<Vec<TallyEntry>> {
        self.weighting?;
        Some(
            (0..self.inputs())
                .filter(|&i| self.tally.count(i) > 0)
                .map(|i| TallyEntry {
                    choice: self.choice(i),
                    count: self.tally.weighted_count(i),
                })
                .collect(),
        )
    }

    /// Whether ballots are weighted by bits ([`VoteConfig::bits_per_vote`] set).
    pub fn is_weighted(&self) -> bool {
        self.weighting.is_some()
    }

    /// The `n` inputs with the highest counts (ties in option order), like the legacy HighScores
    /// node (which showed 4).
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use twitch_bot::chatplay::{Engine, EngineConfig, VoteConfig};
    /// # let mut c = EngineConfig::new("bot"); c.votes.push(VoteConfig::new("move", ["up", "down"]));
    /// let mut engine = Engine::new(c).unwrap();
    /// engine.start(Instant::now());
    /// let vote = engine.vote_mut("move").unwrap();
    /// vote.set_option_count("down", 5).unwrap();
    /// vote.set_option_count("up", 2).unwrap();
    /// let top = vote.top(1);
    /// assert_eq!((top[0].choice.option.as_str(), top[0].count), ("down", 5));
    /// ```
    pub fn top(&self, n: usize) -> Vec<TallyEntry> {
        let mut all = self.tally();
        all.sort_by_key(|e| std::cmp::Reverse(e.count)); // stable: equal counts keep option order
        all.truncate(n);
        all
    }

    /// Calls `f(option, count, enabled)` for every option in order (`count` sums the option's
    /// repeat variants), like the legacy Visit.
    ///
    /// ```
    /// # use twitch_bot::chatplay::{Engine, EngineConfig, VoteConfig};
    /// # let mut c = EngineConfig::new("bot"); c.votes.push(VoteConfig::new("move", ["up", "down"]));
    /// let engine = Engine::new(c).unwrap();
    /// let mut seen = Vec::new();
    /// engine.vote("move").unwrap().visit(|name, count, enabled| seen.push((name.to_owned(), count, enabled)));
    /// assert_eq!(seen, [("up".to_owned(), 0, true), ("down".to_owned(), 0, true)]);
    /// ```
    pub fn visit(&self, mut f: impl FnMut(&str, u64, bool)) {
        for (index, option) in self.options.iter().enumerate() {
            f(&option.name, self.option_total(index), option.enabled);
        }
    }

    /// The ballot a user holds in the open round (democracy), by user id or, without one, login.
    pub fn ballot_of(&self, user_id: Option<&str>, login: &str) -> Option<Choice> {
        let voter = self.voters.get(user_id, login)?;
        if self.mode != Mode::Democracy || voter.round != self.round || self.open.is_none() {
            return None;
        }
        voter.ballot.map(|b| self.choice(usize::from(b)))
    }

    /// The live view for an overlay.
    pub fn live(&self, now: Instant) -> LiveTally {
        LiveTally {
            vote: self.name.clone(),
            round: self.round,
            open: self.open.is_some(),
            remaining: self.open.map_or(Duration::ZERO, |o| {
                o.closes_at.saturating_duration_since(now)
            }),
            tally: self.tally(),
            voters: self.voters(),
            weighted: self.weighted_tally(),
            leader: self.candidates().first().map(|&i| self.choice(i)),
        }
    }

    // ----- legacy operations -----

    /// Whether the option exists (compared after normalisation).
    pub fn option_exists(&self, option: &str) -> bool {
        self.index_of(option).is_some()
    }

    /// Adds an option at the end (same rules as in the configuration). Works during a round.
    ///
    /// ```
    /// # use twitch_bot::chatplay::{Engine, EngineConfig, VoteConfig};
    /// # let mut c = EngineConfig::new("bot"); c.votes.push(VoteConfig::new("move", ["up"]));
    /// let mut engine = Engine::new(c).unwrap();
    /// let vote = engine.vote_mut("move").unwrap();
    /// vote.add_option("down").unwrap();
    /// assert!(vote.add_option("DOWN").is_err()); // duplicate
    /// ```
    pub fn add_option(&mut self, option: &str) -> Result<(), VoteError> {
        let folded = config::check_option(&self.name, option)?;
        if let Some(i) = self.folded.iter().position(|f| **f == *folded) {
            return Err(ConfigError::DuplicateOption {
                vote: self.name.clone(),
                first: self.options[i].name.clone(),
                second: option.to_owned(),
            }
            .into());
        }
        if self.options.len() >= MAX_OPTIONS {
            return Err(ConfigError::TooManyOptions {
                vote: self.name.clone(),
                count: self.options.len() + 1,
            }
            .into());
        }
        self.options.push(OptionSlot {
            name: option.to_owned(),
            enabled: true,
        });
        self.folded.push(folded.into());
        let inputs = self.inputs();
        self.tally.live.resize(inputs, 0);
        self.tally.frozen.resize(inputs, 0);
        self.tally.manual.resize(inputs, 0);
        self.tally.weighted.resize(inputs, 0);
        self.refresh_limits();
        Ok(())
    }

    /// Removes an option. Users whose ballot was for it lose that ballot (and may vote again).
    pub fn remove_option(&mut self, option: &str) -> Result<(), VoteError> {
        let index = self.require(option)?;
        if self.options.len() == 1 {
            return Err(VoteError::LastOption {
                vote: self.name.clone(),
            });
        }
        let r = usize::from(self.max_repeat);
        let range = index * r..index * r + r;
        let removed_live: u64 = self.tally.live.drain(range.clone()).map(u64::from).sum();
        let removed_frozen: u64 = self.tally.frozen.drain(range.clone()).map(u64::from).sum();
        self.tally.manual.drain(range.clone());
        self.tally.weighted.drain(range.clone());
        // Anarchy holds no live ballots (removed_live is 0 there).
        self.tally.holders.down(removed_live, "holders");
        self.tally.frozen_total.down(removed_frozen, "frozen_total");
        let (round, mode) = (self.round, self.mode);
        for voter in self.voters.all_mut() {
            if voter.round != round {
                continue;
            }
            if let Some(b) = voter.ballot {
                let b = usize::from(b);
                if range.contains(&b) {
                    // Democracy: the ballot is gone. Anarchy: the user still took part.
                    voter.ballot = (mode == Mode::Anarchy).then_some(0);
                } else if b >= range.end {
                    voter.ballot = u16::try_from(b - r).ok();
                }
            }
        }
        self.options.remove(index);
        self.folded.remove(index);
        self.refresh_limits();
        Ok(())
    }

    /// Sets an option's count and enabled flag at once (the legacy ConfigureOption).
    pub fn configure_option(
        &mut self,
        option: &str,
        count: u64,
        enabled: bool,
    ) -> Result<(), VoteError> {
        self.set_option_count(option, count)?;
        self.set_option_enabled(option, enabled)
    }

    /// The option's count in the current round (summing its repeat variants).
    pub fn option_count(&self, option: &str) -> Option<u64> {
        self.index_of(option).map(|i| self.option_total(i))
    }

    /// Sets the option's count: its plain input holds `count`, its repeat variants 0. This is a
    /// manual adjustment on top of the ballots (later ballots still move it) and lasts until the
    /// round ends.
    pub fn set_option_count(&mut self, option: &str, count: u64) -> Result<(), VoteError> {
        let index = self.require(option)?;
        let r = usize::from(self.max_repeat);
        let target = i64::try_from(count).unwrap_or(i64::MAX);
        for i in index * r..index * r + r {
            let ballots = i64::from(self.tally.live[i]) + i64::from(self.tally.frozen[i]);
            let want = if i == index * r { target } else { 0 };
            self.tally.manual[i] = want.saturating_sub(ballots);
        }
        Ok(())
    }

    /// Whether the option is enabled.
    pub fn option_enabled(&self, option: &str) -> Option<bool> {
        self.index_of(option).map(|i| self.options[i].enabled)
    }

    /// Enables or disables an option: a disabled option takes no new ballots and cannot win.
    pub fn set_option_enabled(&mut self, option: &str, enabled: bool) -> Result<(), VoteError> {
        let index = self.require(option)?;
        self.options[index].enabled = enabled;
        Ok(())
    }

    /// Enables or disables every option.
    pub fn set_enabled_all(&mut self, enabled: bool) {
        for option in &mut self.options {
            option.enabled = enabled;
        }
    }

    /// Sets every option's count (see [`Vote::set_option_count`]).
    pub fn set_count_all(&mut self, count: u64) {
        for index in 0..self.options.len() {
            let name = self.options[index].name.clone();
            // Cannot fail: the option exists.
            let _ = self.set_option_count(&name, count);
        }
    }

    /// Whether voter limiting is on (the default): one ballot per user per round, last one wins.
    pub fn voter_limiting(&self) -> bool {
        self.voter_limiting
    }

    /// Turns voter limiting on or off. Off, every ballot message adds one to its input (the
    /// legacy gem's behaviour) and cannot be removed by moderation; ballots already held stay.
    pub fn set_voter_limiting(&mut self, on: bool) {
        self.voter_limiting = on;
    }

    /// Forgets who voted in this round (the legacy ResetVotedList): the ballots cast so far stay
    /// counted, and every user may cast one more ballot, which counts in addition.
    pub fn reset_voted_list(&mut self) {
        if self.mode == Mode::Democracy {
            for (frozen, live) in self.tally.frozen.iter_mut().zip(&mut self.tally.live) {
                frozen.up(std::mem::take(live), "frozen");
            }
            let holders = std::mem::take(&mut self.tally.holders);
            self.tally.frozen_total.up(holders, "frozen_total");
        }
        let round = self.round;
        for voter in self.voters.all_mut() {
            if voter.round == round {
                voter.ballot = None;
            }
        }
        if self.mode == Mode::Anarchy {
            self.tally.distinct = 0;
        }
    }

    // ----- engine side -----

    pub(crate) fn folded_name(&self) -> &str {
        &self.folded_name
    }

    pub(crate) fn max_ballot_len(&self) -> usize {
        self.max_ballot_len
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running
    }

    pub(crate) fn set_running(&mut self, running: bool) {
        self.running = running;
    }

    /// Whether the bot should announce this vote's rounds in chat.
    pub fn announce(&self) -> bool {
        self.announce
    }

    /// Opens a new round at `now`.
    pub(crate) fn open_round(&mut self, now: Instant) -> Result<RoundOpened, VoteError> {
        if self.open.is_some() {
            return Err(VoteError::AlreadyOpen {
                vote: self.name.clone(),
                round: self.round,
            });
        }
        self.round += 1;
        let inputs = self.inputs();
        self.tally.reset(inputs);
        // Forget users who have not voted for a while (their cooldown over): bounded memory.
        let (round, cooldown) = (self.round, self.anarchy_cooldown);
        let keep =
            |v: &Voter| v.round + 8 >= round || v.last_input.is_some_and(|t| now < t + cooldown);
        self.voters.retain(keep);
        self.made_room = false;
        let closes_at = now + self.window;
        self.open = Some(OpenRound { closes_at });
        tracing::debug!(vote = %self.name, round = self.round, "round opened");
        Ok(RoundOpened {
            vote: self.name.clone(),
            round: self.round,
            mode: self.mode,
            options: self
                .options
                .iter()
                .filter(|o| o.enabled)
                .map(|o| o.name.clone())
                .collect(),
            max_repeat: self.max_repeat,
            window: self.window,
            closes_at,
            announce: self.announce,
        })
    }

    /// Closes the open round and returns its result.
    pub(crate) fn close_round(&mut self) -> Result<VoteResult, VoteError> {
        if self.open.take().is_none() {
            return Err(VoteError::NotOpen {
                vote: self.name.clone(),
            });
        }
        let result = VoteResult {
            vote: self.name.clone(),
            round: self.round,
            mode: self.mode,
            winner: self.pick_winner(),
            tally: self.tally(),
            voters: self.voters(),
            refused_ballots: self.tally.refused,
            weighted: self.weighted_tally(),
            announce: self.announce,
        };
        tracing::debug!(vote = %self.name, round = self.round, winner = ?result.winner, voters = result.voters, refused_ballots = result.refused_ballots, "round closed");
        Ok(result)
    }

    /// Counts `normalized` (the message's normalised text) as a ballot if it is one.
    /// `key` is the message's id key, computed on first need and shared between votes.
    pub(crate) fn handle_ballot(
        &mut self,
        normalized: &str,
        msg: &ChatMessage<'_>,
        key: &mut Option<MessageKey>,
        now: Instant,
    ) -> Option<AnarchyInput> {
        self.open?;
        if normalized.len() > self.max_ballot_len {
            return None;
        }
        if !self.channels.is_empty() && !self.channels.iter().any(|c| **c == *msg.channel) {
            return None;
        }
        let (option, repeat) = match_ballot(normalized, &self.folded, self.max_repeat)?;
        if !self.options[option].enabled {
            return None;
        }
        let key = key.get_or_insert_with(|| MessageKey::from_id(msg.message_id.as_deref()));
        // A replayed message id never gets here: the engine dropped it (see `Engine::handle_chat`).
        let fingerprint = self.voters.fingerprint(key);
        let index = option * usize::from(self.max_repeat) + usize::from(repeat - 1);
        let input = u16::try_from(index).ok()?;
        let round = self.round;
        let (user_id, login) = (msg.user_id.as_deref(), &*msg.login);
        if self.voters.len() >= self.max_voters
            && self.voters.get(user_id, login).is_none()
            && !self.make_room(now)
        {
            return None;
        }
        let channel_hash = self.voters.login_hash(&msg.channel);
        let voter = self.voters.slot(user_id, login, true)?;
        if voter.round != round {
            voter.round = round;
            voter.ballot = None;
            voter.bits = 0;
        }
        let tally = &mut self.tally;
        match self.mode {
            Mode::Democracy => {
                if self.voter_limiting {
                    let old = voter.ballot.replace(input);
                    match old {
                        Some(old) => tally.live[usize::from(old)].down(1, "live"),
                        None => tally.holders.up(1, "holders"),
                    }
                    tally.live[index].up(1, "live");
                    if let Some(w) = self.weighting {
                        let weight = u64::from(w.weight(voter.bits));
                        if let Some(old) = old {
                            tally.weighted[usize::from(old)].down(weight, "weighted");
                        }
                        tally.weighted[index].up(weight, "weighted");
                    }
                } else {
                    tally.frozen[index].up(1, "frozen");
                    tally.frozen_total.up(1, "frozen_total");
                    if let Some(w) = self.weighting {
                        tally.weighted[index].up(u64::from(w.weight(voter.bits)), "weighted");
                    }
                }
                voter.message = fingerprint;
                voter.channel_hash = channel_hash;
                None
            }
            Mode::Anarchy => {
                if let Some(last) = voter.last_input
                    && now < last + self.anarchy_cooldown
                {
                    return None;
                }
                voter.last_input = Some(now);
                if voter.ballot.replace(input).is_none() {
                    tally.distinct.up(1, "distinct");
                }
                voter.message = fingerprint;
                voter.channel_hash = channel_hash;
                tally.frozen[index].up(1, "frozen");
                tally.frozen_total.up(1, "frozen_total");
                Some(AnarchyInput {
                    vote: self.name.clone(),
                    round,
                    choice: self.choice(index),
                    user: msg.login.to_string(),
                    user_id: msg.user_id.as_deref().map(str::to_owned),
                    channel: msg.channel.to_string(),
                })
            }
        }
    }

    /// A CLEARCHAT of one user in `channel`: drops their ballot in the open round if they cast it
    /// in that channel (a timeout in one channel says nothing about chat in another).
    pub(crate) fn remove_user(
        &mut self,
        channel: &str,
        user_id: Option<&str>,
        login: Option<&str>,
    ) {
        if !self.removable() {
            return;
        }
        let channel_hash = self.voters.login_hash(channel);
        let (round, tally, weighting) = (self.round, &mut self.tally, self.weighting);
        let mut drop = |v: &mut Voter| {
            if v.round == round
                && v.channel_hash == channel_hash
                && let Some(b) = v.ballot.take()
            {
                tally.remove_ballot(b, v.bits, weighting);
            }
        };
        match (user_id, login) {
            (Some(id), _) => {
                if let Some(v) = self.voters.get_mut(Some(id), "") {
                    drop(v);
                }
            }
            (None, Some(login)) => {
                if let Some(v) = self.voters.get_mut(None, login) {
                    drop(v);
                }
                // Only the login is known: find the user among those keyed by id too.
                let hash = self.voters.login_hash(login);
                for v in self.voters.all_mut() {
                    if v.login_hash == hash {
                        drop(v);
                    }
                }
            }
            (None, None) => {}
        }
    }

    /// A CLEARMSG in `channel`: drops the ballot `key` cast, if it is still its user's current ballot
    /// and was cast in that channel.
    pub(crate) fn remove_message(&mut self, channel: &str, key: &MessageKey) {
        if !self.removable() || *key == MessageKey::None {
            return;
        }
        let fingerprint = self.voters.fingerprint(key);
        let channel_hash = self.voters.login_hash(channel);
        let (round, tally, weighting) = (self.round, &mut self.tally, self.weighting);
        for v in self.voters.all_mut() {
            if v.round == round
                && v.message == fingerprint
                && v.channel_hash == channel_hash
                && v.ballot.is_some()
            {
                if let Some(b) = v.ballot.take() {
                    tally.remove_ballot(b, v.bits, weighting);
                }
                return;
            }
        }
    }

    /// Weighted votes: `bits` cheered by the sender of `msg` count for them in the open round (and
    /// raise the weight of the ballot they hold). Nothing for an unweighted vote, with no round
    /// open, or from a channel this vote does not count.
    pub(crate) fn handle_bits(&mut self, msg: &ChatMessage<'_>, bits: u64, now: Instant) {
        let Some(w) = self.weighting else {
            return;
        };
        if self.open.is_none()
            || (!self.channels.is_empty() && !self.channels.iter().any(|c| **c == *msg.channel))
        {
            return;
        }
        let (user_id, login) = (msg.user_id.as_deref(), &*msg.login);
        if self.voters.len() >= self.max_voters
            && self.voters.get(user_id, login).is_none()
            && !self.make_room(now)
        {
            return;
        }
        let round = self.round;
        let Some(voter) = self.voters.slot(user_id, login, true) else {
            return;
        };
        if voter.round != round {
            voter.round = round;
            voter.ballot = None;
            voter.bits = 0;
        }
        let before = u64::from(w.weight(voter.bits));
        voter.bits = weight::add_bits(voter.bits, bits);
        let after = u64::from(w.weight(voter.bits));
        if let Some(b) = voter.ballot
            && self.voter_limiting
        {
            let slot = &mut self.tally.weighted[usize::from(b)];
            slot.down(before, "weighted");
            slot.up(after, "weighted");
        }
    }

    // ----- internals -----

    /// The vote is full and a new user wants in: drops (once per round) the records that matter
    /// for nothing in the open round; false (refused, counted) if still full.
    fn make_room(&mut self, now: Instant) -> bool {
        if !self.made_room {
            self.made_room = true;
            let (round, cooldown) = (self.round, self.anarchy_cooldown);
            let before = self.voters.len();
            self.voters
                .retain(|v| v.round == round || v.last_input.is_some_and(|t| now < t + cooldown));
            tracing::debug!(vote = %self.name, round, dropped = before - self.voters.len(), "vote full: idle voter records dropped");
        }
        if self.voters.len() < self.max_voters {
            return true;
        }
        self.tally.refused.up(1, "refused");
        if self.tally.refused == 1 {
            tracing::warn!(
                vote = %self.name,
                round = self.round,
                max_voters = self.max_voters,
                "vote full: new voters are refused until the round closes (counted in refused_ballots)"
            );
        }
        false
    }

    fn removable(&self) -> bool {
        self.open.is_some() && self.mode == Mode::Democracy
    }

    fn inputs(&self) -> usize {
        self.options.len() * usize::from(self.max_repeat)
    }

    fn choice(&self, input: usize) -> Choice {
        let r = usize::from(self.max_repeat);
        Choice {
            option: self.options[input / r].name.clone(),
            repeat: u8::try_from(input % r + 1).unwrap_or(1),
        }
    }

    fn option_total(&self, index: usize) -> u64 {
        let r = usize::from(self.max_repeat);
        (index * r..index * r + r)
            .map(|i| self.tally.count(i))
            .sum()
    }

    fn index_of(&self, option: &str) -> Option<usize> {
        let folded = normalized(option);
        self.folded.iter().position(|f| **f == *folded)
    }

    fn require(&self, option: &str) -> Result<usize, VoteError> {
        self.index_of(option)
            .ok_or_else(|| VoteError::UnknownOption {
                vote: self.name.clone(),
                option: option.to_owned(),
            })
    }

    fn refresh_limits(&mut self) {
        let longest = self.folded.iter().map(|f| f.len()).max().unwrap_or(0);
        // "!vote " + option + one repeat digit
        self.max_ballot_len = 6 + longest + 1;
    }

    /// The inputs that could win under the vote's rules, in order (empty: no winner).
    fn candidates(&self) -> Vec<usize> {
        if self.mode == Mode::Anarchy || self.voters() < u64::from(self.min_voters) {
            return Vec::new();
        }
        let r = usize::from(self.max_repeat);
        let mut best = 0;
        let mut tied: Vec<usize> = Vec::new();
        for i in 0..self.inputs() {
            if !self.options[i / r].enabled {
                continue;
            }
            let count = match self.weighting {
                Some(_) => self.tally.weighted_count(i),
                None => self.tally.count(i),
            };
            if count == 0 && i % r != 0 {
                continue; // an unvoted repeat variant is never a candidate
            }
            if tied.is_empty() || count > best {
                best = count;
                tied.clear();
                tied.push(i);
            } else if count == best {
                tied.push(i);
            }
        }
        // No ballots, no winner (whatever min_voters says; the config refuses 0 anyway).
        if best == 0 {
            tied.clear();
        }
        tied
    }

    /// The winner: the first candidate, or a seeded random one when the vote says so.
    fn pick_winner(&mut self) -> Option<Choice> {
        let tied = self.candidates();
        let pick = if self.tie == TieBreak::Random && tied.len() > 1 {
            self.rng.random_range(0..tied.len())
        } else {
            0
        };
        tied.get(pick).map(|&i| self.choice(i))
    }
}

#[cfg(test)]
mod tests {
    use super::numeric_id;

    #[test]
    fn numeric_ids_map_back_to_the_same_text() {
        assert_eq!(numeric_id("0"), Some(0));
        assert_eq!(numeric_id("123456789"), Some(123_456_789));
        assert_eq!(
            numeric_id("9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        for bad in ["", "0123", "+1", "-1", "12a", "99999999999999999999", " 1"] {
            assert_eq!(numeric_id(bad), None, "{bad:?}");
        }
    }
}
