//! Chat commands: `!name args`, with per-user and global cooldowns and a moderators-only flag.
//!
//! A message runs a command when its **first word** (after normalisation, so case and invisible
//! characters do not matter) is one of the command's keywords. The rest of the message, trimmed
//! and without invisible characters but with its case kept, is the command's `args`.
//!
//! A command runs only when:
//! * it is not `mods_only`, or the sender is a moderator or the channel's broadcaster;
//! * its global cooldown has passed since it last ran for anyone;
//! * its per-user cooldown has passed since it last ran for this user (keyed by user id, or login
//!   without tags).
//!
//! Refused invocations are dropped silently (logged at `debug`) and do not restart a cooldown.
//! The per-user memory is pruned of expired entries, so it stays bounded by the number of users
//! active within one cooldown.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use twitch_bot::chatplay::{CommandConfig, Commands};
//! # use twitch_bot::chatplay::ChatMessage;
//! # fn chat(login: &str, text: &str) -> ChatMessage<'static> {
//! #     let mut m = ChatMessage::new("chan", login.to_owned(), text.to_owned());
//! #     m.user_id = Some(format!("id-{login}").into());
//! #     m
//! # }
//!
//! let mut jump = CommandConfig::new("jump", ["!jump"]);
//! jump.cooldown_secs = 5.0;
//! let mut commands = Commands::new(&[jump]).unwrap();
//! let t0 = Instant::now();
//! let run = commands.handle(&chat("ann", "!JUMP high"), t0).unwrap();
//! assert_eq!((run.command.as_str(), run.args.as_str()), ("jump", "high"));
//! assert!(commands.handle(&chat("ann", "!jump"), t0 + Duration::from_secs(1)).is_none()); // cooling down
//! assert!(commands.handle(&chat("bob", "!jump"), t0 + Duration::from_secs(1)).is_some()); // per user
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::config::{self, CommandConfig, ConfigError, MAX_OPTION_LEN};
use super::event::CommandInvocation;
use super::message::ChatMessage;
use super::normalize::{is_invisible, normalize_into, normalized};

/// Per-user memory above this size is pruned of expired entries.
const PRUNE_AT: usize = 4096;

#[derive(Debug)]
struct Command {
    name: String,
    keywords: Vec<(String, String)>, // (as configured, normalised)
    per_user: Duration,
    global: Duration,
    mods_only: bool,
    last_global: Option<Instant>,
    last_by_user: HashMap<String, Instant>,
    prune_at: usize,
}

/// The chat-command matcher; see the [module docs](self).
#[derive(Debug)]
pub struct Commands {
    commands: Vec<Command>,
    buf: String,
}

