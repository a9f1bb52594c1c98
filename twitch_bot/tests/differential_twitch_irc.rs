//! Differential test against an independent parser: every corpus line through `twitch-irc`
//! (`IRCMessage::parse` + `ServerMessage::try_from`) and through ours, field by field.
//!
//! Where the two disagree on purpose, the test says so and checks our side:
//! emote ranges past the end of the text (we clamp; twitch-irc keeps Twitch's range) and a
//! USERNOTICE `/me` (we unwrap it and shift the emote indices; twitch-irc leaves the wrapper).

use twitch_bot::irc::{ServerMessage, parse_line};
use twitch_irc::message::{ClearChatAction, IRCMessage, ServerMessage as Theirs};

const CORPUS: &str = include_str!("data/corpus.txt");

fn theirs(line: &str) -> Theirs {
    Theirs::try_from(IRCMessage::parse(line).expect("twitch-irc grammar"))
        .expect("twitch-irc typed")
}

fn badges(b: &[twitch_irc::message::Badge]) -> Vec<(String, String)> {
    b.iter()
        .map(|b| (b.name.clone(), b.version.clone()))
        .collect()
}

fn ours_badges(b: &[twitch_bot::irc::Badge]) -> Vec<(String, String)> {
    b.iter()
        .map(|b| (b.name.clone(), b.version.clone()))
        .collect()
}

