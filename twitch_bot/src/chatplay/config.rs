//! Configuration of votes and chat commands, with validation.
//!
//! These are plain structs; the bot program maps its TOML (`[[vote]]`, `[[command]]`) onto them,
//! and a game can build them in code. [`EngineConfig::validate`] (also run by
//! [`Engine::new`](super::Engine::new)) refuses impossible values with a [`ConfigError`] that
//! names the vote or command and the value.
//!
//! ```
//! use twitch_bot::chatplay::{CommandConfig, EngineConfig, Mode, VoteConfig};
//!
//! let mut vote = VoteConfig::new("move", ["up", "down", "left", "right"]);
//! vote.window_secs = 12.5;
//! vote.max_repeat = 9;
//! let mut config = EngineConfig::new("my_bot");
//! config.votes.push(vote);
//! config.commands.push(CommandConfig::new("jump", ["!jump"]));
//! assert!(config.validate().is_ok());
//!
//! let mut bad = VoteConfig::new("move", ["up", "UP"]);
//! bad.mode = Mode::Anarchy;
//! assert_eq!(
//!     bad.validate().unwrap_err().to_string(),
//!     "vote \"move\": options \"up\" and \"UP\" are the same after normalisation"
//! );
//! ```

use std::time::Duration;

use thiserror::Error;

use super::normalize::{is_invisible, normalized};

/// Default [`VoteConfig::max_voters`]: one million voter records per vote.
///
/// A voter record costs about 140 bytes (an 80-byte map entry plus the hash table's spare room),
/// so the cap bounds one vote's voter memory at roughly 140 MB even if a hostile or broken
/// server invents user ids, while no real audience reaches it: Twitch's largest chats see a few
/// hundred thousand distinct chatters in a whole stream, far fewer in a 10-30 s round.
pub const DEFAULT_MAX_VOTERS: usize = 1_000_000;

/// The most options one vote may have.
pub const MAX_OPTIONS: usize = 256;
/// The longest option, in bytes after normalisation.
pub const MAX_OPTION_LEN: usize = 64;
/// The longest round window, in seconds (one day).
pub const MAX_WINDOW_SECS: f64 = 86_400.0;
/// The longest cooldown, in seconds (one day).
pub const MAX_COOLDOWN_SECS: f64 = 86_400.0;
/// The shortest [`VoteConfig::tally_interval_secs`] other than 0, in seconds: 10 live tallies a
/// second per vote is more than any overlay animates, and shorter would flood the event reader.
pub const MIN_TALLY_INTERVAL_SECS: f64 = 0.1;
/// The longest [`VoteConfig::tally_interval_secs`], in seconds (one hour, like the bot's longest
/// window: a longer interval would never fire within a round).
pub const MAX_TALLY_INTERVAL_SECS: f64 = 3600.0;

/// How a vote turns chat into input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Ballots are tallied over the round's window; the winner is reported when it closes.
    #[default]
    Democracy,
    /// Every valid input is passed on at once (as [`Event::Input`](super::Event::Input)),
    /// subject to a per-user cooldown; a round's close reports what was passed on, with no winner.
    Anarchy,
}

/// When a vote's rounds open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    /// Rounds run back to back from [`Engine::start`](super::Engine::start) on.
    #[default]
    Auto,
    /// A round opens only on demand: a moderator's `!vote start <name>` or
    /// [`Engine::start_vote`](super::Engine::start_vote) from the game.
    Command,
}

/// How a tie between the top inputs is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TieBreak {
    /// The input listed first (option order, then repeat count) wins.
    #[default]
    First,
    /// A random one among the tied, from the engine's seeded RNG (the seed is logged).
    Random,
}

