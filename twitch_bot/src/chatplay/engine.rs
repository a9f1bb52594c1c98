//! The engine: chat in, game input out. Owns the votes, the chat commands and the keyword table.
//!
//! It is sans-IO in the quinn-proto style: it never touches a socket or the clock.
//!
//! * `handle_*` feed it what arrived: [`Engine::handle_chat`], [`Engine::handle_moderation`],
//!   [`Engine::handle_redemption`] (transport-neutral [`ChatMessage`], [`Moderation`] and
//!   [`Redemption`]), [`Engine::handle_timeout`];
//! * mutators do what the game or a moderator asks: [`Engine::start`], [`Engine::start_vote`],
//!   [`Engine::close_round`], [`Engine::stop_vote`], [`Engine::vote_mut`];
//! * `poll_*` say what to do now: [`Engine::poll_event`] (drain it after every call) and
//!   [`Engine::poll_timeout`] (when to call [`Engine::handle_timeout`] next);
//! * getters read state: [`Engine::tally`], [`Engine::vote`], [`Engine::keywords`].
//!
//! Every method takes the current time as an [`Instant`]; rounds close when a call passes a time
//! at or after their deadline (a chat message arriving after the deadline is judged after the
//! round closed, and goes to the next round).
//!
//! Keep one engine for the bot's whole run, across reconnects: an open round survives with its
//! ballots, and lines the server replays (same message id) are not counted twice.

use std::time::Instant;

use super::commands::{Commands, first_word};
use super::config::{ConfigError, EngineConfig, Start, VoteConfig};
use super::dedup::{MessageKey, RecentIds};
use super::event::{Event, LiveTally, VoteResult};
use super::keywords::Keywords;
use super::message::{ChatMessage, Moderation};
use super::normalize::normalize_into;
use super::queue::BoundedQueue;
use super::reward::{Redemption, Rewards};
use super::vote::{Vote, VoteError};

/// The ChatPlay engine; see the [module docs](self) and the [`chatplay`](super) overview.
#[derive(Debug)]
pub struct Engine {
    bot_login: String,
    votes: Vec<Vote>,
    commands: Commands,
    keywords: Keywords,
    events: BoundedQueue<Event>,
    buf: String,
    max_ballot_len: usize,
    started: bool,
    seed: u64,
    /// Ids of the chat messages handled: a message that arrives twice (on both connections during a
    /// `RECONNECT` handover, or replayed by the server) triggers keywords, commands and ballots once.
    /// Redemption ids are remembered here too.
    seen: RecentIds,
    /// The `[[reward]]`s.
    rewards: Rewards,
    /// Whether shared-chat messages from other channels count (`EngineConfig::count_shared_chat`).
    count_shared_chat: bool,
}

impl Engine {
    /// Validates `config` and builds the engine. No round is open until [`Engine::start`] (or the
    /// first `handle_*` call) gives it the time.
    ///
    /// The tie-break seed (`config.seed`, or one drawn from the OS) is logged at `info`.
    ///
    /// ```
    /// use twitch_bot::chatplay::{Engine, EngineConfig, VoteConfig};
    /// let mut config = EngineConfig::new("my_bot");
    /// config.votes.push(VoteConfig::new("move", ["up", "down"]));
    /// let engine = Engine::new(config).unwrap();
    /// assert!(engine.vote("move").is_some());
    /// ```
    pub fn new(config: EngineConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let seed = config.seed.unwrap_or_else(rand::random);
        tracing::info!(seed, "chatplay engine: random tie-breaks use this seed");
        let votes = config
            .votes
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let vote_seed = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                Vote::new(v, vote_seed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut engine = Self {
            bot_login: config.bot_login.clone(),
            votes,
            commands: Commands::new(&config.commands)?,
            keywords: Keywords::new(),
            events: BoundedQueue::new(config.event_capacity),
            buf: String::with_capacity(128),
            max_ballot_len: 0,
            started: false,
            seed,
            seen: RecentIds::new(config.max_remembered_ids),
            rewards: Rewards::new(&config.rewards),
            count_shared_chat: config.count_shared_chat,
        };
        engine.refresh_limits();
        Ok(engine)
    }

    /// The tie-break seed in use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Opens the first round of every [`Start::Auto`] vote; later calls do nothing. Call it when
    /// the bot is ready to count (e.g. once the channel is joined); the first `handle_*` call
    /// does it otherwise.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use twitch_bot::chatplay::{Engine, EngineConfig, Event, VoteConfig};
    /// # let mut config = EngineConfig::new("bot"); config.votes.push(VoteConfig::new("move", ["up"]));
    /// let mut engine = Engine::new(config).unwrap();
    /// engine.start(Instant::now());
    /// assert!(matches!(engine.poll_event(), Some(Event::VoteOpened(o)) if o.round == 1));
    /// ```
    pub fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        for i in 0..self.votes.len() {
            let vote = &mut self.votes[i];
            if vote.start_mode() == Start::Auto
                && vote.is_running()
                && !vote.is_open()
                && let Ok(opened) = vote.open_round(now)
            {
                self.push(Event::VoteOpened(opened));
            }
        }
    }

