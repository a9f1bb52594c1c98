//! The bot's TOML configuration: what to connect to, which channels to join, which votes and commands to run.
//!
//! The keys are a contract (external tools and tests write these files); see `config/bot.toml` for a commented
//! example. Loading is strict: an unknown key, a wrong type or an impossible value (empty options, duplicate
//! names, a zero window, ...) is rejected before anything connects, and the error names the file, the line and
//! the key, e.g.
//!
//! ```text
//! config/bot.toml:14: key `vote[1].window_secs`: must be a number of seconds greater than 0 (got 0)
//! ```
//!
//! The OAuth token never appears in a config file: `connection.token_env` names the environment variable that
//! holds it, and [`Token`] masks it in `Debug` output.
//!
//! ```
//! use twitch_bot::config::{Config, Mode};
//!
//! let config = Config::from_toml_str(
//!     r#"
//! [connection]
//! channels = ["somechannel"]
//!
//! [[vote]]
//! name = "move"
//! options = ["up", "down"]
//! window_secs = 2.5
//! "#,
//!     "inline.toml",
//! )?;
//! assert_eq!(config.connection.server, "wss://irc-ws.chat.twitch.tv:443");
//! assert_eq!(config.votes[0].window_secs, 2.5);
//! assert_eq!(config.votes[0].mode, Mode::Democracy);
//! # Ok::<(), twitch_bot::config::ConfigError>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The Twitch chat WebSocket endpoint, used when `connection.server` is not set.
pub const DEFAULT_SERVER: &str = "wss://irc-ws.chat.twitch.tv:443";
/// The environment variable read for the OAuth token when `connection.token_env` is not set.
pub const DEFAULT_TOKEN_ENV: &str = "TWITCH_OAUTH_TOKEN";
/// The configuration `twitch_bot --demo` runs with (the text of `config/demo.toml`, embedded at build time).
pub const DEMO_TOML: &str = include_str!("../../config/demo.toml");

/// Longest accepted vote window (one hour): a longer round is almost certainly a typo (milliseconds?).
const MAX_WINDOW_SECS: f64 = 3600.0;
/// Longest accepted command cooldown (one day).
const MAX_COOLDOWN_SECS: f64 = 86_400.0;
/// Largest config file read (1 MiB).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Largest accepted `max_repeat` (Twitch Plays used 1 to 9).
const MAX_REPEAT: u32 = 9;
/// `window_secs` when the key is absent.
const DEFAULT_WINDOW_SECS: f64 = 20.0;
/// Largest accepted `max_voters` (100 million: far above any audience, and still a bound).
const MAX_VOTERS_LIMIT: u64 = 100_000_000;
/// Default `connection.ping_idle_secs`: our own PING after this long without a line from the server.
pub const DEFAULT_PING_IDLE_SECS: f64 = 60.0;
/// Default `connection.pong_timeout_secs`: how long a PING may stay unanswered before reconnecting.
pub const DEFAULT_PONG_TIMEOUT_SECS: f64 = 10.0;
/// Largest accepted `ping_idle_secs` (Twitch itself PINGs about every 5 minutes; longer would never fire).
const MAX_PING_IDLE_SECS: f64 = 600.0;
/// Largest accepted `pong_timeout_secs`.
const MAX_PONG_TIMEOUT_SECS: f64 = 300.0;

/// A whole bot configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[connection]`: server, credentials and channels.
    pub connection: ConnectionConfig,
    /// `[[vote]]` tables, in file order.
    pub votes: Vec<VoteConfig>,
    /// `[[command]]` tables, in file order (plus the mods-only pause/resume commands keyboard output adds).
    pub commands: Vec<CommandConfig>,
    /// `[server]`: the local HTTP + WebSocket server (overlay, `/ws` API); `None` (off) unless the table
    /// is present. See [`crate::server`].
    pub server: Option<crate::server::ServerConfig>,
    /// `[auth]`: the app's client id and the token store (see [`crate::auth`]).
    pub auth: crate::auth::config::AuthConfig,
    /// `[twitch]`: Twitch's endpoints (identity server, API).
    pub twitch: crate::auth::config::TwitchConfig,
    /// `[output]` and the `[[key]]` bindings (see [`crate::output::config`]).
    pub output: crate::output::config::OutputConfig,
    /// `[[reward]]` tables: channel-points rewards as game input (see [`crate::chatplay::reward`]).
    pub rewards: Vec<crate::chatplay::RewardConfig>,
    /// `[chatplay] count_shared_chat`: whether chat from other channels of a shared chat session plays
    /// (default `false`).
    pub count_shared_chat: bool,
}