/// One vote (the bot's `[[vote]]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct VoteConfig {
    /// The vote's name: one word, unique among votes (compared case-insensitively).
    pub name: String,
    /// The options, in display and tie-break order: single words, unique after normalisation,
    /// not starting with `!` or `+`.
    pub options: Vec<String>,
    /// Democracy (default) or anarchy.
    pub mode: Mode,
    /// The round window in seconds, fractions allowed; above 0 and at most [`MAX_WINDOW_SECS`].
    /// Default 20.
    pub window_secs: f64,
    /// When rounds open. Default [`Start::Auto`].
    pub start: Start,
    /// Below this many voters a democracy round has no winner. Default 1; 0 is refused (a round
    /// without ballots never has a winner, whatever this says).
    pub min_voters: u32,
    /// Tie rule. Default [`TieBreak::First`].
    pub tie: TieBreak,
    /// Highest repeat suffix accepted (`up2`..`up9`), 1 to 9; 1 (default) accepts no suffix.
    pub max_repeat: u8,
    /// Whether the bot should announce rounds in chat (carried on the events; the driver speaks).
    pub announce: bool,
    /// Anarchy only: the least time between two inputs of one user, in seconds (0 = none).
    pub anarchy_cooldown_secs: f64,
    /// The most voters the vote keeps records of (at least 1). Default [`DEFAULT_MAX_VOTERS`].
    /// When full, new voters are refused until the round closes, counted in
    /// [`VoteResult::refused_ballots`](super::VoteResult::refused_ballots); users already known
    /// may still change their ballot. See [`vote`](super::vote#bounded-memory).
    pub max_voters: usize,
    /// Only ballots from these channels count (logins, without `#`, any case); empty (the
    /// default) counts ballots from every joined channel together.
    pub channels: Vec<String>,
    /// How often the bot reports the open round's live tally (a `tally` event), in seconds,
    /// fractions allowed: 0 (the default) for never, else [`MIN_TALLY_INTERVAL_SECS`] to
    /// [`MAX_TALLY_INTERVAL_SECS`]. Like [`announce`](Self::announce) this is carried for the
    /// driver, which owns the timers; the engine itself only answers [`Engine::tally`] when asked.
    ///
    /// [`Engine::tally`]: super::Engine::tally
    pub tally_interval_secs: f64,
    /// Weighted votes (democracy only): each `bits_per_vote` bits a user cheers in the open round
    /// add 1 to the weight of their ballot, up to [`max_weight_per_user`](Self::max_weight_per_user)
    /// (required with it). `None` (the default): every ballot weighs 1. 1 to
    /// [`MAX_BITS_PER_VOTE`](super::weight::MAX_BITS_PER_VOTE). See [`weight`](super::weight).
    pub bits_per_vote: Option<u64>,
    /// The most one user's ballot may weigh (1 to
    /// [`MAX_WEIGHT_PER_USER`](super::weight::MAX_WEIGHT_PER_USER)); required with
    /// [`bits_per_vote`](Self::bits_per_vote), refused without it.
    pub max_weight_per_user: Option<u32>,
}