    /// Feeds one chat message.
    ///
    /// In order: due rounds close; a backlog line the server replays
    /// ([`ChatMessage::historical`]) stops there: it was not said now, so it fires no keyword,
    /// command or moderator control, casts no ballot and passes on no anarchy input. Otherwise
    /// keyword handlers are dispatched; then, unless the sender is the bot itself, a moderator's
    /// `!vote start <name>` / `!vote stop <name>` is obeyed, chat commands are matched, and the
    /// message is offered to every open vote as a ballot. A message may be both a command and a
    /// ballot.
    ///
    /// Three exceptions: a message from another channel of a shared chat session
    /// ([`ChatMessage::source_channel_id`] set and not [`ChatMessage::channel_id`]) does nothing
    /// unless [`EngineConfig::count_shared_chat`](super::EngineConfig::count_shared_chat); a
    /// message carrying the id of a configured reward ([`ChatMessage::custom_reward_id`], IRC's
    /// `custom-reward-id`) is that redemption only (see [`Engine::handle_redemption`]); and the
    /// bits a message cheers ([`ChatMessage::bits`]) weigh its sender's ballot in weighted votes
    /// (see [`weight`](super::weight)), the cheermotes taken out of the text before it is read as
    /// a ballot.
    pub fn handle_chat(&mut self, msg: &ChatMessage<'_>, now: Instant) {
        self.handle_timeout(now);
        if msg.historical {
            tracing::trace!(channel = %msg.channel, user = %msg.login, "historical backlog line ignored");
            return;
        }
        if !self.count_shared_chat
            && let Some(source) = msg.source_channel_id.as_deref()
            && Some(source) != msg.channel_id.as_deref()
        {
            tracing::trace!(channel = %msg.channel, user = %msg.login, source, "shared chat from another channel ignored");
            return;
        }
        // Seen before (same message id): it already did whatever it could do. Messages without an id
        // cannot be recognised and always count.
        let key = MessageKey::from_id(msg.message_id.as_deref());
        if !self.seen.insert(&key) {
            tracing::trace!(channel = %msg.channel, user = %msg.login, "message seen before (same id): ignored");
            return;
        }
        if let Some(reward_id) = msg.custom_reward_id.as_deref()
            && !self.rewards.is_empty()
            && self.rewards.knows_id(reward_id, &msg.channel)
            && let Some(redemption) = Redemption::from_chat(msg)
        {
            self.redeem(&redemption, now);
            return;
        }
        self.keywords.dispatch(msg);
        if msg.login.eq_ignore_ascii_case(&self.bot_login) {
            return;
        }
        if msg.roles.is_privileged() && self.moderator_control(msg, now) {
            return;
        }
        if let Some(invocation) = self.commands.handle(msg, now) {
            self.push(Event::Command(invocation));
        }
        let text = match msg.bits {
            Some(bits) if bits > 0 => {
                for vote in &mut self.votes {
                    vote.handle_bits(msg, bits, now);
                }
                super::weight::without_cheermotes(&msg.text, bits)
            }
            _ => std::borrow::Cow::Borrowed(&*msg.text),
        };
        if !normalize_into(&text, &mut self.buf, self.max_ballot_len) {
            return;
        }
        let mut key = Some(key);
        for i in 0..self.votes.len() {
            if let Some(input) = self.votes[i].handle_ballot(&self.buf, msg, &mut key, now) {
                self.push(Event::Input(input));
            }
        }
    }