/// The `[connection]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionConfig {
    /// `server`: a `ws://` or `wss://` URL (default [`DEFAULT_SERVER`]).
    pub server: String,
    /// `ca_file`: an extra trusted CA certificate (PEM), for self-hosted or test servers. A relative path is
    /// resolved against the config file's directory.
    pub ca_file: Option<PathBuf>,
    /// `nick`: the bot account's login (a [`Login`]: checked when made, so no CR, LF or NUL can reach the
    /// `NICK` line, even through this public field). `None` means anonymous, read-only (`justinfan...`).
    pub nick: Option<Login>,
    /// `token_env`: the environment variable holding the OAuth token (default [`DEFAULT_TOKEN_ENV`]).
    pub token_env: String,
    /// `channels`: channel logins to join ([`Login`]s: lowercase, without `#`).
    pub channels: Vec<Login>,
    /// `ping_idle_secs`: after this long without any line from the server the bot sends its own `PING`, to
    /// find out whether a quiet connection is dead (default [`DEFAULT_PING_IDLE_SECS`]; more than 0, at most
    /// 600, fractional allowed).
    pub ping_idle: Duration,
    /// `pong_timeout_secs`: when that `PING` gets no `PONG` within this, the connection counts as dead and the
    /// bot reconnects (`disconnected` reason "no PONG from the server in time"; default
    /// [`DEFAULT_PONG_TIMEOUT_SECS`]; more than 0, at most 300, fractional allowed).
    pub pong_timeout: Duration,
    /// `transport`: how chat is read and sent, `"irc"` (default) or `"eventsub"` (see [`Transport`]).
    pub transport: Transport,
}

/// `connection.transport`: which Twitch interface delivers chat. The engine, the events, the votes and the
/// commands are the same over both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Twitch IRC over WebSocket (`connection.server`): a token with `chat:read chat:edit`, or anonymous.
    #[default]
    Irc,
    /// EventSub over WebSocket (`[twitch] eventsub_url`) plus Helix (`[twitch] api_url`) for subscriptions and
    /// sending: a user token with `user:read:chat user:write:chat` and `[auth] client_id` (see
    /// [`crate::eventsub`]).
    EventSub,
}

// The `[[vote]]` and `[[command]]` tables are read straight into the ChatPlay engine's own types: one
// definition of a vote, whether it comes from this file or from a game that builds it in code.
pub use crate::chatplay::{CommandConfig, Mode, Start, TieBreak, VoteConfig};
use crate::chatplay::{MAX_TALLY_INTERVAL_SECS, MIN_TALLY_INTERVAL_SECS};
pub use crate::irc::Login;

