//! Channel-points redemptions as game input: [`Redemption`] (what a transport hands the engine),
//! [`RewardConfig`] (the bot's `[[reward]]` table) and the matching of one to the other.
//!
//! A viewer redeems a reward; if a `[[reward]]` names it (by `id`, or by `title` where the
//! transport gives the title), the engine emits
//! [`Event::Redemption`](super::Event::Redemption) and, when the reward names a `vote`, casts a
//! ballot in that vote's open round: the viewer's input text, or the reward's fixed `option`,
//! read exactly as a chat ballot is (case, `!vote up`, `+up`, invisible characters; one ballot
//! per user, the last one wins, with the user's bit weight). A redemption of a reward no
//! `[[reward]]` names does nothing.
//!
//! **Transports.**
//! * IRC knows a redemption only as a chat message carrying the `custom-reward-id` tag (rewards
//!   that ask for text; Twitch sends nothing to IRC for rewards without text), with the reward's
//!   id and not its title. [`Engine::handle_chat`](super::Engine::handle_chat) handles a message
//!   whose reward id matches a `[[reward]]` as that redemption **only**: not also as a chat
//!   ballot, command or keyword. A message with a reward id no `[[reward]]` names is ordinary
//!   chat. So over IRC, match by `id`: a `title`-only reward never matches there.
//! * EventSub's `channel.channel_points_custom_reward_redemption.add` gives the redemption id,
//!   the reward's id and title and the input: it becomes a [`Redemption`] for
//!   [`Engine::handle_redemption`](super::Engine::handle_redemption).
//!
//! **Once only.** A redemption id is remembered like a chat message id: the same redemption
//! delivered twice (EventSub is at-least-once; IRC replays after a reconnect) counts once. Over
//! IRC the redemption id is the chat message's id, so a moderator deleting that message removes
//! its ballot, as for any ballot.
//!
//! ```
//! use std::time::Instant;
//! use twitch_bot::chatplay::{Engine, EngineConfig, Event, Redemption, RewardConfig, VoteConfig};
//!
//! let mut config = EngineConfig::new("my_bot");
//! config.votes.push(VoteConfig::new("move", ["up", "down"]));
//! config.rewards.push(RewardConfig::by_title("Pick a move").vote("move"));
//! let mut engine = Engine::new(config)?;
//! let now = Instant::now();
//! engine.start(now);
//! let mut r = Redemption::new("chan", "ann", "r-1", "DOWN");
//! r.reward_title = Some("Pick a move".into());
//! r.redemption_id = Some("17fa2df1-ad76-4804-bfa5-a40ef63efe63".into());
//! engine.handle_redemption(&r, now);
//! assert_eq!(engine.vote("move").unwrap().voters(), 1);
//! let redeemed = std::iter::from_fn(|| engine.poll_event())
//!     .find_map(|e| match e { Event::Redemption(r) => Some(r), _ => None })
//!     .unwrap();
//! assert_eq!((redeemed.reward.as_str(), redeemed.input.as_str()), ("Pick a move", "DOWN"));
//! # Ok::<(), twitch_bot::chatplay::ConfigError>(())
//! ```

use std::borrow::Cow;

use super::config::{ConfigError, VoteConfig, check_option};
use super::message::ChatMessage;
use super::normalize::normalized;

/// The longest reward id or title accepted in a `[[reward]]` (Twitch's titles are at most 45
/// characters, ids are UUIDs).
pub const MAX_REWARD_KEY_LEN: usize = 200;

/// One channel-points redemption, as the engine reads it, whichever transport delivered it.
///
/// Text fields are [`Cow`]s, as in [`ChatMessage`]: a transport lends them from what it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption<'a> {
    /// The channel's login: lowercase, without `#`.
    pub channel: Cow<'a, str>,
    /// The channel's user id, when known.
    pub channel_id: Option<Cow<'a, str>>,
    /// The viewer's login, lowercase.
    pub login: Cow<'a, str>,
    /// The viewer's display name (the login when the transport gives none).
    pub display_name: Cow<'a, str>,
    /// The viewer's user id, when known.
    pub user_id: Option<Cow<'a, str>>,
    /// The redemption's id (EventSub `id`; over IRC the chat message's id): a redemption
    /// delivered twice counts once. `None`: cannot be recognised, always counts.
    pub redemption_id: Option<Cow<'a, str>>,
    /// The reward's id.
    pub reward_id: Cow<'a, str>,
    /// The reward's title, when the transport gives it (EventSub does, IRC does not).
    pub reward_title: Option<Cow<'a, str>>,
    /// The text the viewer typed (empty for a reward that asks for none).
    pub input: Cow<'a, str>,
}