    /// Feeds a channel-points redemption (see [`reward`](super::reward)).
    ///
    /// Due rounds close first. A redemption whose id was seen before counts once; one of a reward
    /// no `[[reward]]` names, or made by the bot itself, does nothing. Otherwise
    /// [`Event::Redemption`] is queued and, if the reward names a vote, its fixed option or the
    /// input text is offered to that vote's open round as a ballot from the viewer, read like a
    /// chat ballot (an anarchy vote passes it on as an input).
    pub fn handle_redemption(&mut self, redemption: &Redemption<'_>, now: Instant) {
        self.handle_timeout(now);
        let key = MessageKey::from_id(redemption.redemption_id.as_deref());
        if !self.seen.insert(&key) {
            tracing::trace!(channel = %redemption.channel, user = %redemption.login, "redemption seen before (same id): ignored");
            return;
        }
        self.redeem(redemption, now);
    }

    /// A new redemption (already de-duplicated): the event, then the ballot.
    fn redeem(&mut self, r: &Redemption<'_>, now: Instant) {
        let Some(reward) = self.rewards.find(&r.reward_id, r.reward_title.as_deref()) else {
            tracing::debug!(channel = %r.channel, reward_id = %r.reward_id, title = ?r.reward_title, "redemption of a reward no [[reward]] names: ignored");
            return;
        };
        if r.login.eq_ignore_ascii_case(&self.bot_login) {
            return;
        }
        let event = super::RedemptionEvent {
            channel: r.channel.to_string(),
            user: r.login.to_string(),
            user_id: r.user_id.as_deref().map(str::to_owned),
            reward: r
                .reward_title
                .as_deref()
                .or(reward.configured_title.as_deref())
                .unwrap_or(&r.reward_id)
                .to_owned(),
            reward_id: r.reward_id.to_string(),
            input: r.input.to_string(),
        };
        let ballot = reward.vote.clone().map(|vote| {
            let text = reward.option.clone();
            (vote, text)
        });
        tracing::info!(channel = %r.channel, user = %r.login, reward = %event.reward, vote = ?ballot.as_ref().map(|b| &b.0), "redemption");
        self.push(Event::Redemption(event));
        let Some((vote, option)) = ballot else {
            return;
        };
        let Ok(i) = self.index(&vote) else {
            tracing::debug!(vote, "the reward's vote was removed: no ballot");
            return;
        };
        let text = option.as_deref().unwrap_or(&r.input);
        let limit = self.votes[i].max_ballot_len();
        if !normalize_into(text, &mut self.buf, limit) {
            return;
        }
        let msg = r.as_ballot(text);
        if let Some(input) = self.votes[i].handle_ballot(&self.buf, &msg, &mut None, now) {
            self.push(Event::Input(input));
        }
    }

    /// Feeds a moderator's action: a user's timeout or ban removes their ballot in every open
    /// round; a deleted message removes the ballot it cast, where it is still its user's current
    /// ballot; a clear of the whole chat removes nothing (see [`vote`](super::vote) for why).
    pub fn handle_moderation(&mut self, action: &Moderation<'_>, now: Instant) {
        self.handle_timeout(now);
        match action {
            Moderation::ClearUser {
                channel,
                user_id,
                login,
            } => {
                if user_id.is_none() && login.is_none() {
                    return;
                }
                for vote in &mut self.votes {
                    vote.remove_user(channel, user_id.as_deref(), login.as_deref());
                }
            }
            Moderation::DeleteMessage {
                channel,
                message_id,
            } => {
                let key = MessageKey::from_id(Some(message_id));
                for vote in &mut self.votes {
                    vote.remove_message(channel, &key);
                }
            }
            Moderation::ClearChannel { .. } => {}
        }
    }