/// An OAuth token read from the environment. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token. A leading `oauth:` is removed (the session adds it on the wire), surrounding whitespace
    /// trimmed. The value is [registered](crate::secret::register) as a secret, so no log line can show it.
    ///
    /// ```
    /// let t = twitch_bot::config::Token::new("oauth:abc123");
    /// assert_eq!(t.secret(), "abc123");
    /// assert_eq!(format!("{t:?}"), "Token(***)");
    /// ```
    pub fn new(raw: &str) -> Token {
        let raw = raw.trim();
        crate::secret::register(raw);
        Token(raw.strip_prefix("oauth:").unwrap_or(raw).to_owned())
    }

    /// The token itself, for the `PASS` line only. Never log it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: TOML syntax error: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// A key is unknown, has the wrong type, is missing, or holds an impossible value.
    #[error("{}:{line}: key `{key}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key's path, e.g. `vote[2].window_secs` (arrays of tables are counted from 1).
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line the error points at, if it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { line, .. } | ConfigError::Invalid { line, .. } => Some(*line),
        }
    }

    /// The key the error names, if it names one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Raw (as written) form, with spans for error messages.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    connection: Option<Spanned<RawConnection>>,
    #[serde(default)]
    vote: Vec<Spanned<RawVote>>,
    #[serde(default)]
    command: Vec<Spanned<RawCommand>>,
    server: Option<Spanned<crate::server::config::RawServer>>,
    auth: Option<crate::auth::config::RawAuth>,
    twitch: Option<crate::auth::config::RawTwitch>,
    output: Option<Spanned<crate::output::config::RawOutput>>,
    #[serde(default)]
    key: Vec<Spanned<crate::output::config::RawKey>>,
    chatplay: Option<crate::chatplay::bot_config::RawChatplay>,
    #[serde(default)]
    reward: Vec<Spanned<crate::chatplay::bot_config::RawReward>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    server: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    nick: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
    #[serde(default)]
    channels: Vec<Spanned<String>>,
    ping_idle_secs: Option<Spanned<f64>>,
    pong_timeout_secs: Option<Spanned<f64>>,
    transport: Option<Transport>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVote {
    name: Spanned<String>,
    options: Spanned<Vec<Spanned<String>>>,
    mode: Option<Mode>,
    window_secs: Option<Spanned<f64>>,
    start: Option<Start>,
    min_voters: Option<Spanned<u32>>,
    tie: Option<TieBreak>,
    max_repeat: Option<Spanned<u32>>,
    announce: Option<bool>,
    anarchy_cooldown_secs: Option<Spanned<f64>>,
    max_voters: Option<Spanned<u64>>,
    channels: Option<Vec<Spanned<String>>>,
    tally_interval_secs: Option<Spanned<f64>>,
    bits_per_vote: Option<Spanned<u64>>,
    max_weight_per_user: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    name: Spanned<String>,
    keywords: Option<Spanned<Vec<Spanned<String>>>>,
    cooldown_secs: Option<Spanned<f64>>,
    global_cooldown_secs: Option<Spanned<f64>>,
    mods_only: Option<bool>,
}

impl Config {
    /// Reads and validates the file at `path`.
    ///
    /// Relative `ca_file` paths are resolved against `path`'s directory. The token is not read here (see
    /// [`Config::token`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let read_error = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        // A config is a few KiB; refuse to read something huge (a wrong path such as a log or a device).
        let len = std::fs::metadata(path).map_err(read_error)?.len();
        if len > MAX_CONFIG_BYTES {
            return Err(read_error(std::io::Error::other(format!(
                "the file is {len} bytes; a config is at most {MAX_CONFIG_BYTES}"
            ))));
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        let mut config = Config::from_toml_str(&text, path)?;
        if let Some(ca) = &config.connection.ca_file
            && ca.is_relative()
            && let Some(dir) = path.parent()
        {
            config.connection.ca_file = Some(dir.join(ca));
        }
        if let Some(f) = &config.auth.token_file
            && f.is_relative()
            && let Some(dir) = path.parent()
        {
            config.auth.token_file = Some(dir.join(f));
        }
        Ok(config)
    }

    /// Parses and validates TOML text; `path` is only used in error messages.
    pub fn from_toml_str(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        // Syntax first (so a syntax error is not reported as a wrong key), then shape.
        toml::from_str::<toml::Table>(text).map_err(|e| syntax_error(text, path, &e))?;
        let raw: RawConfig = toml::from_str(text).map_err(|e| serde_error(text, path, &e))?;
        Validator { text, path }.validate(raw)
    }

    /// The configuration of `twitch_bot --demo` (the embedded `config/demo.toml`); its server is a placeholder
    /// the demo replaces with its own address.
    pub fn demo() -> Config {
        Config::from_toml_str(DEMO_TOML, "config/demo.toml")
            .expect("the embedded demo config is valid")
    }