impl VoteConfig {
    /// A democracy vote with the defaults listed on each field.
    ///
    /// ```
    /// let v = twitch_bot::chatplay::VoteConfig::new("move", ["up", "down"]);
    /// assert_eq!(v.window_secs, 20.0);
    /// ```
    pub fn new<I, S>(name: impl Into<String>, options: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            name: name.into(),
            options: options.into_iter().map(Into::into).collect(),
            mode: Mode::Democracy,
            window_secs: 20.0,
            start: Start::Auto,
            min_voters: 1,
            tie: TieBreak::First,
            max_repeat: 1,
            announce: false,
            anarchy_cooldown_secs: 0.0,
            max_voters: DEFAULT_MAX_VOTERS,
            channels: Vec::new(),
            tally_interval_secs: 0.0,
            bits_per_vote: None,
            max_weight_per_user: None,
        }
    }

    /// Checks every field; the error names the vote and the value.
    ///
    /// ```
    /// let mut v = twitch_bot::chatplay::VoteConfig::new("move", ["up"]);
    /// v.window_secs = 0.0;
    /// assert!(v.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let vote = self.name.clone();
        check_word(&self.name).map_err(|()| ConfigError::BadVoteName(vote.clone()))?;
        if self.options.is_empty() {
            return Err(ConfigError::NoOptions { vote });
        }
        if self.options.len() > MAX_OPTIONS {
            return Err(ConfigError::TooManyOptions {
                vote,
                count: self.options.len(),
            });
        }
        let mut seen: Vec<(String, &str)> = Vec::with_capacity(self.options.len());
        for option in &self.options {
            let folded = check_option(&vote, option)?;
            if let Some((_, first)) = seen.iter().find(|(f, _)| *f == folded) {
                return Err(ConfigError::DuplicateOption {
                    vote,
                    first: (*first).to_owned(),
                    second: option.clone(),
                });
            }
            seen.push((folded, option));
        }
        window_duration(&vote, self.window_secs)?;
        if !(1..=9).contains(&self.max_repeat) {
            return Err(ConfigError::BadMaxRepeat {
                vote,
                value: self.max_repeat,
            });
        }
        // `up2` would be both the option `up2` and `up` twice: refuse the pair rather than guess.
        if self.max_repeat > 1 {
            for (folded, option) in &seen {
                let Some((&last, head)) = folded.as_bytes().split_last() else {
                    continue;
                };
                if (b'1'..=b'0' + self.max_repeat).contains(&last)
                    && let Some((_, base)) = seen.iter().find(|(f, _)| f.as_bytes() == head)
                {
                    return Err(ConfigError::RepeatSuffixCollision {
                        vote,
                        option: (*option).to_owned(),
                        base: (*base).to_owned(),
                        repeat: last - b'0',
                        max_repeat: self.max_repeat,
                    });
                }
            }
        }
        if self.min_voters == 0 {
            return Err(ConfigError::ZeroMinVoters { vote });
        }
        cooldown_duration(
            &format!("vote {:?} anarchy_cooldown_secs", self.name),
            self.anarchy_cooldown_secs,
        )?;
        if self.max_voters == 0 {
            return Err(ConfigError::ZeroMaxVoters { vote });
        }
        self.tally_interval()?;
        self.weighting()?;
        for channel in &self.channels {
            let login = channel.strip_prefix('#').unwrap_or(channel);
            if login.is_empty()
                || !login
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(ConfigError::BadChannel {
                    vote,
                    channel: channel.clone(),
                });
            }
        }
        Ok(())
    }

    /// The weighting rule from [`bits_per_vote`](Self::bits_per_vote) and
    /// [`max_weight_per_user`](Self::max_weight_per_user): `None` when weights are off, or the
    /// error naming the vote.
    pub(crate) fn weighting(&self) -> Result<Option<super::weight::Weighting>, ConfigError> {
        use super::weight::{MAX_BITS_PER_VOTE, MAX_WEIGHT_PER_USER, Weighting};
        let vote = || self.name.clone();
        match (self.bits_per_vote, self.max_weight_per_user) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(ConfigError::WeightWithoutBits { vote: vote() }),
            (Some(_), None) => Err(ConfigError::BitsWithoutWeight { vote: vote() }),
            (Some(bits), Some(max)) => {
                if !(1..=MAX_BITS_PER_VOTE).contains(&bits) {
                    return Err(ConfigError::BadBitsPerVote {
                        vote: vote(),
                        value: bits,
                    });
                }
                if !(1..=MAX_WEIGHT_PER_USER).contains(&max) {
                    return Err(ConfigError::BadMaxWeight {
                        vote: vote(),
                        value: max,
                    });
                }
                if self.mode == Mode::Anarchy {
                    return Err(ConfigError::WeightedAnarchy { vote: vote() });
                }
                Ok(Some(Weighting::new(bits, max)))
            }
        }
    }

    /// The live-tally period from [`tally_interval_secs`](Self::tally_interval_secs): `None` for 0
    /// (off), or the error naming the vote when the value is out of range.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let mut v = twitch_bot::chatplay::VoteConfig::new("move", ["up"]);
    /// assert_eq!(v.tally_interval(), Ok(None));
    /// v.tally_interval_secs = 0.5;
    /// assert_eq!(v.tally_interval(), Ok(Some(Duration::from_millis(500))));
    /// v.tally_interval_secs = 0.01; // would flood the event reader
    /// assert!(v.tally_interval().is_err());
    /// ```
    pub fn tally_interval(&self) -> Result<Option<Duration>, ConfigError> {
        let secs = self.tally_interval_secs;
        if secs == 0.0 {
            return Ok(None);
        }
        if !(secs.is_finite()
            && (MIN_TALLY_INTERVAL_SECS..=MAX_TALLY_INTERVAL_SECS).contains(&secs))
        {
            return Err(ConfigError::BadTallyInterval {
                vote: self.name.clone(),
                secs,
            });
        }
        Ok(Some(Duration::from_secs_f64(secs)))
    }
}