    /// Closes the rounds due at `now`; auto votes open their next round at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.start(now);
        for i in 0..self.votes.len() {
            let vote = &mut self.votes[i];
            let Some(closes_at) = vote.closes_at() else {
                continue;
            };
            if now < closes_at {
                continue;
            }
            if let Ok(result) = vote.close_round() {
                self.push(Event::VoteClosed(result));
            }
            let vote = &mut self.votes[i];
            if vote.start_mode() == Start::Auto
                && vote.is_running()
                && let Ok(opened) = vote.open_round(now)
            {
                self.push(Event::VoteOpened(opened));
            }
        }
    }

    /// Opens a round of `name` now (the game's or a moderator's start). For an auto vote
    /// stopped with [`Engine::stop_vote`], rounds run back to back again. Returns the round.
    ///
    /// ```
    /// # use std::time::Instant;
    /// use twitch_bot::chatplay::{Engine, EngineConfig, Start, VoteConfig};
    /// let mut vote = VoteConfig::new("boss", ["fight", "flee"]);
    /// vote.start = Start::Command;
    /// let mut config = EngineConfig::new("bot");
    /// config.votes.push(vote);
    /// let mut engine = Engine::new(config).unwrap();
    /// let now = Instant::now();
    /// assert_eq!(engine.start_vote("boss", now), Ok(1));
    /// assert!(engine.start_vote("boss", now).is_err()); // already open
    /// ```
    pub fn start_vote(&mut self, name: &str, now: Instant) -> Result<u64, VoteError> {
        self.handle_timeout(now);
        let i = self.index(name)?;
        self.votes[i].set_running(true);
        let opened = self.votes[i].open_round(now)?;
        let round = opened.round;
        self.push(Event::VoteOpened(opened));
        Ok(round)
    }

    /// Closes the open round of `name` now (before its window ends); an auto vote opens its next
    /// round at once. The result is also queued as [`Event::VoteClosed`].
    pub fn close_round(&mut self, name: &str, now: Instant) -> Result<VoteResult, VoteError> {
        self.handle_timeout(now);
        let i = self.index(name)?;
        let result = self.votes[i].close_round()?;
        self.push(Event::VoteClosed(result.clone()));
        if self.votes[i].start_mode() == Start::Auto
            && self.votes[i].is_running()
            && let Ok(opened) = self.votes[i].open_round(now)
        {
            self.push(Event::VoteOpened(opened));
        }
        Ok(result)
    }

    /// Stops `name`: closes its open round (if any, returning the result) and, for an auto vote,
    /// stops opening rounds until [`Engine::start_vote`].
    pub fn stop_vote(&mut self, name: &str, now: Instant) -> Result<Option<VoteResult>, VoteError> {
        self.handle_timeout(now);
        let i = self.index(name)?;
        self.votes[i].set_running(false);
        if !self.votes[i].is_open() {
            return Ok(None);
        }
        let result = self.votes[i].close_round()?;
        self.push(Event::VoteClosed(result.clone()));
        Ok(Some(result))
    }

    /// Adds a vote at run time (the legacy gem's CreateVote). An auto vote opens its first round
    /// at once if the engine has started.
    ///
    /// ```
    /// # use std::time::Instant;
    /// use twitch_bot::chatplay::{Engine, EngineConfig, VoteConfig};
    /// let mut engine = Engine::new(EngineConfig::new("bot")).unwrap();
    /// engine.add_vote(VoteConfig::new("boss", ["fight", "flee"]), Instant::now()).unwrap();
    /// assert!(engine.add_vote(VoteConfig::new("BOSS", ["x"]), Instant::now()).is_err());
    /// assert!(engine.remove_vote("boss", Instant::now()).is_ok());
    /// ```
    pub fn add_vote(&mut self, config: VoteConfig, now: Instant) -> Result<(), ConfigError> {
        config.validate()?;
        if self.index(&config.name).is_ok() {
            return Err(ConfigError::DuplicateVote(config.name));
        }
        let vote_seed = self.seed ^ (self.votes.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let vote = Vote::new(&config, vote_seed)?;
        self.votes.push(vote);
        self.max_ballot_len = self
            .max_ballot_len
            .max(self.votes[self.votes.len() - 1].max_ballot_len());
        if self.started {
            let vote = self.votes.last_mut().expect("just pushed");
            if vote.start_mode() == Start::Auto
                && let Ok(opened) = vote.open_round(now)
            {
                self.push(Event::VoteOpened(opened));
            }
        }
        Ok(())
    }

    /// Removes a vote (the legacy gem's DestroyVote); its open round closes first and its result
    /// is returned (and queued as an event).
    pub fn remove_vote(
        &mut self,
        name: &str,
        now: Instant,
    ) -> Result<Option<VoteResult>, VoteError> {
        let result = self.stop_vote(name, now)?;
        let i = self.index(name)?;
        self.votes.remove(i);
        Ok(result)
    }

    /// The next event, oldest first. Drain it after every `handle_*` call and mutator.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// When [`Engine::handle_timeout`] must be called next (the earliest round deadline).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.votes.iter().filter_map(Vote::closes_at).min()
    }

    /// Events dropped because the queue was full (the driver did not drain it).
    pub fn dropped_events(&self) -> u64 {
        self.events.dropped()
    }

    /// The live tally of `name` for an overlay.
    pub fn tally(&self, name: &str, now: Instant) -> Option<LiveTally> {
        self.index(name).ok().map(|i| self.votes[i].live(now))
    }

    /// The vote named `name` (case-insensitive).
    pub fn vote(&self, name: &str) -> Option<&Vote> {
        self.index(name).ok().map(|i| &self.votes[i])
    }

    /// The vote named `name`, for the legacy operations (add/remove options, counts, ...).
    pub fn vote_mut(&mut self, name: &str) -> Option<&mut Vote> {
        let i = self.index(name).ok()?;
        // Adding an option may lengthen the longest ballot: recompute the limit lazily.
        self.max_ballot_len = 6 + super::config::MAX_OPTION_LEN + 1;
        Some(&mut self.votes[i])
    }

    /// All votes, in configuration order.
    pub fn votes(&self) -> impl Iterator<Item = &Vote> {
        self.votes.iter()
    }

    /// The keyword table (a shared handle: clone it to register handlers from other threads).
    /// [`Engine::handle_chat`] dispatches every message to it.
    pub fn keywords(&self) -> &Keywords {
        &self.keywords
    }

    fn index(&self, name: &str) -> Result<usize, VoteError> {
        let folded = super::normalize::normalized(name);
        self.votes
            .iter()
            .position(|v| v.folded_name() == folded)
            .ok_or_else(|| VoteError::UnknownVote(name.to_owned()))
    }

    fn refresh_limits(&mut self) {
        self.max_ballot_len = self
            .votes
            .iter()
            .map(Vote::max_ballot_len)
            .max()
            .unwrap_or(0);
    }

    fn push(&mut self, event: Event) {
        let _ = self.events.push(event); // full: counted and logged by the queue
    }

    /// `!vote start <name>` / `!vote stop <name>` from a moderator; true when obeyed.
    fn moderator_control(&mut self, msg: &ChatMessage<'_>, now: Instant) -> bool {
        let Some((first, rest)) = first_word(&msg.text) else {
            return false;
        };
        if !first.eq_ignore_ascii_case("!vote") {
            return false;
        }
        let mut words = rest.split_whitespace();
        let (Some(action), Some(name), None) = (words.next(), words.next(), words.next()) else {
            return false;
        };
        let action = action.to_ascii_lowercase();
        if (action != "start" && action != "stop") || self.index(name).is_err() {
            return false;
        }
        let outcome = if action == "start" {
            self.start_vote(name, now).map(|_| ())
        } else {
            self.stop_vote(name, now).map(|_| ())
        };
        match outcome {
            Ok(()) => {
                tracing::info!(user = %msg.login, %action, vote = name, "moderator vote control")
            }
            Err(e) => {
                tracing::info!(user = %msg.login, %action, vote = name, error = %e, "moderator vote control refused")
            }
        }
        true
    }
}
