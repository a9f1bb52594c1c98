//! Config loading: every rejection names the file, the line and the key.

use std::time::Duration;

use twitch_bot::config::{Config, ConfigError, Mode, Start, TieBreak};

fn reject(text: &str) -> ConfigError {
    match Config::from_toml_str(text, "test.toml") {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e,
    }
}

/// Asserts the error's line and key, and that its message says `needle`; returns the one-line message.
fn assert_names(e: &ConfigError, line: usize, key: &str, needle: &str) -> String {
    let text = e.to_string();
    assert_eq!(e.line(), Some(line), "line in: {text}");
    assert_eq!(e.key(), Some(key), "key in: {text}");
    assert!(
        text.starts_with(&format!("test.toml:{line}: key `{key}`: ")),
        "{text}"
    );
    assert!(text.contains(needle), "`{needle}` not in: {text}");
    text
}

const GOOD: &str = r##"
[connection]
server = "ws://127.0.0.1:8080"
nick = "My_Bot"
channels = ["#SomeChannel", "other"]

[[vote]]
name = "move"
options = ["Up", "down"]
mode = "anarchy"
window_secs = 0.5
start = "command"
min_voters = 3
tie = "random"
max_repeat = 9
announce = false

[[command]]
name = "jump"
cooldown_secs = 1.5
mods_only = true
"##;

#[test]
fn full_config_is_read_and_normalised() {
    let c = Config::from_toml_str(GOOD, "test.toml").unwrap();
    assert_eq!(c.connection.server, "ws://127.0.0.1:8080");
    assert_eq!(c.connection.nick.as_deref(), Some("my_bot"));
    assert_eq!(c.connection.token_env, "TWITCH_OAUTH_TOKEN");
    assert_eq!(c.connection.channels, ["somechannel", "other"]);
    let v = &c.votes[0];
    assert_eq!(v.options, ["up", "down"]);
    assert_eq!(v.mode, Mode::Anarchy);
    assert_eq!(v.window_secs, 0.5);
    assert_eq!(v.start, Start::Command);
    assert_eq!(v.min_voters, 3);
    assert_eq!(v.tie, TieBreak::Random);
    assert_eq!(v.max_repeat, 9);
    assert!(!v.announce);
    let cmd = &c.commands[0];
    assert_eq!(cmd.keywords, ["!jump"]);
    assert_eq!(cmd.cooldown_secs, 1.5);
    assert!(cmd.mods_only);
}

#[test]
fn defaults_apply() {
    let c =
        Config::from_toml_str("[[vote]]\nname = \"v\"\noptions = [\"x\"]\n", "test.toml").unwrap();
    assert_eq!(c.connection.server, "wss://irc-ws.chat.twitch.tv:443");
    assert!(c.connection.nick.is_none());
    let v = &c.votes[0];
    assert_eq!(
        (v.mode, v.start, v.tie),
        (Mode::Democracy, Start::Auto, TieBreak::First)
    );
    assert_eq!(
        (v.window_secs, v.min_voters, v.max_repeat, v.announce),
        (20.0, 1, 1, true)
    );
}