impl Commands {
    /// Builds the matcher from validated configurations (duplicate names or keywords refused).
    ///
    /// ```
    /// let c = twitch_bot::chatplay::Commands::new(&[]).unwrap();
    /// assert_eq!(c.len(), 0);
    /// ```
    pub fn new(configs: &[CommandConfig]) -> Result<Self, ConfigError> {
        let mut all = super::config::EngineConfig::new("x");
        all.commands = configs.to_vec();
        all.validate()?;
        let commands = configs
            .iter()
            .map(|c| {
                Ok(Command {
                    name: c.name.clone(),
                    keywords: c
                        .keywords
                        .iter()
                        .map(|k| (k.clone(), normalized(k)))
                        .collect(),
                    per_user: config::cooldown_duration(&c.name, c.cooldown_secs)?,
                    global: config::cooldown_duration(&c.name, c.global_cooldown_secs)?,
                    mods_only: c.mods_only,
                    last_global: None,
                    last_by_user: HashMap::new(),
                    prune_at: PRUNE_AT,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            commands,
            buf: String::new(),
        })
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// True without commands.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Runs `msg` through the commands: the invocation, when one matched and passed its checks.
    pub fn handle(&mut self, msg: &ChatMessage<'_>, now: Instant) -> Option<CommandInvocation> {
        if self.commands.is_empty() {
            return None;
        }
        let (word, rest) = first_word(&msg.text)?;
        if !normalize_into(word, &mut self.buf, MAX_OPTION_LEN) {
            return None;
        }
        let folded = self.buf.as_str();
        let command = self
            .commands
            .iter_mut()
            .find(|c| c.keywords.iter().any(|(_, k)| k == folded))?;
        let keyword = command
            .keywords
            .iter()
            .find(|(_, k)| k == folded)
            .map(|(k, _)| k.clone())
            .unwrap_or_default();
        if command.mods_only && !msg.roles.is_privileged() {
            tracing::debug!(command = %command.name, user = %msg.login, "mods-only command refused");
            return None;
        }
        if let Some(last) = command.last_global
            && now < last + command.global
        {
            tracing::debug!(command = %command.name, "global cooldown");
            return None;
        }
        let user_key = match &msg.user_id {
            Some(id) => format!("id:{id}"),
            None => format!("login:{}", msg.login),
        };
        if let Some(&last) = command.last_by_user.get(&user_key)
            && now < last + command.per_user
        {
            tracing::debug!(command = %command.name, user = %msg.login, "user cooldown");
            return None;
        }
        command.last_global = Some(now);
        if !command.per_user.is_zero() {
            command.last_by_user.insert(user_key, now);
            if command.last_by_user.len() > command.prune_at {
                let per_user = command.per_user;
                command.last_by_user.retain(|_, t| now < *t + per_user);
                command.prune_at = (command.last_by_user.len() * 2).max(PRUNE_AT);
            }
        }
        Some(CommandInvocation {
            command: command.name.clone(),
            keyword,
            channel: msg.channel.to_string(),
            user: msg.login.to_string(),
            user_id: msg.user_id.as_deref().map(str::to_owned),
            args: rest
                .chars()
                .filter(|&c| !is_invisible(c))
                .collect::<String>()
                .trim()
                .to_owned(),
        })
    }
}

/// The first word (skipping leading whitespace and invisible characters) and what follows it.
pub(crate) fn first_word(text: &str) -> Option<(&str, &str)> {
    let text = super::normalize::unwrap_action(text);
    let start = text.find(|c: char| !c.is_whitespace() && !is_invisible(c))?;
    let text = &text[start..];
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    Some((&text[..end], &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chatplay::test_support::chat;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn first_word_and_args() {
        assert_eq!(
            first_word("  \u{E0000} !jump  a b "),
            Some(("!jump", "  a b "))
        );
        assert_eq!(first_word("!jump"), Some(("!jump", "")));
        assert_eq!(first_word(" \u{200B} "), None);
        let mut c = Commands::new(&[CommandConfig::new("jump", ["!jump", "!j"])]).unwrap();
        let t = Instant::now();
        let r = c
            .handle(&chat("ann", "!J  Over The Wall \u{E0000}"), t)
            .unwrap();
        assert_eq!(r.args, "Over The Wall");
        assert_eq!(r.keyword, "!j");
        assert_eq!(r.user_id.as_deref(), Some("id-ann"));
        assert!(c.handle(&chat("ann", "!jumpy"), t).is_none());
        assert!(c.handle(&chat("ann", "say !jump"), t).is_none());
    }

    #[test]
    fn mods_only_lets_moderators_and_the_broadcaster() {
        let mut cfg = CommandConfig::new("reset", ["!reset"]);
        cfg.mods_only = true;
        let mut c = Commands::new(&[cfg]).unwrap();
        let t = Instant::now();
        assert!(c.handle(&chat("ann", "!reset"), t).is_none());
        let mut m = chat("mod", "!reset");
        m.roles.moderator = true;
        assert!(c.handle(&m, t).is_some());
        let mut b = chat("owner", "!reset");
        b.roles.broadcaster = true;
        assert!(c.handle(&b, t).is_some());
    }

    #[test]
    fn per_user_and_global_cooldowns() {
        let mut cfg = CommandConfig::new("jump", ["!jump"]);
        cfg.cooldown_secs = 10.0;
        cfg.global_cooldown_secs = 2.5;
        let mut c = Commands::new(&[cfg]).unwrap();
        let t = Instant::now();
        assert!(c.handle(&chat("ann", "!jump"), t).is_some());
        assert!(
            c.handle(&chat("bob", "!jump"), t + secs(2.4)).is_none(),
            "global"
        );
        assert!(c.handle(&chat("bob", "!jump"), t + secs(2.5)).is_some());
        assert!(
            c.handle(&chat("ann", "!jump"), t + secs(9.9)).is_none(),
            "per user"
        );
        assert!(c.handle(&chat("ann", "!jump"), t + secs(10.0)).is_some());
        // login-keyed without tags
        let mut anon = chat("carl", "!jump");
        anon.user_id = None;
        assert!(c.handle(&anon, t + secs(20.0)).is_some());
        assert!(c.handle(&anon, t + secs(25.0)).is_none());
    }

    #[test]
    fn per_user_memory_is_pruned() {
        let mut cfg = CommandConfig::new("jump", ["!jump"]);
        cfg.cooldown_secs = 1.0;
        let mut c = Commands::new(&[cfg]).unwrap();
        let t = Instant::now();
        for i in 0..20_000u32 {
            let when = t + Duration::from_millis(u64::from(i));
            assert!(c.handle(&chat(&format!("u{i}"), "!jump"), when).is_some());
        }
        assert!(c.commands[0].last_by_user.len() <= 2 * PRUNE_AT + 1);
    }
}