#[test]
fn every_corpus_line_agrees_with_twitch_irc() {
    let mut compared = 0;
    for (i, line) in CORPUS.lines().enumerate() {
        let n = i + 1;
        let ours = parse_line(line).unwrap_or_else(|e| panic!("line {n}: {e}"));
        match (&ours, theirs(line)) {
            (ServerMessage::Privmsg(a), Theirs::Privmsg(b)) => {
                assert_eq!(a.channel, b.channel_login, "line {n}");
                assert_eq!(a.text, b.message_text, "line {n}");
                assert_eq!(a.is_action, b.is_action, "line {n}");
                assert_eq!(a.login, b.sender.login, "line {n}");
                assert_eq!(a.user_id.as_deref(), Some(b.sender.id.as_str()), "line {n}");
                assert_eq!(a.display_name, b.sender.name, "line {n}");
                assert_eq!(ours_badges(&a.badges), badges(&b.badges), "line {n}");
                assert_eq!(
                    ours_badges(&a.badge_info),
                    badges(&b.badge_info),
                    "line {n}"
                );
                assert_eq!(a.bits, b.bits, "line {n}");
                assert_eq!(
                    a.message_id.as_deref(),
                    Some(b.message_id.as_str()),
                    "line {n}"
                );
                assert_eq!(
                    a.server_timestamp_ms,
                    Some(b.server_timestamp.timestamp_millis() as u64)
                );
                assert_eq!(
                    a.reply_parent.as_ref().map(|p| p.message_id.clone()),
                    b.reply_parent.as_ref().map(|p| p.message_id.clone()),
                    "line {n}"
                );
                let mut their_emotes: Vec<_> = b.emotes.iter().collect();
                their_emotes.sort_by_key(|e| e.char_range.start);
                assert_eq!(a.emotes.len(), their_emotes.len(), "line {n}");
                let len = a.text.chars().count();
                for (x, y) in a.emotes.iter().zip(their_emotes) {
                    assert_eq!(
                        (x.id.as_str(), x.start),
                        (y.id.as_str(), y.char_range.start),
                        "line {n}"
                    );
                    if y.char_range.end <= len {
                        assert_eq!(
                            (x.end, x.code.as_str()),
                            (y.char_range.end, y.code.as_str()),
                            "line {n}"
                        );
                    } else {
                        // Twitch overran the text: we clamp the range, they keep it.
                        assert_eq!(x.end, len, "line {n}: clamped");
                    }
                }
            }
            (ServerMessage::Usernotice(a), Theirs::UserNotice(b)) => {
                assert_eq!(a.channel, b.channel_login, "line {n}");
                assert_eq!(a.msg_id, b.event_id, "line {n}");
                assert_eq!(
                    a.system_message.as_deref().unwrap_or(""),
                    b.system_message,
                    "line {n}"
                );
                assert_eq!(
                    a.login.as_deref(),
                    Some(b.sender.login.as_str()),
                    "line {n}"
                );
                assert_eq!(a.user_id.as_deref(), Some(b.sender.id.as_str()), "line {n}");
                assert_eq!(ours_badges(&a.badges), badges(&b.badges), "line {n}");
                if a.is_action {
                    // They keep the wrapper; we remove it.
                    let wrapped = format!("\u{1}ACTION {}\u{1}", a.text.as_deref().unwrap());
                    assert_eq!(Some(wrapped), b.message_text, "line {n}");
                } else {
                    assert_eq!(a.text, b.message_text, "line {n}");
                }
            }
            (ServerMessage::ClearChat(a), Theirs::ClearChat(b)) => {
                assert_eq!(a.channel, b.channel_login);
                match b.action {
                    ClearChatAction::ChatCleared => assert!(a.is_chat_cleared(), "line {n}"),
                    ClearChatAction::UserBanned {
                        user_login,
                        user_id,
                    } => {
                        assert!(a.is_permanent_ban(), "line {n}");
                        assert_eq!(a.target_login.as_deref(), Some(user_login.as_str()));
                        assert_eq!(a.target_user_id.as_deref(), Some(user_id.as_str()));
                    }
                    ClearChatAction::UserTimedOut {
                        user_login,
                        timeout_length,
                        ..
                    } => {
                        assert!(a.is_timeout(), "line {n}");
                        assert_eq!(a.target_login.as_deref(), Some(user_login.as_str()));
                        assert_eq!(a.ban_duration_secs, Some(timeout_length.as_secs()));
                    }
                }
            }
            (ServerMessage::ClearMsg(a), Theirs::ClearMsg(b)) => {
                assert_eq!(
                    a.login.as_deref(),
                    Some(b.sender_login.as_str()),
                    "line {n}"
                );
                assert_eq!(a.target_message_id, b.message_id, "line {n}");
                let text = if b.is_action {
                    format!("\u{1}ACTION {}\u{1}", b.message_text)
                } else {
                    b.message_text.clone()
                };
                assert_eq!(a.text, text, "line {n}: we keep CLEARMSG text as sent");
            }
            (ServerMessage::Notice(a), Theirs::Notice(b)) => {
                assert_eq!(a.channel, b.channel_login, "line {n}");
                assert_eq!(a.msg_id, b.message_id, "line {n}");
                assert_eq!(a.text, b.message_text, "line {n}");
            }
            (ServerMessage::RoomState(a), Theirs::RoomState(b)) => {
                assert_eq!(a.channel, b.channel_login, "line {n}");
                assert_eq!(a.emote_only, b.emote_only, "line {n}");
                assert_eq!(a.r9k, b.r9k, "line {n}");
                assert_eq!(a.subscribers_only, b.subscribers_only, "line {n}");
                assert_eq!(
                    a.slow_mode_secs,
                    b.slow_mode.map(|d| d.as_secs()),
                    "line {n}"
                );
            }
            (ServerMessage::UserState(a), Theirs::UserState(b)) => {
                assert_eq!(a.channel, b.channel_login, "line {n}");
                assert_eq!(ours_badges(&a.badges), badges(&b.badges), "line {n}");
                assert_eq!(a.emote_sets.len(), b.emote_sets.len(), "line {n}");
            }
            (ServerMessage::GlobalUserState(a), Theirs::GlobalUserState(b)) => {
                assert_eq!(a.user_id.as_deref(), Some(b.user_id.as_str()), "line {n}");
                assert_eq!(a.emote_sets.len(), b.emote_sets.len(), "line {n}");
            }
            (ServerMessage::Whisper(a), Theirs::Whisper(b)) => {
                assert_eq!(
                    (a.login.as_str(), a.recipient.as_str()),
                    (b.sender.login.as_str(), b.recipient_login.as_str())
                );
                assert_eq!(a.text, b.message_text, "line {n}");
                assert_eq!(a.emotes.len(), b.emotes.len(), "line {n}");
            }
            (ServerMessage::Join(a), Theirs::Join(b)) => {
                assert_eq!(
                    (a.channel.as_str(), a.login.as_str()),
                    (b.channel_login.as_str(), b.user_login.as_str())
                );
            }
            (ServerMessage::Part(a), Theirs::Part(b)) => {
                assert_eq!(
                    (a.channel.as_str(), a.login.as_str()),
                    (b.channel_login.as_str(), b.user_login.as_str())
                );
            }
            (ServerMessage::Reconnect, Theirs::Reconnect(_)) => {}
            (ServerMessage::Ping(a), Theirs::Ping(b)) => {
                assert_eq!(a.params, b.source.params, "line {n}");
            }
            (ServerMessage::Pong(a), Theirs::Pong(b)) => {
                assert_eq!(a.params, b.source.params, "line {n}");
            }
            // twitch-irc has no typed CAP, numerics or MODE: it keeps them generic.
            (
                ServerMessage::Cap(_) | ServerMessage::Numeric(_) | ServerMessage::Unknown(_),
                Theirs::Generic(_),
            ) => {}
            (a, b) => panic!("line {n}: kinds differ: ours {} vs theirs {b:?}", a.kind()),
        }
        compared += 1;
    }
    assert_eq!(compared, 64);
}