impl<'a> Redemption<'a> {
    /// `login` redeems reward `reward_id` in `channel` with `input`; no ids, no title.
    pub fn new(
        channel: impl Into<Cow<'a, str>>,
        login: impl Into<Cow<'a, str>>,
        reward_id: impl Into<Cow<'a, str>>,
        input: impl Into<Cow<'a, str>>,
    ) -> Self {
        let login = login.into();
        Redemption {
            channel: channel.into(),
            channel_id: None,
            display_name: login.clone(),
            login,
            user_id: None,
            redemption_id: None,
            reward_id: reward_id.into(),
            reward_title: None,
            input: input.into(),
        }
    }

    /// The redemption a chat message carries (IRC's `custom-reward-id` tag), borrowing from it:
    /// the message id is the redemption id, the text the input. `None` without a reward id.
    ///
    /// ```
    /// use twitch_bot::chatplay::{ChatMessage, Redemption};
    /// let mut msg = ChatMessage::new("chan", "ann", "up");
    /// assert!(Redemption::from_chat(&msg).is_none());
    /// msg.custom_reward_id = Some("r-1".into());
    /// let r = Redemption::from_chat(&msg).unwrap();
    /// assert_eq!((&*r.reward_id, &*r.input, r.reward_title), ("r-1", "up", None));
    /// ```
    pub fn from_chat<'m>(msg: &'m ChatMessage<'_>) -> Option<Redemption<'m>> {
        Some(Redemption {
            channel: Cow::Borrowed(&msg.channel),
            channel_id: msg.channel_id.as_deref().map(Cow::Borrowed),
            login: Cow::Borrowed(&msg.login),
            display_name: Cow::Borrowed(&msg.display_name),
            user_id: msg.user_id.as_deref().map(Cow::Borrowed),
            redemption_id: msg.message_id.as_deref().map(Cow::Borrowed),
            reward_id: Cow::Borrowed(msg.custom_reward_id.as_deref()?),
            reward_title: None,
            input: Cow::Borrowed(&msg.text),
        })
    }

    /// The same redemption owning all its text.
    pub fn into_owned(self) -> Redemption<'static> {
        fn own(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        Redemption {
            channel: own(self.channel),
            channel_id: self.channel_id.map(own),
            login: own(self.login),
            display_name: own(self.display_name),
            user_id: self.user_id.map(own),
            redemption_id: self.redemption_id.map(own),
            reward_id: own(self.reward_id),
            reward_title: self.reward_title.map(own),
            input: own(self.input),
        }
    }

    /// The redemption as a chat message casting `text` (what a vote reads as the ballot).
    pub(crate) fn as_ballot<'m>(&'m self, text: &'m str) -> ChatMessage<'m> {
        let b = |c: &'m Cow<'_, str>| Cow::Borrowed(&**c);
        let mut msg = ChatMessage::new(b(&self.channel), b(&self.login), Cow::Borrowed(text));
        msg.channel_id = self.channel_id.as_ref().map(b);
        msg.display_name = b(&self.display_name);
        msg.user_id = self.user_id.as_ref().map(b);
        msg.message_id = self.redemption_id.as_ref().map(b);
        msg.custom_reward_id = Some(b(&self.reward_id));
        msg
    }
}

/// One `[[reward]]`: which reward, and what its redemption does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardConfig {
    /// Match the reward by id (works over every transport). Exactly one of `id` and `title`.
    pub id: Option<String>,
    /// Match the reward by title, compared case-insensitively (only where the transport gives
    /// titles: EventSub, not IRC). Exactly one of `id` and `title`.
    pub title: Option<String>,
    /// The vote the redemption casts a ballot in; `None`: only the event.
    pub vote: Option<String>,
    /// With `vote`: this option is the ballot, whatever the viewer typed; `None`: the input text
    /// is the ballot.
    pub option: Option<String>,
}