#[test]
fn shipped_configs_are_valid() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/");
    for name in ["bot.toml", "demo.toml"] {
        Config::load(format!("{root}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(!Config::demo().votes.is_empty());
}

#[test]
fn unknown_key_names_line_and_key() {
    let e = reject("[connection]\nchannels = []\nchanels = [\"x\"]\n");
    assert_names(&e, 3, "connection.chanels", "unknown field `chanels`");
}

#[test]
fn unknown_key_in_second_vote() {
    let e = reject(
        "[[vote]]\nname = \"a\"\noptions = [\"x\"]\n\n[[vote]]\nname = \"b\"\noptions = [\"x\"]\nwindow = 3\n",
    );
    assert_names(&e, 8, "vote[2].window", "unknown field `window`");
}

#[test]
fn unknown_table_is_rejected() {
    let e = reject("[connection]\n\n[votes]\nname = \"a\"\n");
    let text = e.to_string();
    assert!(text.contains("unknown field `votes`"), "{text}");
    assert_eq!(e.line(), Some(3), "{text}");
}

#[test]
fn wrong_type_names_line_and_key() {
    let e = reject("[[vote]]\nname = \"a\"\noptions = [\"x\"]\nwindow_secs = \"20\"\n");
    assert_names(&e, 4, "vote[1].window_secs", "invalid type");
    let e = reject("[[vote]]\nname = \"a\"\noptions = [\"x\"]\nmode = \"chaos\"\n");
    assert_names(&e, 4, "vote[1].mode", "chaos");
    let e = reject("[[vote]]\nname = \"a\"\noptions = [\"x\"]\nmin_voters = -1\n");
    assert_names(&e, 4, "vote[1].min_voters", "");
}

#[test]
fn missing_required_key() {
    let e = reject("[[vote]]\nname = \"a\"\n");
    let text = e.to_string();
    assert!(text.contains("missing field `options`"), "{text}");
    assert_eq!(e.key(), Some("vote[1].options"), "{text}");
}

#[test]
fn impossible_values() {
    let e = reject("[[vote]]\nname = \"a\"\noptions = []\n");
    assert_names(&e, 3, "vote[1].options", "empty");
    let e = reject("[[vote]]\nname = \"a\"\noptions = [\"x\"]\nwindow_secs = 0\n");
    assert_names(&e, 4, "vote[1].window_secs", "greater than 0");
    let e = reject("[[vote]]\nname = \"a\"\noptions = [\"x\"]\nwindow_secs = nan\n");
    assert_names(&e, 4, "vote[1].window_secs", "greater than 0");
    let e = reject("[[vote]]\nname = \"a\"\noptions = [\"x\", \"y\",\n  \"X\"]\n");
    assert_names(&e, 4, "vote[1].options", "listed twice");
    let e = reject("[[vote]]\nname = \"a\"\noptions = [\"x\"]\nmax_repeat = 0\n");
    assert_names(&e, 4, "vote[1].max_repeat", "from 1 to 9");
    let e = reject(
        "[[vote]]\nname = \"a\"\noptions = [\"x\"]\n[[vote]]\nname = \"a\"\noptions = [\"y\"]\n",
    );
    assert_names(&e, 4, "vote[2].name", "duplicate vote name");
    let e = reject("[[command]]\nname = \"j\"\ncooldown_secs = -1.0\n");
    assert_names(&e, 3, "command[1].cooldown_secs", "from 0");
    let e = reject("[[command]]\nname = \"j\"\n[[command]]\nname = \"j\"\n");
    assert_names(&e, 3, "command[2].name", "duplicate command name");
    let e = reject("[connection]\nchannels = [\"a\", \"#A\"]\n");
    assert_names(&e, 2, "connection.channels", "listed twice");
    let e = reject("[connection]\nserver = \"http://example.com\"\n");
    assert_names(&e, 2, "connection.server", "ws:// or wss://");
    let e = reject("[connection]\ntoken_env = \"oauth:abcdef\"\n");
    let text = assert_names(&e, 2, "connection.token_env", "never the token itself");
    // Even a token pasted by mistake is echoed only as the rejected value of token_env; nothing else leaks.
    assert!(!text.contains("PASS"), "{text}");
}

#[test]
fn syntax_error_names_line() {
    let e = reject("[connection]\nchannels = [\"a\"\n");
    let text = e.to_string();
    assert!(matches!(e, ConfigError::Syntax { .. }), "{text}");
    assert!(text.starts_with("test.toml:"), "{text}");
    assert!(text.contains("TOML syntax error"), "{text}");
}

#[test]
fn missing_file_is_a_read_error() {
    let e = Config::load("/nonexistent/dir/bot.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/dir/bot.toml"));
}

#[test]
fn relative_ca_file_is_resolved_against_the_config_dir() {
    let dir = std::env::temp_dir().join(format!("twitch_bot_cfg_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bot.toml");
    std::fs::write(&path, "[connection]\nca_file = \"certs/ca.pem\"\n").unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.connection.ca_file.unwrap(), dir.join("certs/ca.pem"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn token_is_masked() {
    let t = twitch_bot::config::Token::new(" oauth:s3cret ");
    assert_eq!(t.secret(), "s3cret");
    assert!(!format!("{t:?} {t}").contains("s3cret"));
}

#[test]
fn a_token_key_is_rejected_with_advice_and_without_echoing_it() {
    let e = reject("[connection]\ntoken = \"oauth:supersecret\"\n");
    let text = assert_names(&e, 2, "connection.token", "token_env");
    assert!(!text.contains("supersecret"), "{text}");
}

#[test]
fn the_engines_own_checks_are_reported_with_the_table() {
    // Equal only after the engine's normalisation (an invisible character): caught before connecting.
    let e = reject("[connection]\n\n[[vote]]\nname = \"a\"\noptions = [\"up\", \"up\u{200B}\"]\n");
    let text = e.to_string();
    assert!(text.starts_with("test.toml:"), "{text}");
    assert_eq!(e.key(), Some("vote[1]"), "{text}");
    assert!(matches!(e.line(), Some(3..=5)), "{text}");
}

#[test]
fn a_huge_file_is_refused_without_reading_it_all() {
    let path = std::env::temp_dir().join(format!("twitch_bot_huge_{}.toml", std::process::id()));
    std::fs::write(&path, "#".repeat(2 * 1024 * 1024)).unwrap();
    let e = Config::load(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    assert!(e.to_string().contains("at most"), "{e}");
}

#[test]
fn keepalive_keys_are_read_with_defaults() {
    let c = Config::from_toml_str("[connection]\nchannels = []\n", "test.toml").unwrap();
    assert_eq!(c.connection.ping_idle, Duration::from_secs(60));
    assert_eq!(c.connection.pong_timeout, Duration::from_secs(10));
    let c = Config::from_toml_str(
        "[connection]\nping_idle_secs = 1.5\npong_timeout_secs = 2\n",
        "test.toml",
    )
    .unwrap();
    assert_eq!(c.connection.ping_idle, Duration::from_millis(1500));
    assert_eq!(c.connection.pong_timeout, Duration::from_secs(2));
}

#[test]
fn keepalive_keys_reject_impossible_values() {
    for (value, needle) in [
        ("0", "greater than 0"),
        ("-1.0", "greater than 0"),
        ("nan", "greater than 0"),
        ("inf", "at most 600"),
        ("601", "at most 600"),
    ] {
        let e = reject(&format!(
            "[connection]\nchannels = []\nping_idle_secs = {value}\n"
        ));
        assert_names(&e, 3, "connection.ping_idle_secs", needle);
    }
    for (value, needle) in [("0.0", "greater than 0"), ("301", "at most 300")] {
        let e = reject(&format!(
            "[connection]\n\npong_timeout_secs = {value}\nchannels = []\n"
        ));
        assert_names(&e, 3, "connection.pong_timeout_secs", needle);
    }
    let e = reject("[connection]\npong_timeout_secs = \"10\"\n");
    assert_names(&e, 2, "connection.pong_timeout_secs", "");
}

#[test]
fn max_voters_and_channels_are_read_and_checked() {
    let c = Config::from_toml_str(
        "[[vote]]\nname = \"v\"\noptions = [\"x\"]\nmax_voters = 500\nchannels = [\"#Main\", \"other_1\"]\n",
        "test.toml",
    )
    .unwrap();
    assert_eq!(c.votes[0].max_voters, 500);
    assert_eq!(c.votes[0].channels, ["main", "other_1"]);
    let d =
        Config::from_toml_str("[[vote]]\nname = \"v\"\noptions = [\"x\"]\n", "test.toml").unwrap();
    assert_eq!(
        d.votes[0].max_voters,
        twitch_bot::chatplay::DEFAULT_MAX_VOTERS
    );
    assert!(
        d.votes[0].channels.is_empty(),
        "default: every joined channel"
    );

    let e = reject("[[vote]]\nname = \"v\"\noptions = [\"x\"]\nmin_voters = 0\n");
    assert_names(&e, 4, "vote[1].min_voters", "at least 1");
    let e = reject("[[vote]]\nname = \"v\"\noptions = [\"up\", \"up2\"]\nmax_repeat = 3\n");
    let text = e.to_string();
    assert!(
        text.contains("\"up2\"") && text.contains("\"up\""),
        "{text}"
    );
    let e = reject("[[vote]]\nname = \"v\"\noptions = [\"x\"]\nmax_voters = 0\n");
    assert_names(&e, 4, "vote[1].max_voters", "must be from 1");
    let e = reject("[[vote]]\nname = \"v\"\noptions = [\"x\"]\nmax_voters = -3\n");
    assert_names(&e, 4, "vote[1].max_voters", "");
    let e = reject("[[vote]]\nname = \"v\"\noptions = [\"x\"]\nchannels = [\"no spaces\"]\n");
    assert_names(&e, 4, "vote[1].channels", "not a channel login");
}

#[test]
fn tally_interval_is_read_with_default_off() {
    let vote = |extra: &str| format!("[[vote]]\nname = \"v\"\noptions = [\"x\"]\n{extra}");
    let d = Config::from_toml_str(&vote(""), "test.toml").unwrap();
    assert_eq!(d.votes[0].tally_interval_secs, 0.0, "default: off");
    assert_eq!(d.votes[0].tally_interval(), Ok(None));
    for (value, secs) in [
        ("0", 0.0),
        ("0.0", 0.0),
        ("0.1", 0.1),
        ("0.25", 0.25),
        ("2", 2.0),
        ("3600", 3600.0),
    ] {
        let c = Config::from_toml_str(
            &vote(&format!("tally_interval_secs = {value}\n")),
            "test.toml",
        )
        .unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(c.votes[0].tally_interval_secs, secs, "{value}");
    }
    let c = Config::from_toml_str(&vote("tally_interval_secs = 0.25\n"), "test.toml").unwrap();
    assert_eq!(
        c.votes[0].tally_interval(),
        Ok(Some(Duration::from_millis(250)))
    );
}

#[test]
fn tally_interval_rejects_floods_and_nonsense() {
    // Below 0.1 s (but not 0) would flood stdout; negative, huge, not finite or not a number are mistakes.
    for (value, needle) in [
        ("0.05", "from 0.1 to 3600"),
        ("0.0001", "flood"),
        ("-1", "must be 0 (off)"),
        ("-0.5", "must be 0 (off)"),
        ("3600.5", "from 0.1 to 3600"),
        ("inf", "from 0.1 to 3600"),
        ("nan", "from 0.1 to 3600"),
    ] {
        let e = reject(&format!(
            "[[vote]]\nname = \"v\"\noptions = [\"x\"]\n\ntally_interval_secs = {value}\n"
        ));
        let text = assert_names(&e, 5, "vote[1].tally_interval_secs", needle);
        assert!(
            text.contains("(got "),
            "the message shows the value: {text}"
        );
    }
    // In the second vote table: the key path counts tables from 1.
    let e = reject(
        "[[vote]]\nname = \"a\"\noptions = [\"x\"]\n[[vote]]\nname = \"b\"\noptions = [\"y\"]\ntally_interval_secs = 0.01\n",
    );
    assert_names(&e, 7, "vote[2].tally_interval_secs", "from 0.1 to 3600");
    let e = reject("[[vote]]\nname = \"v\"\noptions = [\"x\"]\ntally_interval_secs = \"1\"\n");
    assert_names(&e, 4, "vote[1].tally_interval_secs", "");
}

#[test]
fn tally_interval_is_checked_for_votes_built_in_code_too() {
    let mut v = twitch_bot::chatplay::VoteConfig::new("move", ["up"]);
    v.tally_interval_secs = 0.01;
    let e = v.validate().unwrap_err();
    assert!(e.to_string().contains("tally interval"), "{e}");
    v.tally_interval_secs = 0.5;
    assert!(v.validate().is_ok());
}

#[test]
fn command_keywords_are_single_words_listed_once() {
    let e = reject("[[command]]\nname = \"jump\"\nkeywords = [\"!jump\", \"!j ump\"]\n");
    assert_names(
        &e,
        3,
        "command[1].keywords",
        "keyword `!j ump` must be one word",
    );
    let e = reject("[[command]]\nname = \"jump\"\nkeywords = [\"!jump\", \" !jump \"]\n");
    assert_names(
        &e,
        3,
        "command[1].keywords",
        "keyword `!jump` is listed twice",
    );
    let e = reject("[[command]]\nname = \"jump\"\nkeywords = []\n");
    assert_names(&e, 3, "command[1].keywords", "is empty");
    // Keywords keep their case as written (the engine compares them case-insensitively).
    let c = Config::from_toml_str(
        "[[command]]\nname = \"jump\"\nkeywords = [\"!Jump\", \"!hop\"]\n",
        "test.toml",
    )
    .unwrap();
    assert_eq!(c.commands[0].keywords, ["!Jump", "!hop"]);
}