/// One chat command (the bot's `[[command]]` table).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandConfig {
    /// The command's name, reported on [`Event::Command`](super::Event::Command); unique.
    pub name: String,
    /// The words that trigger it as the message's first word, e.g. `["!jump", "!j"]`; compared
    /// case-insensitively after normalisation; unique across all commands.
    pub keywords: Vec<String>,
    /// Per-user cooldown in seconds (0 = none).
    pub cooldown_secs: f64,
    /// Cooldown in seconds shared by all users (0 = none).
    pub global_cooldown_secs: f64,
    /// Only moderators and the broadcaster may use it.
    pub mods_only: bool,
}

impl CommandConfig {
    /// A command with no cooldowns, open to everyone.
    ///
    /// ```
    /// let c = twitch_bot::chatplay::CommandConfig::new("jump", ["!jump"]);
    /// assert!(!c.mods_only);
    /// ```
    pub fn new<I, S>(name: impl Into<String>, keywords: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            name: name.into(),
            keywords: keywords.into_iter().map(Into::into).collect(),
            cooldown_secs: 0.0,
            global_cooldown_secs: 0.0,
            mods_only: false,
        }
    }

    /// Checks every field; the error names the command and the value.
    ///
    /// ```
    /// let c = twitch_bot::chatplay::CommandConfig::new("jump", Vec::<String>::new());
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let command = self.name.clone();
        if self.name.trim().is_empty() {
            return Err(ConfigError::EmptyCommandName);
        }
        if self.keywords.is_empty() {
            return Err(ConfigError::NoKeywords { command });
        }
        for keyword in &self.keywords {
            if check_word(keyword).is_err() || normalized(keyword).len() > MAX_OPTION_LEN {
                return Err(ConfigError::BadKeyword {
                    command,
                    keyword: keyword.clone(),
                });
            }
        }
        cooldown_duration(
            &format!("command {:?} cooldown_secs", self.name),
            self.cooldown_secs,
        )?;
        cooldown_duration(
            &format!("command {:?} global_cooldown_secs", self.name),
            self.global_cooldown_secs,
        )?;
        Ok(())
    }
}

/// Everything the [`Engine`](super::Engine) needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The bot's own login: its messages never count as ballots or commands.
    pub bot_login: String,
    /// The votes.
    pub votes: Vec<VoteConfig>,
    /// The chat commands.
    pub commands: Vec<CommandConfig>,
    /// Seed for random tie-breaks; `None` draws one from the OS. Either way it is logged.
    pub seed: Option<u64>,
    /// How many chat message ids the engine is sure to remember to ignore replays: the last
    /// `max_remembered_ids` are always known, at most twice that are held (the oldest
    /// generation is forgotten at once, see [`dedup`](super::dedup)). Default 100 000.
    pub max_remembered_ids: usize,
    /// Capacity of the engine's event queue (drop-newest when full). Default 65 536.
    pub event_capacity: usize,
    /// The channel-points rewards the engine acts on (see [`reward`](super::reward)).
    pub rewards: Vec<super::RewardConfig>,
    /// Shared chat: whether messages sent in another channel of a shared chat session
    /// ([`ChatMessage::source_channel_id`](super::ChatMessage::source_channel_id) set and not the
    /// channel's own id) count: as ballots, commands, keywords, anarchy inputs, cheers, rewards.
    /// Default `false`: only the channel's own chat plays.
    pub count_shared_chat: bool,
}

