//! IRC into the ChatPlay engine's transport-neutral types: `PRIVMSG` into a
//! [`ChatMessage`], `CLEARCHAT` and `CLEARMSG` into a [`Moderation`].
//!
//! Three ways in:
//! - from the typed messages: `ChatMessage::from(&privmsg)`, [`ClearChat::moderation`],
//!   [`ClearMsg::moderation`];
//! - straight from a parsed line, [`chat_message`]: what the bot's hot path uses. It reads the
//!   dozen tags the engine needs in one pass over the line's tags and borrows every text from
//!   the line (copying only what must be unescaped or lowercased), where building a
//!   [`Privmsg`] allocates its badge, emote and reply lists. Both give the same message for the
//!   same line (tested below), and both refuse the same malformed lines;
//! - straight from the line's text, [`fast_chat_message`]: for lines of the shape Twitch sends
//!   (`@tags :nick!user@host PRIVMSG #channel :text`) it skips the general grammar and its
//!   parameter and tag lists, reading the tags in one byte loop; any other line gives `None`
//!   and goes the [`chat_message`] way. The two agree on every line the fast one accepts
//!   (corpus and property tests below).
//!
//! A backlog line the server replays (`historical=1`) keeps its flag on the [`ChatMessage`]
//! (the engine ignores it); a historical `CLEARCHAT` or `CLEARMSG` gives no [`Moderation`] at
//! all: it is not something a moderator does now.
//!
//! ```
//! use twitch_bot::irc::{RawLine, chat::chat_message};
//! let line = RawLine::parse(
//!     "@badges=moderator/1;display-name=Ann;id=m1;mod=1;room-id=9;user-id=7 \
//!      :ann!ann@ann.tmi.twitch.tv PRIVMSG #Chan :\x01ACTION up\x01",
//! ).unwrap();
//! let msg = chat_message(&line).unwrap();
//! assert_eq!((&*msg.channel, &*msg.login, &*msg.display_name), ("chan", "ann", "Ann"));
//! assert_eq!((&*msg.text, msg.is_action, msg.roles.moderator), ("up", true, true));
//! assert_eq!((msg.user_id.as_deref(), msg.message_id.as_deref()), (Some("7"), Some("m1")));
//! ```

use std::borrow::Cow;

use super::line::truncate_for_error;
use super::tags::tag_items;
use super::{ClearChat, ClearMsg, ParseError, Privmsg, RawLine, unescape_tag_value, unwrap_action};
use crate::chatplay::{ChatMessage, Moderation, Roles};

impl<'a> From<&'a Privmsg> for ChatMessage<'a> {
    fn from(m: &'a Privmsg) -> Self {
        ChatMessage {
            channel: Cow::Borrowed(&m.channel),
            channel_id: None,
            login: Cow::Borrowed(&m.login),
            display_name: Cow::Borrowed(&m.display_name),
            user_id: m.user_id.as_deref().map(Cow::Borrowed),
            message_id: m.message_id.as_deref().map(Cow::Borrowed),
            text: Cow::Borrowed(&m.text),
            is_action: m.is_action,
            roles: Roles {
                moderator: m.is_moderator,
                broadcaster: m.is_broadcaster,
                vip: m.is_vip,
                subscriber: m.is_subscriber,
            },
            historical: m.historical,
            bits: m.bits,
            custom_reward_id: None,
            source_channel_id: None,
        }
    }
}

impl ClearChat {
    /// The engine's view: a user's timeout or ban, or a clear of the whole chat; `None` for a
    /// backlog replay (`historical=1`).
    pub fn moderation(&self) -> Option<Moderation<'_>> {
        if self.historical {
            return None;
        }
        let channel = Cow::Borrowed(self.channel.as_str());
        Some(
            if self.target_login.is_none() && self.target_user_id.is_none() {
                Moderation::ClearChannel { channel }
            } else {
                Moderation::ClearUser {
                    channel,
                    user_id: self.target_user_id.as_deref().map(Cow::Borrowed),
                    login: self.target_login.as_deref().map(Cow::Borrowed),
                }
            },
        )
    }
}

