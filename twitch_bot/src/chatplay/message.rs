//! What the engine reads: one chat message and the moderation actions that touch ballots, the
//! same whichever transport delivered them.
//!
//! The engine is blind to transports. Each transport turns what it received into these types:
//! IRC in [`irc::chat`](crate::irc::chat) (`PRIVMSG`, `CLEARCHAT`, `CLEARMSG`); EventSub's
//! `channel.chat.message`, `channel.chat.message_delete`, `channel.chat.clear_user_messages` and
//! `channel.chat.clear` map onto the same fields.
//!
//! The text fields are [`Cow`]s: a transport lends them from the bytes it received (the IRC path
//! builds a [`ChatMessage`] straight from the line, without copying), and
//! [`ChatMessage::into_owned`] makes a message that outlives them (what a queued keyword handler
//! keeps).
//!
//! ```
//! use std::time::Instant;
//! use twitch_bot::chatplay::{ChatMessage, Engine, EngineConfig, Moderation, VoteConfig};
//!
//! let mut config = EngineConfig::new("my_bot");
//! config.votes.push(VoteConfig::new("move", ["up", "down"]));
//! let mut engine = Engine::new(config).unwrap();
//! let now = Instant::now();
//! let mut msg = ChatMessage::new("mychannel", "ann", "UP");
//! msg.user_id = Some("1001".into());
//! msg.message_id = Some("m1".into());
//! engine.handle_chat(&msg, now);
//! assert_eq!(engine.vote("move").unwrap().voters(), 1);
//! engine.handle_moderation(
//!     &Moderation::DeleteMessage { channel: "mychannel".into(), message_id: "m1".into() },
//!     now,
//! );
//! assert_eq!(engine.vote("move").unwrap().voters(), 0);
//! ```

use std::borrow::Cow;

/// The sender's roles in the channel, as flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Roles {
    /// A moderator of the channel.
    pub moderator: bool,
    /// The channel's broadcaster.
    pub broadcaster: bool,
    /// A VIP of the channel.
    pub vip: bool,
    /// A subscriber (or founder) of the channel.
    pub subscriber: bool,
}

impl Roles {
    /// True for a moderator or the broadcaster: who may run moderators-only commands.
    pub fn is_privileged(&self) -> bool {
        self.moderator || self.broadcaster
    }
}

/// One chat message, as the engine reads it (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage<'a> {
    /// The channel's login: lowercase, without `#`.
    pub channel: Cow<'a, str>,
    /// The channel's user id (IRC `room-id`), when known.
    pub channel_id: Option<Cow<'a, str>>,
    /// The sender's login, lowercase.
    pub login: Cow<'a, str>,
    /// The sender's display name (the login when the transport gives none).
    pub display_name: Cow<'a, str>,
    /// The sender's user id (stable across renames), when known.
    pub user_id: Option<Cow<'a, str>>,
    /// The message's id (a UUID on Twitch), when known: replays of the same id count once.
    pub message_id: Option<Cow<'a, str>>,
    /// The text, with a `/me` wrapper removed ([`ChatMessage::is_action`] says it was one).
    pub text: Cow<'a, str>,
    /// True when the message was a `/me` action.
    pub is_action: bool,
    /// The sender's roles.
    pub roles: Roles,
    /// A backlog line the server replays (not said now): the engine ignores it.
    pub historical: bool,
    /// Bits cheered with the message, if any.
    pub bits: Option<u64>,
    /// The channel-points reward redeemed with the message, if any.
    pub custom_reward_id: Option<Cow<'a, str>>,
    /// Shared chat: the user id of the channel the message was sent in, when that is not
    /// [`ChatMessage::channel`] (IRC `source-room-id`, EventSub `source_broadcaster_user_id`).
    pub source_channel_id: Option<Cow<'a, str>>,
}

impl<'a> ChatMessage<'a> {
    /// A plain message: `login` says `text` in `channel`; no ids, no roles.
    ///
    /// ```
    /// let msg = twitch_bot::chatplay::ChatMessage::new("chan", "ann", "hello");
    /// assert_eq!((&*msg.display_name, msg.roles.moderator), ("ann", false));
    /// ```
    pub fn new(
        channel: impl Into<Cow<'a, str>>,
        login: impl Into<Cow<'a, str>>,
        text: impl Into<Cow<'a, str>>,
    ) -> Self {
        let login = login.into();
        ChatMessage {
            channel: channel.into(),
            channel_id: None,
            display_name: login.clone(),
            login,
            user_id: None,
            message_id: None,
            text: text.into(),
            is_action: false,
            roles: Roles::default(),
            historical: false,
            bits: None,
            custom_reward_id: None,
            source_channel_id: None,
        }
    }

    /// The same message owning all its text (to keep it past the buffer it was read from).
    pub fn into_owned(self) -> ChatMessage<'static> {
        fn own(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        ChatMessage {
            channel: own(self.channel),
            channel_id: self.channel_id.map(own),
            login: own(self.login),
            display_name: own(self.display_name),
            user_id: self.user_id.map(own),
            message_id: self.message_id.map(own),
            text: own(self.text),
            is_action: self.is_action,
            roles: self.roles,
            historical: self.historical,
            bits: self.bits,
            custom_reward_id: self.custom_reward_id.map(own),
            source_channel_id: self.source_channel_id.map(own),
        }
    }
}

/// A moderator's action that touches ballots, as the engine reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation<'a> {
    /// A user was timed out or banned in `channel` (IRC `CLEARCHAT #channel :login`, EventSub
    /// `channel.chat.clear_user_messages`): their ballots go.
    ClearUser {
        /// The channel's login.
        channel: Cow<'a, str>,
        /// The user's id, when known (matched first).
        user_id: Option<Cow<'a, str>>,
        /// The user's login, when known.
        login: Option<Cow<'a, str>>,
    },
    /// One message was deleted in `channel` (IRC `CLEARMSG`, EventSub
    /// `channel.chat.message_delete`): the ballot it cast goes.
    DeleteMessage {
        /// The channel's login.
        channel: Cow<'a, str>,
        /// The deleted message's id.
        message_id: Cow<'a, str>,
    },
    /// The whole chat of `channel` was cleared (IRC `CLEARCHAT #channel`, EventSub
    /// `channel.chat.clear`): no ballot goes (see [`vote`](super::vote) for why).
    ClearChannel {
        /// The channel's login.
        channel: Cow<'a, str>,
    },
}

impl Moderation<'_> {
    /// The channel the action was taken in.
    pub fn channel(&self) -> &str {
        match self {
            Moderation::ClearUser { channel, .. }
            | Moderation::DeleteMessage { channel, .. }
            | Moderation::ClearChannel { channel } => channel,
        }
    }
}
