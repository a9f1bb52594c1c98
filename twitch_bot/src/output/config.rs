//! The `[output]` table and the `[[key]]` bindings: which chat results become which key presses.
//!
//! ```toml
//! [output]
//! kind = "keyboard"          # "none" (default): events only; "keyboard": also press keys
//! target_window = "mGBA"     # optional focus guard: press only while the focused window's title contains this
//! queue_max = 8              # presses waiting at most; when full, the OLDEST waiting press is dropped
//! user_per_sec = 2.0         # per-user rate cap (anarchy inputs and bound commands), token bucket
//! global_per_sec = 8.0       # global rate cap, token bucket
//! pause_command = "pause"    # the [[command]] that pauses output (added, mods-only `!pause`, when absent)
//! resume_command = "resume"  # the [[command]] that resumes it (added, mods-only `!resume`, when absent)
//!
//! [[key]]
//! vote = "move"              # a vote's option ...
//! input = "up"
//! keys = ["Up"]              # 1 to 4 key names (a chord, pressed in order, released in reverse)
//! hold_ms = 100              # how long the keys stay down (default 100)
//! gap_ms = 50                # pause after each release, between repeats and before the next press (default 50)
//!
//! [[key]]
//! command = "jump"           # ... or a command
//! keys = ["Space"]
//! ```
//!
//! Validation is as strict as the rest of the file: an unknown key name, a binding to a vote, option or command
//! that does not exist, a chord longer than [`MAX_CHORD`], a second binding for the same input, or a pause
//! command that is not mods-only is an error naming the file, line and key.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::keys::{self, Key};
use crate::chatplay::{CommandConfig, VoteConfig};
use crate::config::ConfigError;

/// Most keys in one chord.
pub const MAX_CHORD: usize = 4;
/// `hold_ms` when absent.
pub const DEFAULT_HOLD_MS: u64 = 100;
/// `gap_ms` when absent.
pub const DEFAULT_GAP_MS: u64 = 50;
/// Longest accepted `hold_ms` / `gap_ms` (10 s: longer is a typo, and would block the queue).
pub const MAX_HOLD_MS: u64 = 10_000;
/// `queue_max` when absent.
pub const DEFAULT_QUEUE_MAX: usize = 8;
/// Largest accepted `queue_max`.
pub const MAX_QUEUE_MAX: usize = 1000;
/// `user_per_sec` when absent.
pub const DEFAULT_USER_PER_SEC: f64 = 2.0;
/// `global_per_sec` when absent.
pub const DEFAULT_GLOBAL_PER_SEC: f64 = 8.0;

/// What the output does with chat's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// Events only (stdout, `/ws`); no key is ever pressed.
    #[default]
    None,
    /// Also press the bound keys.
    Keyboard,
}

/// What a binding reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A vote's option: the round's winner (democracy) or each accepted input (anarchy).
    Vote {
        /// The vote's name.
        vote: String,
        /// The option (lowercase, as the engine normalises options).
        input: String,
    },
    /// A chat command (from its `command` event).
    Command(String),
}

/// One `[[key]]` table, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// What fires it.
    pub trigger: Trigger,
    /// The chord: pressed in this order, released in reverse.
    pub keys: Vec<Key>,
    /// How long the keys stay down, in milliseconds.
    pub hold_ms: u64,
    /// The pause after each release, in milliseconds.
    pub gap_ms: u64,
}