impl EngineConfig {
    /// No votes, no commands, default limits.
    ///
    /// ```
    /// let c = twitch_bot::chatplay::EngineConfig::new("my_bot");
    /// assert!(c.validate().is_ok());
    /// ```
    pub fn new(bot_login: impl Into<String>) -> Self {
        Self {
            bot_login: bot_login.into(),
            votes: Vec::new(),
            commands: Vec::new(),
            seed: None,
            max_remembered_ids: 100_000,
            event_capacity: 65_536,
            rewards: Vec::new(),
            count_shared_chat: false,
        }
    }

    /// Validates every vote and command and the cross-checks (unique names and keywords).
    ///
    /// ```
    /// use twitch_bot::chatplay::{EngineConfig, VoteConfig};
    /// let mut c = EngineConfig::new("bot");
    /// c.votes.push(VoteConfig::new("a", ["x"]));
    /// c.votes.push(VoteConfig::new("A", ["y"]));
    /// assert!(c.validate().is_err()); // duplicate vote name
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if check_word(&self.bot_login).is_err() {
            return Err(ConfigError::BadBotLogin(self.bot_login.clone()));
        }
        if self.max_remembered_ids == 0 {
            return Err(ConfigError::ZeroLimit("max_remembered_ids"));
        }
        if self.event_capacity == 0 {
            return Err(ConfigError::ZeroLimit("event_capacity"));
        }
        let mut names: Vec<String> = Vec::new();
        for vote in &self.votes {
            vote.validate()?;
            let folded = normalized(&vote.name);
            if names.contains(&folded) {
                return Err(ConfigError::DuplicateVote(vote.name.clone()));
            }
            names.push(folded);
        }
        let mut commands: Vec<&str> = Vec::new();
        let mut keywords: Vec<String> = Vec::new();
        for command in &self.commands {
            command.validate()?;
            if commands.contains(&command.name.as_str()) {
                return Err(ConfigError::DuplicateCommand(command.name.clone()));
            }
            commands.push(&command.name);
            for keyword in &command.keywords {
                let folded = normalized(keyword);
                if keywords.contains(&folded) {
                    return Err(ConfigError::DuplicateKeyword(keyword.clone()));
                }
                keywords.push(folded);
            }
        }
        super::reward::validate_all(&self.rewards, &self.votes)
    }
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// The bot's login is empty or not one word.
    #[error("bot_login {0:?} must be one non-empty word")]
    BadBotLogin(String),
    /// A limit was 0.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// A vote name is empty or not one word.
    #[error("vote name {0:?} must be one non-empty word")]
    BadVoteName(String),
    /// Two votes have the same name (case-insensitively).
    #[error("two votes are named {0:?}")]
    DuplicateVote(String),
    /// A vote has no options.
    #[error("vote {vote:?} has no options")]
    NoOptions {
        /// The vote.
        vote: String,
    },
    /// A vote has more than [`MAX_OPTIONS`] options.
    #[error("vote {vote:?} has {count} options; at most 256 are allowed")]
    TooManyOptions {
        /// The vote.
        vote: String,
        /// How many it has.
        count: usize,
    },
    /// An option is empty, or only invisible characters.
    #[error("vote {vote:?}: option {option:?} is empty after normalisation")]
    EmptyOption {
        /// The vote.
        vote: String,
        /// The option as configured.
        option: String,
    },
    /// An option has whitespace inside.
    #[error("vote {vote:?}: option {option:?} must be one word (no whitespace)")]
    OptionNotOneWord {
        /// The vote.
        vote: String,
        /// The option as configured.
        option: String,
    },
    /// An option starts with `!` or `+` (those prefixes are accepted on every option anyway).
    #[error(
        "vote {vote:?}: option {option:?} must not start with '!' or '+' (chat may add those to any option)"
    )]
    OptionPrefix {
        /// The vote.
        vote: String,
        /// The option as configured.
        option: String,
    },
    /// An option is longer than [`MAX_OPTION_LEN`] bytes.
    #[error("vote {vote:?}: option {option:?} is longer than 64 bytes")]
    OptionTooLong {
        /// The vote.
        vote: String,
        /// The option as configured.
        option: String,
    },
    /// Two options normalise to the same text.
    #[error("vote {vote:?}: options {first:?} and {second:?} are the same after normalisation")]
    DuplicateOption {
        /// The vote.
        vote: String,
        /// The option listed first.
        first: String,
        /// The later duplicate.
        second: String,
    },
    /// The window is not a finite number of seconds above 0 and at most [`MAX_WINDOW_SECS`].
    #[error("vote {vote:?}: window {secs} s must be above 0 and at most 86400 s")]
    BadWindow {
        /// The vote.
        vote: String,
        /// The value given.
        secs: f64,
    },
    /// `max_repeat` is not 1 to 9.
    #[error("vote {vote:?}: max_repeat {value} must be 1 to 9")]
    BadMaxRepeat {
        /// The vote.
        vote: String,
        /// The value given.
        value: u8,
    },
    /// A cooldown is negative, not finite, or longer than [`MAX_COOLDOWN_SECS`].
    #[error("{what}: {secs} s must be 0 or more and at most 86400 s")]
    BadCooldown {
        /// Which setting.
        what: String,
        /// The value given.
        secs: f64,
    },
    /// `tally_interval_secs` is neither 0 nor from [`MIN_TALLY_INTERVAL_SECS`] to
    /// [`MAX_TALLY_INTERVAL_SECS`].
    #[error("vote {vote:?}: tally interval {secs} s must be 0 (off) or from 0.1 to 3600 s")]
    BadTallyInterval {
        /// The vote.
        vote: String,
        /// The value given.
        secs: f64,
    },
    /// `min_voters` is 0 (a round without ballots would need a winner).
    #[error(
        "vote {vote:?}: min_voters must be at least 1 (a round without ballots never has a winner)"
    )]
    ZeroMinVoters {
        /// The vote.
        vote: String,
    },
    /// One option is another one with a repeat suffix (`up` and `up2` with `max_repeat >= 2`), so a
    /// ballot like `up2` could mean either.
    #[error(
        "vote {vote:?}: option {option:?} reads as option {base:?} repeated {repeat} times (max_repeat = {max_repeat}); rename one of them or lower max_repeat"
    )]
    RepeatSuffixCollision {
        /// The vote.
        vote: String,
        /// The option that ends in a repeat digit.
        option: String,
        /// The option it collides with.
        base: String,
        /// The digit.
        repeat: u8,
        /// The vote's `max_repeat`.
        max_repeat: u8,
    },
    /// `max_voters` is 0.
    #[error("vote {vote:?}: max_voters must be at least 1")]
    ZeroMaxVoters {
        /// The vote.
        vote: String,
    },
    /// A `channels` entry is not a channel login.
    #[error(
        "vote {vote:?}: channel {channel:?} must be a channel login (letters, digits, '_', optional '#')"
    )]
    BadChannel {
        /// The vote.
        vote: String,
        /// The entry as configured.
        channel: String,
    },
    /// A command's name is empty.
    #[error("a command has an empty name")]
    EmptyCommandName,
    /// Two commands have the same name.
    #[error("two commands are named {0:?}")]
    DuplicateCommand(String),
    /// A command has no keywords.
    #[error("command {command:?} has no keywords")]
    NoKeywords {
        /// The command.
        command: String,
    },
    /// A command keyword is empty, not one word, or too long.
    #[error(
        "command {command:?}: keyword {keyword:?} must be one non-empty word of at most 64 bytes"
    )]
    BadKeyword {
        /// The command.
        command: String,
        /// The keyword as configured.
        keyword: String,
    },
    /// Two commands share a keyword.
    #[error("keyword {0:?} is used by two commands")]
    DuplicateKeyword(String),
    /// `max_weight_per_user` without `bits_per_vote`.
    #[error(
        "vote {vote:?}: max_weight_per_user needs bits_per_vote (how many bits add 1 to a ballot's weight)"
    )]
    WeightWithoutBits {
        /// The vote.
        vote: String,
    },
    /// `bits_per_vote` without `max_weight_per_user`.
    #[error(
        "vote {vote:?}: bits_per_vote needs max_weight_per_user (the cap on one user's weight: paid votes must not silence everyone else)"
    )]
    BitsWithoutWeight {
        /// The vote.
        vote: String,
    },
    /// `bits_per_vote` out of range.
    #[error("vote {vote:?}: bits_per_vote {value} must be from 1 to 1000000")]
    BadBitsPerVote {
        /// The vote.
        vote: String,
        /// The value given.
        value: u64,
    },
    /// `max_weight_per_user` out of range.
    #[error("vote {vote:?}: max_weight_per_user {value} must be from 1 to 1000000")]
    BadMaxWeight {
        /// The vote.
        vote: String,
        /// The value given.
        value: u32,
    },
    /// Weights on an anarchy vote.
    #[error(
        "vote {vote:?}: bits_per_vote works on democracy votes only (anarchy passes every input on, there is nothing to weigh)"
    )]
    WeightedAnarchy {
        /// The vote.
        vote: String,
    },
    /// A reward with neither or both of `id` and `title`.
    #[error("{reward}: give exactly one of `id` and `title`")]
    RewardKey {
        /// The reward.
        reward: String,
    },
    /// A reward id or title that is empty, too long or holds control characters.
    #[error("{reward}: must not be empty, longer than 200 bytes or hold control characters")]
    BadRewardKey {
        /// The reward.
        reward: String,
    },
    /// A reward names a vote that does not exist.
    #[error("{reward}: no vote is named {vote:?}")]
    RewardUnknownVote {
        /// The reward.
        reward: String,
        /// The vote named.
        vote: String,
    },
    /// A reward has an `option` but no `vote`.
    #[error("{reward}: `option` needs `vote` (the vote the option belongs to)")]
    RewardOptionWithoutVote {
        /// The reward.
        reward: String,
    },
    /// A reward's `option` is not an option of its vote.
    #[error("{reward}: vote {vote:?} has no option {option:?}")]
    RewardUnknownOption {
        /// The reward.
        reward: String,
        /// The vote.
        vote: String,
        /// The option named.
        option: String,
    },
    /// Two rewards name the same id or title.
    #[error("{0} is listed twice")]
    DuplicateReward(String),
}