impl RewardConfig {
    /// A reward matched by id, giving only the event.
    pub fn by_id(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            title: None,
            vote: None,
            option: None,
        }
    }

    /// A reward matched by title, giving only the event.
    pub fn by_title(title: impl Into<String>) -> Self {
        Self {
            id: None,
            title: Some(title.into()),
            vote: None,
            option: None,
        }
    }

    /// The same, casting the input text as a ballot in `vote`.
    pub fn vote(mut self, vote: impl Into<String>) -> Self {
        self.vote = Some(vote.into());
        self
    }

    /// The same, casting `option` (whatever the input) as the ballot.
    pub fn option(mut self, option: impl Into<String>) -> Self {
        self.option = Some(option.into());
        self
    }

    /// How the reward is named in errors and logs: `id "…"` or `title "…"`.
    pub fn label(&self) -> String {
        match (&self.id, &self.title) {
            (Some(id), _) => format!("reward id {id:?}"),
            (None, Some(title)) => format!("reward title {title:?}"),
            (None, None) => "reward (no id or title)".to_owned(),
        }
    }

    /// Checks this reward against the engine's votes; the error names the reward.
    pub fn validate(&self, votes: &[VoteConfig]) -> Result<(), ConfigError> {
        let reward = self.label();
        let key = match (&self.id, &self.title) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(ConfigError::RewardKey { reward });
            }
            (Some(k), None) | (None, Some(k)) => k,
        };
        if key.trim().is_empty()
            || key.len() > MAX_REWARD_KEY_LEN
            || key.chars().any(char::is_control)
        {
            return Err(ConfigError::BadRewardKey { reward });
        }
        let vote = match &self.vote {
            Some(name) => {
                let folded = normalized(name);
                let Some(vote) = votes.iter().find(|v| normalized(&v.name) == folded) else {
                    return Err(ConfigError::RewardUnknownVote {
                        reward,
                        vote: name.clone(),
                    });
                };
                Some(vote)
            }
            None => None,
        };
        if let Some(option) = &self.option {
            let Some(vote) = vote else {
                return Err(ConfigError::RewardOptionWithoutVote { reward });
            };
            let folded = check_option(&vote.name, option)?;
            if !vote.options.iter().any(|o| normalized(o) == folded) {
                return Err(ConfigError::RewardUnknownOption {
                    reward,
                    vote: vote.name.clone(),
                    option: option.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The engine's table of rewards, matched per redemption.
#[derive(Debug, Default)]
pub(crate) struct Rewards {
    entries: Vec<Entry>,
    /// Unknown reward ids already logged (bounded), so a busy reward logs once.
    logged_unknown: Vec<Box<str>>,
}

#[derive(Debug)]
pub(crate) struct Entry {
    id: Option<Box<str>>,
    /// The title, trimmed and case-folded.
    title: Option<String>,
    /// The configured title, for the event when the transport gives none.
    pub(crate) configured_title: Option<String>,
    /// The vote's name, as configured.
    pub(crate) vote: Option<String>,
    /// The fixed ballot.
    pub(crate) option: Option<String>,
}

/// How many unknown reward ids are logged at `info` (one line each); later ones at `debug`.
const MAX_LOGGED_UNKNOWN: usize = 32;

fn fold_title(title: &str) -> String {
    title.trim().to_lowercase()
}

impl Rewards {
    /// The table for validated rewards.
    pub(crate) fn new(rewards: &[RewardConfig]) -> Self {
        Self {
            entries: rewards
                .iter()
                .map(|r| Entry {
                    id: r.id.as_deref().map(|id| id.trim().into()),
                    title: r.title.as_deref().map(fold_title),
                    configured_title: r.title.clone(),
                    vote: r.vote.clone(),
                    option: r.option.clone(),
                })
                .collect(),
            logged_unknown: Vec::new(),
        }
    }

    /// Whether some reward is matched by this id (what makes an IRC chat message a redemption).
    pub(crate) fn knows_id(&mut self, reward_id: &str, channel: &str) -> bool {
        if self
            .entries
            .iter()
            .any(|e| e.id.as_deref() == Some(reward_id))
        {
            return true;
        }
        if self.logged_unknown.len() < MAX_LOGGED_UNKNOWN
            && !self.logged_unknown.iter().any(|k| **k == *reward_id)
        {
            self.logged_unknown.push(reward_id.into());
            tracing::info!(
                reward_id,
                channel,
                "a chat message redeems a channel-points reward no [[reward]] names: counted as ordinary chat \
                 (add a [[reward]] with this id to use it)"
            );
        } else {
            tracing::debug!(reward_id, channel, "unknown reward: ordinary chat");
        }
        false
    }

    /// The reward a redemption is for: by id first, then by title.
    pub(crate) fn find(&self, reward_id: &str, title: Option<&str>) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.id.as_deref() == Some(reward_id))
            .or_else(|| {
                let title = fold_title(title?);
                self.entries
                    .iter()
                    .find(|e| e.title.as_deref() == Some(title.as_str()))
            })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks the rewards of an engine: each one, then that no two name the same id or title.
pub(crate) fn validate_all(
    rewards: &[RewardConfig],
    votes: &[VoteConfig],
) -> Result<(), ConfigError> {
    let mut ids: Vec<&str> = Vec::new();
    let mut titles: Vec<String> = Vec::new();
    for reward in rewards {
        reward.validate(votes)?;
        if let Some(id) = &reward.id {
            if ids.contains(&id.trim()) {
                return Err(ConfigError::DuplicateReward(reward.label()));
            }
            ids.push(id.trim());
        }
        if let Some(title) = &reward.title {
            let folded = fold_title(title);
            if titles.contains(&folded) {
                return Err(ConfigError::DuplicateReward(reward.label()));
            }
            titles.push(folded);
        }
    }
    Ok(())
}