/// The `[output]` table plus the `[[key]]` bindings, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfig {
    /// `kind`.
    pub kind: OutputKind,
    /// `target_window`: the focus guard's title substring (`None`: no guard).
    pub target_window: Option<String>,
    /// `queue_max`: presses waiting at most; when a new one arrives on a full queue the oldest waiting one is
    /// dropped (so the lag behind chat is bounded by about `queue_max` × (hold + gap)).
    pub queue_max: usize,
    /// `user_per_sec`: per-user rate cap, presses per second (a token bucket holding at least one).
    pub user_per_sec: f64,
    /// `global_per_sec`: rate cap over all users, presses per second.
    pub global_per_sec: f64,
    /// The command that pauses output (a mods-only `[[command]]`).
    pub pause_command: String,
    /// The command that resumes output.
    pub resume_command: String,
    /// `[[key]]` tables, in file order.
    pub bindings: Vec<Binding>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            kind: OutputKind::None,
            target_window: None,
            queue_max: DEFAULT_QUEUE_MAX,
            user_per_sec: DEFAULT_USER_PER_SEC,
            global_per_sec: DEFAULT_GLOBAL_PER_SEC,
            pause_command: "pause".into(),
            resume_command: "resume".into(),
            bindings: Vec::new(),
        }
    }
}