/// One non-empty word: no whitespace, not empty after normalisation.
fn check_word(word: &str) -> Result<(), ()> {
    let folded = normalized(word);
    if folded.is_empty() || folded.contains(' ') {
        return Err(());
    }
    Ok(())
}

/// Validates one option and returns its normalised form.
pub(crate) fn check_option(vote: &str, option: &str) -> Result<String, ConfigError> {
    let err = |f: fn(String, String) -> ConfigError| f(vote.to_owned(), option.to_owned());
    let folded = normalized(option);
    if folded.is_empty() {
        return Err(err(|vote, option| ConfigError::EmptyOption {
            vote,
            option,
        }));
    }
    if folded.contains(' ') || option.chars().any(|c| c.is_control() && !is_invisible(c)) {
        return Err(err(|vote, option| ConfigError::OptionNotOneWord {
            vote,
            option,
        }));
    }
    if folded.starts_with(['!', '+']) {
        return Err(err(|vote, option| ConfigError::OptionPrefix {
            vote,
            option,
        }));
    }
    if folded.len() > MAX_OPTION_LEN {
        return Err(err(|vote, option| ConfigError::OptionTooLong {
            vote,
            option,
        }));
    }
    Ok(folded)
}

/// The window as a [`Duration`], or the error naming the vote.
pub(crate) fn window_duration(vote: &str, secs: f64) -> Result<Duration, ConfigError> {
    if !(secs.is_finite() && secs > 0.0 && secs <= MAX_WINDOW_SECS) {
        return Err(ConfigError::BadWindow {
            vote: vote.to_owned(),
            secs,
        });
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A cooldown as a [`Duration`], or the error naming the setting.
pub(crate) fn cooldown_duration(what: &str, secs: f64) -> Result<Duration, ConfigError> {
    if !(secs.is_finite() && (0.0..=MAX_COOLDOWN_SECS).contains(&secs)) {
        return Err(ConfigError::BadCooldown {
            what: what.to_owned(),
            secs,
        });
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_values_are_refused_with_a_named_error() {
        let ok = VoteConfig::new("move", ["up", "down"]);
        assert_eq!(ok.validate(), Ok(()));
        type Change = Box<dyn Fn(&mut VoteConfig)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|v| v.options.clear()), "has no options"),
            (
                Box::new(|v| v.options.push(" ".into())),
                "empty after normalisation",
            ),
            (
                Box::new(|v| v.options.push("\u{200B}".into())),
                "empty after",
            ),
            (
                Box::new(|v| v.options.push("Down".into())),
                "same after normalisation",
            ),
            (Box::new(|v| v.options.push("go left".into())), "one word"),
            (Box::new(|v| v.options.push("!up".into())), "must not start"),
            (
                Box::new(|v| v.options.push("x".repeat(65))),
                "longer than 64",
            ),
            (Box::new(|v| v.window_secs = 0.0), "window 0 s"),
            (Box::new(|v| v.window_secs = -1.0), "window -1 s"),
            (Box::new(|v| v.window_secs = f64::NAN), "window NaN s"),
            (Box::new(|v| v.window_secs = f64::INFINITY), "window inf s"),
            (Box::new(|v| v.max_repeat = 0), "max_repeat 0"),
            (Box::new(|v| v.max_repeat = 10), "max_repeat 10"),
            (
                Box::new(|v| v.anarchy_cooldown_secs = -0.5),
                "anarchy_cooldown_secs",
            ),
            (Box::new(|v| v.name = "two words".into()), "vote name"),
            (
                Box::new(|v| v.options = vec!["o".into(); 300]),
                "300 options",
            ),
        ];
        for (change, expected) in cases {
            let mut v = ok.clone();
            change(&mut v);
            let err = v.validate().expect_err(expected).to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
        let mut v = ok.clone();
        v.window_secs = 0.25;
        v.max_repeat = 9;
        assert_eq!(v.validate(), Ok(()));
    }

    #[test]
    fn commands_and_cross_checks() {
        let mut c = EngineConfig::new("bot");
        c.commands.push(CommandConfig::new("jump", ["!jump"]));
        c.commands.push(CommandConfig::new("hop", ["!JUMP"]));
        assert_eq!(
            c.validate(),
            Err(ConfigError::DuplicateKeyword("!JUMP".into()))
        );
        let mut cmd = CommandConfig::new("x", ["!x"]);
        cmd.cooldown_secs = f64::NAN;
        assert!(
            cmd.validate()
                .unwrap_err()
                .to_string()
                .contains("cooldown_secs")
        );
        assert!(CommandConfig::new("x", ["a b"]).validate().is_err());
        assert!(EngineConfig::new("").validate().is_err());
    }
}