impl ClearMsg {
    /// The engine's view: one message deleted; `None` for a backlog replay (`historical=1`).
    pub fn moderation(&self) -> Option<Moderation<'_>> {
        (!self.historical).then_some(Moderation::DeleteMessage {
            channel: Cow::Borrowed(self.channel.as_str()),
            message_id: Cow::Borrowed(self.target_message_id.as_str()),
        })
    }
}

/// A tag's value, unescaped, borrowed when there is nothing to unescape; `None` when empty.
fn nonempty<'a>(raw: Option<&'a str>) -> Option<Cow<'a, str>> {
    raw.filter(|v| !v.is_empty()).map(unescape_tag_value)
}

/// ASCII-lowercased, borrowed when already lowercase.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn number(raw: Option<&str>, tag: &'static str) -> Result<Option<u64>, ParseError> {
    match raw {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| ParseError::BadTag {
            tag,
            value: truncate_for_error(v),
        }),
    }
}

/// The roles the (raw) `badges` value lists, read in one pass over its bytes.
fn badge_roles(badges: Option<&str>) -> Roles {
    let mut roles = Roles::default();
    let Some(raw) = badges else {
        return roles;
    };
    let badges = unescape_tag_value(raw);
    for entry in badges.as_bytes().split(|&b| b == b',') {
        let name = match memchr::memchr(b'/', entry) {
            Some(slash) => &entry[..slash],
            None => entry,
        };
        match name {
            b"moderator" => roles.moderator = true,
            b"broadcaster" => roles.broadcaster = true,
            b"vip" => roles.vip = true,
            b"subscriber" | b"founder" => roles.subscriber = true,
            _ => {}
        }
    }
    roles
}

/// A `PRIVMSG` line straight into the engine's [`ChatMessage`], borrowing from the line (see the
/// [module docs](self)). The line's verb is not checked: pass `PRIVMSG` lines.
///
/// # Errors
/// As [`Privmsg`]'s parse: a missing channel, text or sender, or a malformed `bits` or
/// `tmi-sent-ts` tag.
pub fn chat_message<'a>(line: &RawLine<'a>) -> Result<ChatMessage<'a>, ParseError> {
    let channel = line.param(0, "channel")?;
    let raw_text = line.param(1, "message text")?;
    let login = line.require_nick()?;
    build(channel, raw_text, login, line.tags.iter_raw())
}

/// [`chat_message`] for a whole line of the usual shape, without building a [`RawLine`]: the
/// bot's hot path.
///
/// The usual shape is what Twitch sends: `[@tags ]:nick!user@host PRIVMSG #channel :text`, with
/// single spaces. Any other line (extra spaces, no `:` before the text, more parameters, another
/// verb or spelling of it, an empty nick, a malformed number tag) gives `None`: parse it with
/// [`RawLine::parse`] and [`chat_message`], which give the same message for the lines this
/// accepts (tested against each other below) and the error for the others.
///
/// ```
/// use twitch_bot::irc::chat::fast_chat_message;
/// let msg = fast_chat_message("@id=m1;user-id=7 :ann!ann@a.tmi.twitch.tv PRIVMSG #chan :up").unwrap();
/// assert_eq!((&*msg.login, &*msg.text, msg.user_id.as_deref()), ("ann", "up", Some("7")));
/// assert!(fast_chat_message(":ann!ann@a PRIVMSG  #chan :double space").is_none());
/// ```
pub fn fast_chat_message(line: &str) -> Option<ChatMessage<'_>> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (tags, rest) = match line.strip_prefix('@') {
        Some(after) => {
            let space = memchr::memchr(b' ', after.as_bytes())?;
            (&after[..space], &after[space + 1..])
        }
        None => ("", line),
    };
    let source = rest.strip_prefix(':')?;
    let space = memchr::memchr(b' ', source.as_bytes())?;
    let (source, rest) = (&source[..space], &source[space + 1..]);
    let rest = rest.strip_prefix("PRIVMSG ")?;
    let space = memchr::memchr(b' ', rest.as_bytes())?;
    let (channel, text) = (&rest[..space], rest[space + 1..].strip_prefix(':')?);
    if channel.is_empty() || channel.starts_with(':') {
        return None;
    }
    let nick = match memchr::memchr(b'!', source.as_bytes()) {
        Some(bang) => &source[..bang],
        None => source,
    };
    if nick.is_empty() {
        return None;
    }
    build(channel, text, nick, tag_items(tags)).ok()
}