impl OutputConfig {
    /// The binding for `trigger`, if any.
    pub fn binding(&self, trigger: &Trigger) -> Option<&Binding> {
        self.bindings.iter().find(|b| &b.trigger == trigger)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    kind: Option<OutputKind>,
    target_window: Option<Spanned<String>>,
    queue_max: Option<Spanned<u64>>,
    user_per_sec: Option<Spanned<f64>>,
    global_per_sec: Option<Spanned<f64>>,
    pause_command: Option<Spanned<String>>,
    resume_command: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKey {
    vote: Option<Spanned<String>>,
    input: Option<Spanned<String>>,
    command: Option<Spanned<String>>,
    keys: Spanned<Vec<Spanned<String>>>,
    hold_ms: Option<Spanned<u64>>,
    gap_ms: Option<Spanned<u64>>,
}

/// Builds a [`ConfigError::Invalid`] at a byte span (the config loader's error maker).
pub(crate) type ErrAt<'a> = &'a dyn Fn(Range<usize>, String, String) -> ConfigError;

/// Validates `[output]` and `[[key]]` against the votes and commands already read. When output is on, adds
/// the mods-only pause/resume commands that the file does not define.
pub(crate) fn validate(
    output: Option<Spanned<RawOutput>>,
    key_tables: Vec<Spanned<RawKey>>,
    votes: &[VoteConfig],
    commands: &mut Vec<CommandConfig>,
    err: ErrAt<'_>,
) -> Result<OutputConfig, ConfigError> {
    let mut out = OutputConfig::default();
    let mut output_span = 0..0;
    if let Some(o) = output {
        output_span = o.span();
        let o = o.into_inner();
        out.kind = o.kind.unwrap_or_default();
        if let Some(t) = o.target_window {
            if t.get_ref().trim().is_empty() {
                return Err(err(
                    t.span(),
                    "output.target_window".into(),
                    "is empty: give part of the game window's title, or remove the key".into(),
                ));
            }
            out.target_window = Some(t.into_inner());
        }
        if let Some(q) = o.queue_max {
            let n = *q.get_ref();
            if n == 0 || n > MAX_QUEUE_MAX as u64 {
                return Err(err(
                    q.span(),
                    "output.queue_max".into(),
                    format!("must be from 1 to {MAX_QUEUE_MAX} (got {n})"),
                ));
            }
            out.queue_max = n as usize;
        }
        for (value, key, slot) in [
            (o.user_per_sec, "output.user_per_sec", &mut out.user_per_sec),
            (
                o.global_per_sec,
                "output.global_per_sec",
                &mut out.global_per_sec,
            ),
        ] {
            if let Some(v) = value {
                let r = *v.get_ref();
                if !r.is_finite() || !(0.01..=1000.0).contains(&r) {
                    return Err(err(
                        v.span(),
                        key.into(),
                        format!(
                            "must be a number of presses per second from 0.01 to 1000 (got {r})"
                        ),
                    ));
                }
                *slot = r;
            }
        }
        for (value, key, slot) in [
            (
                o.pause_command,
                "output.pause_command",
                &mut out.pause_command,
            ),
            (
                o.resume_command,
                "output.resume_command",
                &mut out.resume_command,
            ),
        ] {
            if let Some(v) = value {
                let name = v.get_ref().trim();
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(err(
                        v.span(),
                        key.into(),
                        format!("`{}` is not a command name", v.get_ref()),
                    ));
                }
                *slot = name.to_owned();
            }
        }
    }
    if out.pause_command == out.resume_command {
        return Err(err(
            output_span,
            "output.resume_command".into(),
            "must differ from pause_command".into(),
        ));
    }

    for (i, t) in key_tables.into_iter().enumerate() {
        let table = format!("key[{}]", i + 1);
        let span = t.span();
        let b = binding(t.into_inner(), &table, span.clone(), votes, commands, err)?;
        if out.bindings.iter().any(|o| o.trigger == b.trigger) {
            let what = match &b.trigger {
                Trigger::Vote { vote, input } => format!("vote `{vote}` input `{input}`"),
                Trigger::Command(c) => format!("command `{c}`"),
            };
            return Err(err(span, table, format!("{what} is bound twice")));
        }
        out.bindings.push(b);
    }
    for (name, key) in [
        (out.pause_command.clone(), "output.pause_command"),
        (out.resume_command.clone(), "output.resume_command"),
    ] {
        if out
            .bindings
            .iter()
            .any(|b| b.trigger == Trigger::Command(name.clone()))
        {
            return Err(err(
                output_span.clone(),
                key.into(),
                format!(
                    "command `{name}` pauses or resumes output and cannot also be bound to keys"
                ),
            ));
        }
        match commands.iter().find(|c| c.name == name) {
            Some(c) if !c.mods_only && out.kind == OutputKind::Keyboard => {
                return Err(err(
                    output_span.clone(),
                    key.into(),
                    format!(
                        "command `{name}` controls the keyboard and must be `mods_only = true` in its [[command]] table"
                    ),
                ));
            }
            Some(_) => {}
            None if out.kind == OutputKind::Keyboard => {
                let mut c = CommandConfig::new(name.clone(), vec![format!("!{name}")]);
                c.mods_only = true;
                if commands
                    .iter()
                    .any(|o| o.keywords.iter().any(|k| c.keywords.contains(k)))
                {
                    return Err(err(
                        output_span.clone(),
                        key.into(),
                        format!(
                            "keyword `!{name}` is used by another command; define [[command]] `{name}` yourself"
                        ),
                    ));
                }
                commands.push(c);
            }
            None => {}
        }
    }
    Ok(out)
}

fn binding(
    t: RawKey,
    table: &str,
    span: Range<usize>,
    votes: &[VoteConfig],
    commands: &[CommandConfig],
    err: ErrAt<'_>,
) -> Result<Binding, ConfigError> {
    let trigger = match (t.vote, t.input, t.command) {
        (Some(v), Some(i), None) => {
            let Some(vote) = votes.iter().find(|c| c.name == *v.get_ref()) else {
                let known: Vec<&str> = votes.iter().map(|v| v.name.as_str()).collect();
                return Err(err(
                    v.span(),
                    format!("{table}.vote"),
                    format!(
                        "no [[vote]] is named `{}` (votes: {})",
                        v.get_ref(),
                        list(&known)
                    ),
                ));
            };
            let input = i.get_ref().trim().to_lowercase();
            if !vote.options.contains(&input) {
                return Err(err(
                    i.span(),
                    format!("{table}.input"),
                    format!(
                        "vote `{}` has no option `{}` (options: {})",
                        vote.name,
                        i.get_ref(),
                        vote.options.join(", ")
                    ),
                ));
            }
            Trigger::Vote {
                vote: vote.name.clone(),
                input,
            }
        }
        (None, None, Some(c)) => {
            if !commands.iter().any(|k| k.name == *c.get_ref()) {
                let known: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
                return Err(err(
                    c.span(),
                    format!("{table}.command"),
                    format!(
                        "no [[command]] is named `{}` (commands: {})",
                        c.get_ref(),
                        list(&known)
                    ),
                ));
            }
            Trigger::Command(c.into_inner())
        }
        _ => {
            return Err(err(
                span,
                table.into(),
                "needs either `vote` and `input`, or `command` (not both)".into(),
            ));
        }
    };
    let keys_span = t.keys.span();
    let names = t.keys.into_inner();
    if names.is_empty() || names.len() > MAX_CHORD {
        return Err(err(
            keys_span,
            format!("{table}.keys"),
            format!(
                "must list 1 to {MAX_CHORD} keys (got {}); a chord is pressed together",
                names.len()
            ),
        ));
    }
    let mut keys: Vec<Key> = Vec::with_capacity(names.len());
    for n in names {
        let Some(k) = keys::lookup(n.get_ref()) else {
            return Err(err(
                n.span(),
                format!("{table}.keys"),
                format!(
                    "unknown key name `{}` (known: {})",
                    n.get_ref(),
                    keys::names()
                ),
            ));
        };
        if keys.contains(&k) {
            return Err(err(
                n.span(),
                format!("{table}.keys"),
                format!("key `{}` is listed twice", k.name),
            ));
        }
        keys.push(k);
    }
    let ms = |v: Option<Spanned<u64>>, key: &str, default: u64, min: u64| match v {
        None => Ok(default),
        Some(v) if (min..=MAX_HOLD_MS).contains(v.get_ref()) => Ok(*v.get_ref()),
        Some(v) => Err(err(
            v.span(),
            format!("{table}.{key}"),
            format!(
                "must be from {min} to {MAX_HOLD_MS} milliseconds (got {})",
                v.get_ref()
            ),
        )),
    };
    let hold_ms = ms(t.hold_ms, "hold_ms", DEFAULT_HOLD_MS, 1)?;
    let gap_ms = ms(t.gap_ms, "gap_ms", DEFAULT_GAP_MS, 0)?;
    Ok(Binding {
        trigger,
        keys,
        hold_ms,
        gap_ms,
    })
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};