    /// Reads the token from the environment variable named by `connection.token_env`. `None` when it is unset
    /// or empty.
    pub fn token(&self) -> Option<Token> {
        std::env::var(&self.connection.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| Token::new(&t))
    }

    /// The ChatPlay engine's configuration for these votes and commands, for a bot logged in as `bot_login`
    /// (its own messages never count).
    pub fn engine_config(&self, bot_login: &str) -> crate::chatplay::EngineConfig {
        let mut ec = crate::chatplay::EngineConfig::new(bot_login);
        ec.votes.extend(self.votes.iter().cloned());
        ec.commands.extend(self.commands.iter().cloned());
        ec.rewards.extend(self.rewards.iter().cloned());
        ec.count_shared_chat = self.count_shared_chat;
        ec
    }

    /// The vote named `name`.
    pub fn vote(&self, name: &str) -> Option<&VoteConfig> {
        self.votes.iter().find(|v| v.name == name)
    }
}

/// 1-based line and column of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text.as_bytes()[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = text[line_start..]
        .char_indices()
        .take_while(|(i, _)| line_start + i < at)
        .count()
        + 1;
    (line, column)
}

/// The table an offset belongs to, as a key prefix: `connection`, `vote[2]`, or `` for the root.
fn table_path(text: &str, at: usize) -> String {
    let mut current = String::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > at {
            break;
        }
        let trimmed = line.trim();
        if let Some(inner) = trimmed
            .strip_prefix("[[")
            .and_then(|s| s.split("]]").next())
        {
            let name = inner.trim().to_owned();
            let n = match counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counts.push((name.clone(), 1));
                    1
                }
            };
            current = format!("{name}[{n}]");
        } else if let Some(inner) = trimmed.strip_prefix('[').and_then(|s| s.split(']').next()) {
            current = inner.trim().to_owned();
        }
        offset += line.len();
    }
    current
}

/// The key written on the line containing `at` (the text before `=`), if any.
fn key_on_line(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = &text[start..end];
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[') && !key.starts_with('#')).then(|| key.to_owned())
}

fn join_key(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_owned()
    } else {
        format!("{table}.{key}")
    }
}

/// A TOML syntax error (the text is not TOML at all).
fn syntax_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
    ConfigError::Syntax {
        path: path.to_owned(),
        line,
        column,
        message: e.message().trim().to_owned(),
    }
}

/// A shape error (unknown key, wrong type, missing key) turned into a [`ConfigError`] naming line and key.
fn serde_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_owned();
    let at = e.span().map_or(0, |s| s.start);
    let line = line_col(text, at).0;
    // Keys named in the message itself ("unknown field `x`", "missing field `x`").
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| {
            message
                .split_once(p)
                .and_then(|(_, rest)| rest.split('`').next())
        })
        .map(str::to_owned);
    let table = table_path(text, at);
    let key = named.or_else(|| key_on_line(text, at)).map_or_else(
        || {
            if table.is_empty() {
                "(root)".to_owned()
            } else {
                table.clone()
            }
        },
        |k| join_key(&table, &k),
    );
    ConfigError::Invalid {
        path: path.to_owned(),
        line,
        key,
        message: explain(&message),
    }
}

