//! Twitch IRC: splitting WebSocket frames into lines, IRCv3 tags, typed server messages.
//!
//! The types below are the contract that the session, the ChatPlay engine and the driver share.
//! The parser (in this module's files) fills them in; fields may be added, not renamed.

/// One badge, as in the `badges` or `badge-info` tag: `name/version`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Badge {
    /// The badge's name, e.g. `moderator`, `subscriber`, `broadcaster`, `vip`.
    pub name: String,
    /// The badge's version (for `badge-info`'s `subscriber`, the exact months).
    pub version: String,
}

/// One emote occurrence in a chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emote {
    /// The emote id (not always numeric, e.g. `emotesv2_...`).
    pub id: String,
    /// Start, in Unicode code points of [`Privmsg::text`], inclusive.
    pub start: usize,
    /// End, in Unicode code points, exclusive (clamped to the text's length).
    pub end: usize,
    /// The emote's text as found in the message (may be shorter than expected after clamping).
    pub code: String,
}

/// The message a reply answers (the `reply-parent-*` tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyParent {
    /// `reply-parent-msg-id`.
    pub message_id: String,
    /// `reply-parent-user-id`.
    pub user_id: Option<String>,
    /// `reply-parent-user-login`.
    pub login: Option<String>,
    /// `reply-parent-display-name`.
    pub display_name: Option<String>,
    /// `reply-parent-msg-body`.
    pub body: Option<String>,
}

/// A chat message (`PRIVMSG #channel :text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privmsg {
    /// The channel's login: lowercase, without `#`.
    pub channel: String,
    /// The sender's login (from the prefix `nick!nick@nick.tmi.twitch.tv`).
    pub login: String,
    /// The sender's `user-id` tag (stable across renames); `None` without tags.
    pub user_id: Option<String>,
    /// The `display-name` tag, or the login when the tag is missing or empty.
    pub display_name: String,
    /// The text, without line ending, with a `\x01ACTION ...\x01` wrapper removed.
    pub text: String,
    /// True when the message was a `/me` action.
    pub is_action: bool,
    /// The `badges` tag.
    pub badges: Vec<Badge>,
    /// The `badge-info` tag.
    pub badge_info: Vec<Badge>,
    /// The `color` tag (`#RRGGBB`), `None` when empty.
    pub color: Option<String>,
    /// Moderator (`mod=1` or a `moderator` badge).
    pub is_moderator: bool,
    /// Subscriber (`subscriber=1` or a `subscriber`/`founder` badge).
    pub is_subscriber: bool,
    /// VIP (`vip` tag or badge).
    pub is_vip: bool,
    /// The channel's broadcaster (`broadcaster` badge).
    pub is_broadcaster: bool,
    /// Emotes, sorted by position, clamped to the text.
    pub emotes: Vec<Emote>,
    /// Bits cheered, if any.
    pub bits: Option<u64>,
    /// The message's `id` tag (a UUID).
    pub message_id: Option<String>,
    /// `tmi-sent-ts`: server time, Unix milliseconds.
    pub server_timestamp_ms: Option<u64>,
    /// The message this one replies to.
    pub reply_parent: Option<ReplyParent>,
    /// `first-msg=1`: the user's first message in this channel.
    pub first_message: bool,
}

/// `CLEARCHAT`: the whole chat cleared, or one user timed out or banned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearChat {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// The user's login when one user was timed out or banned; `None` when the chat was cleared.
    pub target_login: Option<String>,
    /// `target-user-id`.
    pub target_user_id: Option<String>,
    /// `ban-duration` in seconds for a timeout; `None` for a permanent ban or a clear.
    pub ban_duration_secs: Option<u64>,
    /// `tmi-sent-ts`.
    pub server_timestamp_ms: Option<u64>,
}

/// `CLEARMSG`: one message deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearMsg {
    /// The channel's login, lowercase, without `#`.
    pub channel: String,
    /// The `login` tag: whose message was deleted.
    pub login: Option<String>,
    /// `target-msg-id`: the deleted message's `id`.
    pub target_message_id: String,
    /// The deleted message's text.
    pub text: String,
    /// `tmi-sent-ts`.
    pub server_timestamp_ms: Option<u64>,
}