    const VOTES: &str = r#"
[[vote]]
name = "move"
options = ["up", "down"]

[[command]]
name = "jump"
"#;

    fn load(extra: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(&format!("{VOTES}{extra}"), "bot.toml")
    }

    fn error(extra: &str) -> (usize, String, String) {
        match load(extra).unwrap_err() {
            ConfigError::Invalid {
                line, key, message, ..
            } => (line, key, message),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn bindings_load_with_defaults() {
        let c = load(
            "[output]\nkind = \"keyboard\"\n[[key]]\nvote = \"move\"\ninput = \"UP\"\nkeys = [\"up\"]\n\
             [[key]]\ncommand = \"jump\"\nkeys = [\"Shift\", \"a\"]\nhold_ms = 40\ngap_ms = 0\n",
        )
        .unwrap();
        let o = &c.output;
        assert_eq!(o.bindings.len(), 2);
        assert_eq!(o.bindings[0].keys[0].name, "Up");
        assert_eq!((o.bindings[0].hold_ms, o.bindings[0].gap_ms), (100, 50));
        assert_eq!((o.bindings[1].hold_ms, o.bindings[1].gap_ms), (40, 0));
        // The mods-only pause/resume commands were added.
        let pause = c.commands.iter().find(|c| c.name == "pause").unwrap();
        assert!(pause.mods_only);
        assert_eq!(pause.keywords, ["!pause"]);
        assert!(c.commands.iter().any(|c| c.name == "resume" && c.mods_only));
        // Output off: nothing added.
        let c = load("").unwrap();
        assert_eq!(c.commands.len(), 1);
    }

    #[test]
    fn an_unknown_key_name_names_the_key_file_and_line() {
        let (line, key, message) =
            error("[[key]]\nvote = \"move\"\ninput = \"up\"\nkeys = [\"Up\", \"Hyperspace\"]\n");
        assert_eq!(line, 11);
        assert_eq!(key, "key[1].keys");
        assert!(
            message.contains("unknown key name `Hyperspace`"),
            "{message}"
        );
        let e = load("[[key]]\nvote = \"move\"\ninput = \"up\"\nkeys = [\"Hyperspace\"]\n")
            .unwrap_err();
        assert!(
            e.to_string().starts_with("bot.toml:11: key `key[1].keys`"),
            "{e}"
        );
    }

    #[test]
    fn a_binding_to_an_unknown_vote_option_or_command_is_an_error() {
        let (line, key, message) =
            error("[[key]]\nvote = \"mvoe\"\ninput = \"up\"\nkeys = [\"Up\"]\n");
        assert_eq!((line, key.as_str()), (9, "key[1].vote"));
        assert!(
            message.contains("no [[vote]] is named `mvoe` (votes: move)"),
            "{message}"
        );
        let (line, key, message) =
            error("[[key]]\nvote = \"move\"\ninput = \"jump\"\nkeys = [\"Up\"]\n");
        assert_eq!((line, key.as_str()), (10, "key[1].input"));
        assert!(
            message.contains("has no option `jump` (options: up, down)"),
            "{message}"
        );
        let (_, key, message) = error("[[key]]\ncommand = \"fly\"\nkeys = [\"Up\"]\n");
        assert_eq!(key, "key[1].command");
        assert!(
            message.contains("no [[command]] is named `fly`"),
            "{message}"
        );
        let (_, key, _) = error("[[key]]\nkeys = [\"Up\"]\n");
        assert_eq!(key, "key[1]");
        let (_, _, message) = error(
            "[[key]]\ncommand = \"jump\"\nkeys = [\"Up\"]\n[[key]]\ncommand = \"jump\"\nkeys = [\"Up\"]\n",
        );
        assert!(message.contains("bound twice"), "{message}");
    }

    #[test]
    fn a_chord_of_ten_keys_is_an_error() {
        let (line, key, message) = error(
            "[[key]]\ncommand = \"jump\"\nkeys = [\"A\",\"B\",\"C\",\"D\",\"E\",\"F\",\"G\",\"H\",\"I\",\"J\"]\n",
        );
        assert_eq!((line, key.as_str()), (10, "key[1].keys"));
        assert!(message.contains("1 to 4 keys (got 10)"), "{message}");
        let (_, _, message) = error("[[key]]\ncommand = \"jump\"\nkeys = []\n");
        assert!(message.contains("got 0"), "{message}");
        let (_, _, message) = error("[[key]]\ncommand = \"jump\"\nkeys = [\"A\", \"a\"]\n");
        assert!(message.contains("listed twice"), "{message}");
    }

    #[test]
    fn output_values_are_checked() {
        let (_, key, _) = error("[output]\nkind = \"joystick\"\n");
        assert_eq!(key, "output.kind");
        let (_, key, _) = error("[output]\nqueue_max = 0\n");
        assert_eq!(key, "output.queue_max");
        let (_, key, _) = error("[output]\nuser_per_sec = 0.0\n");
        assert_eq!(key, "output.user_per_sec");
        let (_, key, _) = error("[[key]]\ncommand = \"jump\"\nkeys = [\"A\"]\nhold_ms = 0\n");
        assert_eq!(key, "key[1].hold_ms");
        // A pause command defined without mods_only would let anyone pause (or resume) the keyboard.
        let (_, key, message) =
            error("[[command]]\nname = \"pause\"\n[output]\nkind = \"keyboard\"\n");
        assert_eq!(key, "output.pause_command");
        assert!(message.contains("mods_only"), "{message}");
        // Binding the pause command to keys is refused.
        let (_, _, message) = error(
            "[[command]]\nname = \"stop\"\nmods_only = true\n[output]\npause_command = \"stop\"\n\
             [[key]]\ncommand = \"stop\"\nkeys = [\"A\"]\n",
        );
        assert!(message.contains("cannot also be bound"), "{message}");
    }
}