/// Rewrites serde's wording where it helps the reader.
fn explain(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or_default();
        if ["token", "oauth", "password", "pass", "oauth_token"].contains(&key) {
            return format!(
                "{message}. The token never goes in the config file: put it in an environment variable and name \
                 that variable with `token_env` (default {DEFAULT_TOKEN_ENV})"
            );
        }
        // serde lists the allowed keys already ("expected one of ..."); keep it.
        return message.to_owned();
    }
    if message.contains("expected u32") {
        return format!("{message} (a whole number from 0 to 4294967295)");
    }
    message.to_owned()
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn err(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: line_col(self.text, span.start).0,
            key: key.into(),
            message: message.into(),
        }
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let connection = match raw.connection {
            Some(c) => self.connection(c.into_inner())?,
            None => ConnectionConfig {
                server: DEFAULT_SERVER.to_owned(),
                ca_file: None,
                nick: None,
                token_env: DEFAULT_TOKEN_ENV.to_owned(),
                channels: Vec::new(),
                ping_idle: Duration::from_secs_f64(DEFAULT_PING_IDLE_SECS),
                pong_timeout: Duration::from_secs_f64(DEFAULT_PONG_TIMEOUT_SECS),
                transport: Transport::Irc,
            },
        };
        let mut votes = Vec::new();
        let mut vote_names = HashSet::new();
        for (i, v) in raw.vote.into_iter().enumerate() {
            let key = format!("vote[{}]", i + 1);
            let span = v.span();
            let vote = self.vote(v.into_inner(), &key)?;
            // The engine's own checks (e.g. options equal after its normalisation), reported at this table.
            if let Err(e) = vote.validate() {
                return Err(self.err(span.clone(), key.clone(), e.to_string()));
            }
            if !vote_names.insert(vote.name.clone()) {
                return Err(self.err(
                    span,
                    format!("{key}.name"),
                    format!("duplicate vote name `{}`", vote.name),
                ));
            }
            votes.push(vote);
        }
        let mut commands = Vec::new();
        let mut command_names = HashSet::new();
        let mut keywords = HashSet::new();
        for (i, c) in raw.command.into_iter().enumerate() {
            let key = format!("command[{}]", i + 1);
            let span = c.span();
            let command = self.command(c.into_inner(), &key)?;
            if let Err(e) = command.validate() {
                return Err(self.err(span.clone(), key.clone(), e.to_string()));
            }
            if !command_names.insert(command.name.clone()) {
                return Err(self.err(
                    span,
                    format!("{key}.name"),
                    format!("duplicate command name `{}`", command.name),
                ));
            }
            for k in &command.keywords {
                if !keywords.insert(k.clone()) {
                    return Err(self.err(
                        span.clone(),
                        format!("{key}.keywords"),
                        format!("keyword `{k}` is already used by another command"),
                    ));
                }
            }
            commands.push(command);
        }
        let server = match raw.server {
            Some(s) => {
                let span = s.span();
                Some(
                    crate::server::config::validate(s.into_inner(), span)
                        .map_err(|(span, key, message)| self.err(span, key, message))?,
                )
            }
            None => None,
        };
        let (auth, twitch) =
            crate::auth::config::validate(raw.auth, raw.twitch, |span, key, message| {
                self.err(span, key, message)
            })?;
        let err = |span, key, message| self.err(span, key, message);
        let output =
            crate::output::config::validate(raw.output, raw.key, &votes, &mut commands, &err)?;
        let rewards = crate::chatplay::bot_config::rewards(raw.reward, &votes, &err)?;
        let count_shared_chat = crate::chatplay::bot_config::count_shared_chat(raw.chatplay);
        Ok(Config {
            rewards,
            count_shared_chat,
            connection,
            votes,
            commands,
            server,
            auth,
            twitch,
            output,
        })
    }

    fn connection(&self, c: RawConnection) -> Result<ConnectionConfig, ConfigError> {
        let server = match c.server {
            Some(s) => {
                let url = s.get_ref().trim();
                let rest = url
                    .strip_prefix("wss://")
                    .or_else(|| url.strip_prefix("ws://"));
                match rest {
                    Some(rest)
                        if !rest.is_empty()
                            && !rest.starts_with('/')
                            && !rest.contains(char::is_whitespace) =>
                    {
                        url.to_owned()
                    }
                    _ => {
                        return Err(self.err(
                            s.span(),
                            "connection.server",
                            format!("`{url}` is not a ws:// or wss:// URL with a host (e.g. {DEFAULT_SERVER})"),
                        ));
                    }
                }
            }
            None => DEFAULT_SERVER.to_owned(),
        };
        let ca_file = match c.ca_file {
            Some(f) if f.get_ref().trim().is_empty() => {
                return Err(self.err(
                    f.span(),
                    "connection.ca_file",
                    "is empty: give a PEM file path or remove the key",
                ));
            }
            Some(f) => Some(PathBuf::from(f.into_inner())),
            None => None,
        };
        let nick = match c.nick {
            Some(n) => {
                let login = Login::new(n.get_ref()).ok();
                let Some(nick) = login.filter(|_| !n.get_ref().trim().starts_with('#')) else {
                    return Err(self.err(
                        n.span(),
                        "connection.nick",
                        format!(
                            "`{}` is not a Twitch login (1 to 25 letters, digits or `_`)",
                            n.get_ref()
                        ),
                    ));
                };
                Some(nick)
            }
            None => None,
        };
        let token_env = match c.token_env {
            Some(t) => {
                let name = t.get_ref();
                if name.is_empty()
                    || name.starts_with(|c: char| c.is_ascii_digit())
                    || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(self.err(
                        t.span(),
                        "connection.token_env",
                        format!(
                            "`{name}` is not an environment variable name (letters, digits, `_`); put the variable's \
                             NAME here, never the token itself"
                        ),
                    ));
                }
                t.into_inner()
            }
            None => DEFAULT_TOKEN_ENV.to_owned(),
        };
        let mut channels: Vec<Login> = Vec::new();
        for ch in c.channels {
            let Ok(name) = Login::new(ch.get_ref()) else {
                return Err(self.err(
                    ch.span(),
                    "connection.channels",
                    format!(
                        "`{}` is not a channel login (1 to 25 letters, digits or `_`, optional leading `#`)",
                        ch.get_ref()
                    ),
                ));
            };
            if channels.contains(&name) {
                return Err(self.err(
                    ch.span(),
                    "connection.channels",
                    format!("channel `{name}` is listed twice"),
                ));
            }
            channels.push(name);
        }
        let ping_idle = self.positive_secs(
            c.ping_idle_secs,
            "connection.ping_idle_secs",
            DEFAULT_PING_IDLE_SECS,
            MAX_PING_IDLE_SECS,
        )?;
        let pong_timeout = self.positive_secs(
            c.pong_timeout_secs,
            "connection.pong_timeout_secs",
            DEFAULT_PONG_TIMEOUT_SECS,
            MAX_PONG_TIMEOUT_SECS,
        )?;
        Ok(ConnectionConfig {
            server,
            ca_file,
            nick,
            token_env,
            channels,
            ping_idle,
            pong_timeout,
            transport: c.transport.unwrap_or_default(),
        })
    }

    /// A duration in seconds: more than 0, at most `max`, finite; `default` when absent.
    fn positive_secs(
        &self,
        value: Option<Spanned<f64>>,
        key: &str,
        default: f64,
        max: f64,
    ) -> Result<Duration, ConfigError> {
        let Some(s) = value else {
            return Ok(Duration::from_secs_f64(default));
        };
        let secs = *s.get_ref();
        // At least a millisecond, so that it is a usable timer (0.0001 would round to nothing useful).
        if !secs.is_finite() || secs < 0.001 || secs > max {
            return Err(self.err(
                s.span(),
                key,
                format!(
                    "must be a number of seconds greater than 0 and at most {max} (got {secs})"
                ),
            ));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    fn vote(&self, v: RawVote, key: &str) -> Result<VoteConfig, ConfigError> {
        let name_span = v.name.span();
        let name = v.name.get_ref().trim().to_owned();
        if !is_name(&name) {
            return Err(self.err(
                v.name.span(),
                format!("{key}.name"),
                format!(
                    "`{}` is not a name (letters, digits, `_` or `-`, no spaces)",
                    v.name.get_ref()
                ),
            ));
        }
        let options_span = v.options.span();
        let raw_options = v.options.into_inner();
        if raw_options.is_empty() {
            return Err(self.err(
                options_span,
                format!("{key}.options"),
                "is empty: list at least one option",
            ));
        }
        let max_repeat = match v.max_repeat {
            Some(m) if !(1..=MAX_REPEAT).contains(m.get_ref()) => {
                return Err(self.err(
                    m.span(),
                    format!("{key}.max_repeat"),
                    format!("must be from 1 to {MAX_REPEAT} (got {})", m.get_ref()),
                ));
            }
            Some(m) => m.into_inner() as u8, // 1..=9, checked above
            None => 1,
        };
        let options = self.words(raw_options, &format!("{key}.options"), "option", true)?;
        let window_secs = match v.window_secs {
            Some(w) => {
                let secs = *w.get_ref();
                if !secs.is_finite() || secs <= 0.0 || secs > MAX_WINDOW_SECS {
                    return Err(self.err(
                        w.span(),
                        format!("{key}.window_secs"),
                        format!("must be a number of seconds greater than 0 and at most {MAX_WINDOW_SECS} (got {secs})"),
                    ));
                }
                secs
            }
            None => DEFAULT_WINDOW_SECS,
        };
        let anarchy_cooldown_secs = self.cooldown(
            v.anarchy_cooldown_secs,
            &format!("{key}.anarchy_cooldown_secs"),
        )?;
        let max_voters = match v.max_voters {
            Some(m) if *m.get_ref() == 0 || *m.get_ref() > MAX_VOTERS_LIMIT => {
                return Err(self.err(
                    m.span(),
                    format!("{key}.max_voters"),
                    format!("must be from 1 to {MAX_VOTERS_LIMIT} (got {})", m.get_ref()),
                ));
            }
            Some(m) => m.into_inner() as usize,
            None => crate::chatplay::DEFAULT_MAX_VOTERS,
        };
        let min_voters = match v.min_voters {
            Some(m) if *m.get_ref() == 0 => {
                return Err(self.err(
                    m.span(),
                    format!("{key}.min_voters"),
                    "must be at least 1 (got 0): a round without ballots never has a winner",
                ));
            }
            Some(m) => m.into_inner(),
            None => 1,
        };
        let mut channels = Vec::new();
        for c in v.channels.unwrap_or_default() {
            let login = normalize_channel(c.get_ref());
            if !is_login(&login) {
                return Err(self.err(
                    c.span(),
                    format!("{key}.channels"),
                    format!(
                        "`{}` is not a channel login (1 to 25 of a-z, 0-9, `_`)",
                        c.get_ref()
                    ),
                ));
            }
            channels.push(login);
        }
        let tally_interval_secs = match v.tally_interval_secs {
            Some(t) => {
                let secs = *t.get_ref();
                let ok = secs == 0.0
                    || (secs.is_finite()
                        && (MIN_TALLY_INTERVAL_SECS..=MAX_TALLY_INTERVAL_SECS).contains(&secs));
                if !ok {
                    return Err(self.err(
                        t.span(),
                        format!("{key}.tally_interval_secs"),
                        format!(
                            "must be 0 (off) or a number of seconds from {MIN_TALLY_INTERVAL_SECS} to \
                             {MAX_TALLY_INTERVAL_SECS} (got {secs}; shorter would flood the event reader)"
                        ),
                    ));
                }
                secs
            }
            None => 0.0,
        };
        let mut vote = VoteConfig::new(name, options);
        vote.mode = v.mode.unwrap_or_default();
        vote.window_secs = window_secs;
        vote.start = v.start.unwrap_or_default();
        vote.min_voters = min_voters;
        vote.tie = v.tie.unwrap_or_default();
        vote.max_repeat = max_repeat;
        vote.announce = v.announce.unwrap_or(true);
        vote.anarchy_cooldown_secs = anarchy_cooldown_secs;
        vote.max_voters = max_voters;
        vote.channels = channels;
        vote.tally_interval_secs = tally_interval_secs;
        let weights = crate::chatplay::bot_config::RawWeights {
            bits_per_vote: v.bits_per_vote,
            max_weight_per_user: v.max_weight_per_user,
        };
        let err = |span, key, message| self.err(span, key, message);
        crate::chatplay::bot_config::weights(weights, &mut vote, key, name_span, &err)?;
        Ok(vote)
    }

    /// A list of single words (`what`: option or keyword), each trimmed, lowercased when `fold`, and listed
    /// once; an error names the word and `key`.
    fn words(
        &self,
        list: Vec<Spanned<String>>,
        key: &str,
        what: &str,
        fold: bool,
    ) -> Result<Vec<String>, ConfigError> {
        let mut out: Vec<String> = Vec::with_capacity(list.len());
        for w in list {
            let trimmed = w.get_ref().trim();
            let word = if fold {
                trimmed.to_lowercase()
            } else {
                trimmed.to_owned()
            };
            if word.is_empty() || word.contains(char::is_whitespace) {
                let message = format!("{what} `{}` must be one word, not empty", w.get_ref());
                return Err(self.err(w.span(), key, message));
            }
            if out.contains(&word) {
                let how = if fold {
                    " (compared case-insensitively)"
                } else {
                    ""
                };
                let message = format!("{what} `{word}` is listed twice{how}");
                return Err(self.err(w.span(), key, message));
            }
            out.push(word);
        }
        Ok(out)
    }

    /// A cooldown in seconds: 0 to one day, default 0.
    fn cooldown(&self, value: Option<Spanned<f64>>, key: &str) -> Result<f64, ConfigError> {
        let Some(s) = value else {
            return Ok(0.0);
        };
        let secs = *s.get_ref();
        if !secs.is_finite() || !(0.0..=MAX_COOLDOWN_SECS).contains(&secs) {
            return Err(self.err(
                s.span(),
                key,
                format!("must be a number of seconds from 0 to {MAX_COOLDOWN_SECS} (got {secs})"),
            ));
        }
        Ok(secs)
    }

    fn command(&self, c: RawCommand, key: &str) -> Result<CommandConfig, ConfigError> {
        let name = c.name.get_ref().trim().to_owned();
        if !is_name(&name) {
            return Err(self.err(
                c.name.span(),
                format!("{key}.name"),
                format!(
                    "`{}` is not a name (letters, digits, `_` or `-`, no spaces)",
                    c.name.get_ref()
                ),
            ));
        }
        let keywords = match c.keywords {
            Some(k) => {
                let span = k.span();
                let list = k.into_inner();
                if list.is_empty() {
                    return Err(self.err(
                        span,
                        format!("{key}.keywords"),
                        "is empty: list at least one keyword (or remove the key for the default `!<name>`)",
                    ));
                }
                self.words(list, &format!("{key}.keywords"), "keyword", false)?
            }
            None => vec![format!("!{name}")],
        };
        let mut command = CommandConfig::new(name, keywords);
        command.cooldown_secs = self.cooldown(c.cooldown_secs, &format!("{key}.cooldown_secs"))?;
        command.global_cooldown_secs = self.cooldown(
            c.global_cooldown_secs,
            &format!("{key}.global_cooldown_secs"),
        )?;
        command.mods_only = c.mods_only.unwrap_or(false);
        Ok(command)
    }
}

/// A Twitch login: 1 to 25 of `[a-z0-9_]`.
fn is_login(s: &str) -> bool {
    (1..=25).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A vote or command name: 1 to 64 of letters, digits, `_`, `-`.
fn is_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// `#SomeChannel` → `somechannel`.
///
/// ```
/// assert_eq!(twitch_bot::config::normalize_channel(" #SomeChannel "), "somechannel");
/// ```
pub fn normalize_channel(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('#').unwrap_or(s).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let t = "a\nbc\nd";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 2));
        assert_eq!(line_col(t, 5), (3, 1));
    }

    #[test]
    fn table_paths_count_arrays_from_one() {
        let t = "[connection]\nx=1\n[[vote]]\na=1\n[[vote]]\nb=2\n";
        assert_eq!(table_path(t, 14), "connection");
        assert_eq!(table_path(t, t.find("a=1").unwrap()), "vote[1]");
        assert_eq!(table_path(t, t.find("b=2").unwrap()), "vote[2]");
    }
}