/// The message from its parts: the channel parameter, the raw text, the sender's nick and the
/// tags in line order (values still escaped).
fn build<'a>(
    channel: &'a str,
    raw_text: &'a str,
    nick: &'a str,
    tags: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<ChatMessage<'a>, ParseError> {
    let login = lower(nick);
    let (mut display_name, mut user_id, mut message_id, mut room_id) = (None, None, None, None);
    let (mut badges, mut moderator, mut subscriber, mut vip) = (None, false, false, false);
    let (mut bits, mut sent_ts, mut historical, mut reward, mut source_room) =
        (None, None, false, None, None);
    // One pass; a later duplicate overwrites an earlier one (the last wins, as in `RawTags`).
    for (key, value) in tags {
        match key {
            "badges" => badges = Some(value),
            "bits" => bits = Some(value),
            "custom-reward-id" => reward = Some(value),
            "display-name" => display_name = Some(value),
            "historical" => historical = value == "1",
            "id" => message_id = Some(value),
            "mod" => moderator = value == "1",
            "room-id" => room_id = Some(value),
            "source-room-id" => source_room = Some(value),
            "subscriber" => subscriber = value == "1",
            "tmi-sent-ts" => sent_ts = Some(value),
            "user-id" => user_id = Some(value),
            "vip" => vip = value != "0",
            _ => {}
        }
    }
    let bits = number(bits, "bits")?;
    number(sent_ts, "tmi-sent-ts")?;
    let (text, is_action) = unwrap_action(raw_text);
    let channel_id = nonempty(room_id);
    let source_channel_id = nonempty(source_room).filter(|s| Some(s) != channel_id.as_ref());
    let listed = badge_roles(badges);
    Ok(ChatMessage {
        channel: lower(channel.strip_prefix('#').unwrap_or(channel)),
        display_name: nonempty(display_name).unwrap_or_else(|| login.clone()),
        user_id: nonempty(user_id),
        message_id: nonempty(message_id),
        text: Cow::Borrowed(text),
        is_action,
        roles: Roles {
            moderator: moderator || listed.moderator,
            broadcaster: listed.broadcaster,
            vip: vip || listed.vip,
            subscriber: subscriber || listed.subscriber,
        },
        historical,
        bits,
        custom_reward_id: nonempty(reward),
        channel_id,
        source_channel_id,
        login,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::{ServerMessage, parse_line};

    /// Every PRIVMSG of the recorded corpus, plus odd ones: the fast path and the typed path agree.
    #[test]
    fn the_fast_path_and_the_typed_path_agree() {
        let corpus = include_str!("../../../tests/data/twitch-corpus.txt");
        let odd = [
            r"@badges=vip/1,broadcaster/1;vip=0;mod=0;subscriber=0;display-name=;user-id=;id= :MiXeD!m@m PRIVMSG #CHAN :hi",
            r"@badges=founder/0;display-name=A\sB;id=1;id=2;historical=1 :a!a@a PRIVMSG #c :\x01ACTION\x01",
            r"@badges=;vip;bits=100 :a!a@a PRIVMSG #c :cheer100 up",
            ":a!a@a PRIVMSG #c :no tags",
        ];
        let mut compared = 0;
        for line in corpus.lines().chain(odd) {
            let Ok(raw) = RawLine::parse(line) else {
                continue;
            };
            if !raw.verb.eq_ignore_ascii_case("PRIVMSG") {
                continue;
            }
            let typed = parse_line(line);
            let fast = chat_message(&raw);
            match (typed, fast) {
                (Ok(ServerMessage::Privmsg(p)), Ok(mut f)) => {
                    // Only the fast path reads these tags.
                    f.channel_id = None;
                    f.custom_reward_id = None;
                    f.source_channel_id = None;
                    assert_eq!(ChatMessage::from(&p), f, "{line}");
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{line}"),
                (a, b) => panic!("paths disagree on {line}: {a:?} / {b:?}"),
            }
            compared += 1;
        }
        assert!(compared >= 10, "only {compared} PRIVMSG lines compared");
    }

    /// The line fast path gives exactly what the grammar path gives, or steps aside.
    fn fast_agrees(line: &str) -> bool {
        let Some(fast) = fast_chat_message(line) else {
            return false;
        };
        let raw = RawLine::parse(line).expect("the fast path took a line the grammar refuses");
        assert!(raw.verb == "PRIVMSG", "fast path took a {} line", raw.verb);
        assert_eq!(chat_message(&raw).as_ref(), Ok(&fast), "{line}");
        true
    }

    #[test]
    fn the_fast_line_path_agrees_with_the_grammar() {
        let corpus = include_str!("../../../tests/data/twitch-corpus.txt");
        let taken = corpus.lines().filter(|l| fast_agrees(l)).count();
        assert!(taken >= 10, "only {taken} corpus lines took the fast path");
        for line in [
            r"@badges=moderator/1,subscriber/12;badge-info=subscriber/14;display-name=A\sB;id=x;mod=0;vip;user-id=7 :Ann!ann@a PRIVMSG #Chan :ACTION up",
            r"@badges=broadcaster/1;id=1;id=2;historical=1;bits=100;tmi-sent-ts=5 :a!a@a PRIVMSG #c :cheer100 up",
            r"@;=v;k;badges=founder\/0,;room-id=9;source-room-id=8 :a PRIVMSG #c :t",
            ":a!a@a PRIVMSG #c :no tags\r\n",
            ":a!a@a PRIVMSG #c ::leading colon",
            ":a!a@a PRIVMSG #c :",
        ] {
            assert!(fast_agrees(line), "{line}");
        }
        // Other shapes step aside (the grammar path parses them, or names the error).
        for line in [
            ":a!a@a PRIVMSG  #c :two spaces",
            ":a!a@a privmsg #c :lowercase verb",
            ":a!a@a PRIVMSG #c no colon",
            ":a!a@a PRIVMSG #c extra :param",
            ":!a@a PRIVMSG #c :empty nick",
            "@bits=lots :a!a@a PRIVMSG #c :bad number",
            "@tmi-sent-ts=soon :a!a@a PRIVMSG #c :bad number",
            " :a!a@a PRIVMSG #c :leading space",
            "@a=b :a!a@a NOTICE #c :other verb",
            ":a!a@a PRIVMSG :#c",
            "@only-tags",
            "",
        ] {
            assert!(fast_chat_message(line).is_none(), "{line}");
        }
    }

    proptest::proptest! {
        /// Lines assembled from Twitch-like pieces with odd spacing, escapes, duplicates and
        /// missing parts: whenever the fast path answers, the grammar path agrees.
        #[test]
        fn the_fast_line_path_never_disagrees(
            tags in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["badges", "id", "user-id", "mod", "vip", "bits", "room-id", "source-room-id", "display-name", "historical", "subscriber", "tmi-sent-ts", "x", ""]),
                    proptest::option::of("[a-z0-9/,=\\ :;-]{0,10}"),
                ),
                0..8,
            ),
            at in proptest::bool::ANY,
            source in proptest::prop_oneof![4 => ":[a-z]{1,3}![a-z]{1,3}@a", 1 => "[:]?[A-Za-z!@]{0,6}"],
            gap1 in proptest::prop_oneof![4 => proptest::strategy::Just(" ".to_string()), 1 => " {0,2}"],
            verb in proptest::sample::select(vec!["PRIVMSG", "PRIVMSG", "PRIVMSG", "privmsg", "NOTICE"]),
            gap2 in proptest::prop_oneof![4 => proptest::strategy::Just(" ".to_string()), 1 => " {0,2}"],
            channel in proptest::prop_oneof![4 => "#[a-zA-Z]{1,4}", 1 => "[#:]?[a-zA-Z]{0,4}"],
            gap3 in proptest::prop_oneof![4 => proptest::strategy::Just(" ".to_string()), 1 => " {0,2}"],
            text in proptest::prop_oneof![4 => ":[ a-zA-Z\x01:]{0,12}", 1 => "[:]?[ a-zA-Z\x01:]{0,12}"],
        ) {
            let mut line = String::new();
            if at {
                line.push('@');
                let items: Vec<String> = tags
                    .iter()
                    .map(|(k, v)| match v { Some(v) => format!("{k}={v}"), None => k.to_string() })
                    .collect();
                line.push_str(&items.join(";"));
                line.push(' ');
            }
            line.push_str(&format!("{source}{gap1}{verb}{gap2}{channel}{gap3}{text}"));
            let _ = fast_agrees(&line);
        }
    }

    #[test]
    fn both_paths_refuse_the_same_bad_lines() {
        for line in [
            "@bits=lots :a!a@a PRIVMSG #c :cheer",
            "@tmi-sent-ts=soon :a!a@a PRIVMSG #c :x",
            "PRIVMSG #c :no source",
            ":a!a@a PRIVMSG #c",
        ] {
            let raw = RawLine::parse(line).unwrap();
            assert_eq!(
                parse_line(line).unwrap_err(),
                chat_message(&raw).unwrap_err()
            );
        }
    }

    #[test]
    fn shared_chat_rewards_and_borrowing() {
        let line =
            "@custom-reward-id=r-1;room-id=9;source-room-id=8;id=x :ann!ann@a PRIVMSG #c :go";
        let raw = RawLine::parse(line).unwrap();
        let m = chat_message(&raw).unwrap();
        assert_eq!(m.custom_reward_id.as_deref(), Some("r-1"));
        assert_eq!(m.channel_id.as_deref(), Some("9"));
        assert_eq!(m.source_channel_id.as_deref(), Some("8"));
        assert!(matches!(m.text, Cow::Borrowed(_)) && matches!(m.login, Cow::Borrowed(_)));
        // The channel's own message in a shared session names itself as the source: not shared.
        let own = RawLine::parse("@room-id=9;source-room-id=9 :a!a@a PRIVMSG #c :go").unwrap();
        assert_eq!(chat_message(&own).unwrap().source_channel_id, None);
    }

    #[test]
    fn historical_clears_give_no_moderation() {
        let ServerMessage::ClearChat(c) =
            parse_line("@historical=1;target-user-id=7 :tmi.twitch.tv CLEARCHAT #c :ann").unwrap()
        else {
            panic!()
        };
        assert_eq!(c.moderation(), None);
        let ServerMessage::ClearChat(c) =
            parse_line("@target-user-id=7 :tmi.twitch.tv CLEARCHAT #c :ann").unwrap()
        else {
            panic!()
        };
        assert!(
            matches!(c.moderation(), Some(Moderation::ClearUser { user_id: Some(id), .. }) if id == "7")
        );
        let ServerMessage::ClearChat(c) = parse_line(":tmi.twitch.tv CLEARCHAT #c").unwrap() else {
            panic!()
        };
        assert!(matches!(
            c.moderation(),
            Some(Moderation::ClearChannel { .. })
        ));
        let ServerMessage::ClearMsg(m) =
            parse_line("@historical=1;target-msg-id=x :tmi.twitch.tv CLEARMSG #c :t").unwrap()
        else {
            panic!()
        };
        assert_eq!(m.moderation(), None);
    }
}
