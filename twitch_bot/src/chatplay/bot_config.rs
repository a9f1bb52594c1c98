//! The bot TOML's keys for rewards, weights and shared chat: the `[chatplay]` table, the
//! `[[reward]]` tables and the `bits_per_vote` / `max_weight_per_user` keys of a `[[vote]]`.
//!
//! ```toml
//! [chatplay]
//! count_shared_chat = false   # default: chat from other channels of a shared chat session does not play
//!
//! [[vote]]
//! name = "move"
//! options = ["up", "down"]
//! bits_per_vote = 100         # each 100 bits cheered this round add 1 to the user's ballot weight ...
//! max_weight_per_user = 5     # ... up to 5 (required with bits_per_vote)
//!
//! [[reward]]
//! id = "1c8a8ac4-5f3f-4c6b-a2d4-4b1c3b8f0e11"   # or title = "Pick a move" (EventSub only)
//! vote = "move"               # optional: the input text is a ballot in this vote ...
//! option = "up"               # ... or this fixed option is
//! ```
//!
//! Read into [`RewardConfig`] and the [`VoteConfig`] fields by [`crate::config`]; errors name the
//! file, line and key like every other key.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{RewardConfig, VoteConfig};
use crate::config::ConfigError;

/// Makes a [`ConfigError`] for a span, a key and a message (the config validator's `err`).
pub(crate) type ErrAt<'a> = &'a dyn Fn(Range<usize>, String, String) -> ConfigError;

/// `[chatplay]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChatplay {
    count_shared_chat: Option<bool>,
}

/// One `[[reward]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReward {
    id: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    vote: Option<Spanned<String>>,
    option: Option<Spanned<String>>,
}

/// The `bits_per_vote` / `max_weight_per_user` keys of one `[[vote]]`, as written.
#[derive(Deserialize, Default)]
pub(crate) struct RawWeights {
    pub(crate) bits_per_vote: Option<Spanned<u64>>,
    pub(crate) max_weight_per_user: Option<Spanned<u32>>,
}

/// `[chatplay] count_shared_chat` (default `false`).
pub(crate) fn count_shared_chat(raw: Option<RawChatplay>) -> bool {
    raw.and_then(|c| c.count_shared_chat).unwrap_or(false)
}

/// Sets the weights of `vote` (at `key`, e.g. `vote[2]`), checked with the engine's own rules.
pub(crate) fn weights(
    raw: RawWeights,
    vote: &mut VoteConfig,
    key: &str,
    table: Range<usize>,
    err: ErrAt<'_>,
) -> Result<(), ConfigError> {
    vote.bits_per_vote = raw.bits_per_vote.as_ref().map(|b| *b.get_ref());
    vote.max_weight_per_user = raw.max_weight_per_user.as_ref().map(|m| *m.get_ref());
    if let Err(e) = vote.weighting() {
        // Point at the key that is wrong, or missing (then at the one that is there, or the table).
        let (span, name) = match (&raw.bits_per_vote, &raw.max_weight_per_user) {
            (Some(_), None) => (
                raw.bits_per_vote.map_or(table, |b| b.span()),
                "max_weight_per_user",
            ),
            (None, Some(m)) => (m.span(), "bits_per_vote"),
            (Some(b), Some(m)) => {
                let bits = *b.get_ref();
                if (1..=super::weight::MAX_BITS_PER_VOTE).contains(&bits) {
                    (m.span(), "max_weight_per_user")
                } else {
                    (b.span(), "bits_per_vote")
                }
            }
            (None, None) => (table, "bits_per_vote"),
        };
        return Err(err(span, format!("{key}.{name}"), e.to_string()));
    }
    Ok(())
}

/// The `[[reward]]` tables, validated against the votes.
pub(crate) fn rewards(
    raw: Vec<Spanned<RawReward>>,
    votes: &[VoteConfig],
    err: ErrAt<'_>,
) -> Result<Vec<RewardConfig>, ConfigError> {
    let mut out: Vec<RewardConfig> = Vec::with_capacity(raw.len());
    for (i, table) in raw.into_iter().enumerate() {
        let key = format!("reward[{}]", i + 1);
        let span = table.span();
        let r = table.into_inner();
        let at = |s: &Option<Spanned<String>>| s.as_ref().map(Spanned::span);
        let reward = RewardConfig {
            id: r.id.as_ref().map(|s| s.get_ref().trim().to_owned()),
            title: r.title.as_ref().map(|s| s.get_ref().trim().to_owned()),
            vote: r.vote.as_ref().map(|s| s.get_ref().trim().to_owned()),
            option: r.option.as_ref().map(|s| s.get_ref().trim().to_owned()),
        };
        let check = reward.validate(votes).and_then(|()| {
            let same = |a: &Option<String>, b: &Option<String>| {
                matches!((a, b), (Some(a), Some(b)) if a.to_lowercase() == b.to_lowercase())
            };
            match out
                .iter()
                .any(|o| o.id.is_some() && o.id == reward.id || same(&o.title, &reward.title))
            {
                true => Err(super::ConfigError::DuplicateReward(reward.label())),
                false => Ok(()),
            }
        });
        if let Err(e) = check {
            use super::ConfigError as E;
            let (which, name) = match e {
                E::RewardUnknownVote { .. } => (at(&r.vote), "vote"),
                E::RewardOptionWithoutVote { .. } | E::RewardUnknownOption { .. } => {
                    (at(&r.option), "option")
                }
                E::BadRewardKey { .. } | E::DuplicateReward(_) if r.id.is_some() => {
                    (at(&r.id), "id")
                }
                E::BadRewardKey { .. } | E::DuplicateReward(_) => (at(&r.title), "title"),
                _ => (None, "id"),
            };
            return Err(err(
                which.unwrap_or(span),
                format!("{key}.{name}"),
                e.to_string(),
            ));
        }
        out.push(reward);
    }
    Ok(out)
}

/// Lines for `twitch_bot --check`: the rewards, and (unless `titles_known`) a warning for each one
/// matched by title only. Only EventSub's redemption notifications carry a reward's title: over IRC, and
/// over EventSub without `[twitch] eventsub_redemptions = true`, the bot sees the reward's id alone.
pub fn check_lines(rewards: &[RewardConfig], titles_known: bool) -> Vec<String> {
    if rewards.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "rewards: {} [{}]",
        rewards.len(),
        rewards
            .iter()
            .map(|r| match &r.vote {
                Some(v) => format!("{} -> vote {v}", r.label()),
                None => r.label(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for r in rewards.iter().filter(|r| r.id.is_none() && !titles_known) {
        lines.push(format!(
            "warning: {} is matched by title, which only EventSub's redemption notifications give: over IRC \
             (or EventSub without `[twitch] eventsub_redemptions = true`) it never matches, since the bot sees \
             only the reward's id; the bot logs the id of every unknown reward it sees, use `id = ...`",
            r.label()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const BASE: &str = "[connection]\nchannels = [\"c\"]\n\n[[vote]]\nname = \"move\"\noptions = [\"up\", \"down\"]\n";

    fn load(extra: &str) -> Result<Config, crate::config::ConfigError> {
        Config::from_toml_str(&format!("{BASE}{extra}"), "t.toml")
    }

    #[test]
    fn rewards_weights_and_shared_chat_are_read() {
        let c = load(
            "bits_per_vote = 100\nmax_weight_per_user = 5\n\n[chatplay]\ncount_shared_chat = true\n\n\
             [[reward]]\nid = \" r-1 \"\nvote = \"move\"\noption = \"down\"\n\n[[reward]]\ntitle = \"Hydrate\"\n",
        )
        .unwrap();
        assert_eq!(
            (c.votes[0].bits_per_vote, c.votes[0].max_weight_per_user),
            (Some(100), Some(5))
        );
        assert!(c.count_shared_chat);
        assert_eq!(c.rewards[0].id.as_deref(), Some("r-1"));
        assert_eq!(c.rewards[0].option.as_deref(), Some("down"));
        assert_eq!(c.rewards[1].title.as_deref(), Some("Hydrate"));
        let ec = c.engine_config("bot");
        assert!(ec.count_shared_chat && ec.rewards.len() == 2);
        let lines = super::check_lines(&c.rewards, false);
        assert_eq!(super::check_lines(&c.rewards, true).len(), 1);
        assert!(
            lines[0].starts_with("rewards: 2 [reward id \"r-1\" -> vote move"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("title \"Hydrate\" is matched by title") && lines[1].contains("IRC")
        );
        let plain = load("").unwrap();
        assert!(!plain.count_shared_chat && plain.rewards.is_empty());
        assert!(super::check_lines(&plain.rewards, false).is_empty());
    }

    #[test]
    fn mistakes_name_the_line_and_key() {
        let cases = [
            ("bits_per_vote = 100\n", "vote[1].max_weight_per_user", 7),
            ("max_weight_per_user = 3\n", "vote[1].bits_per_vote", 7),
            (
                "bits_per_vote = 0\nmax_weight_per_user = 3\n",
                "vote[1].bits_per_vote",
                7,
            ),
            (
                "bits_per_vote = 10\nmax_weight_per_user = 0\n",
                "vote[1].max_weight_per_user",
                8,
            ),
            ("\n[[reward]]\nvote = \"move\"\n", "reward[1].id", 8),
            (
                "\n[[reward]]\nid = \"a\"\ntitle = \"b\"\n",
                "reward[1].id",
                8,
            ),
            (
                "\n[[reward]]\nid = \"a\"\nvote = \"jump\"\n",
                "reward[1].vote",
                10,
            ),
            (
                "\n[[reward]]\nid = \"a\"\nvote = \"move\"\noption = \"x\"\n",
                "reward[1].option",
                11,
            ),
            (
                "\n[[reward]]\nid = \"a\"\noption = \"up\"\n",
                "reward[1].option",
                10,
            ),
            (
                "\n[[reward]]\nid = \"a\"\n[[reward]]\nid = \"a\"\n",
                "reward[2].id",
                11,
            ),
            (
                "\n[[reward]]\ntitle = \"T\"\n[[reward]]\ntitle = \"t\"\n",
                "reward[2].title",
                11,
            ),
            ("\n[[reward]]\nid = \"a\"\ncost = 5\n", "reward[1].cost", 10),
            (
                "\n[chatplay]\ncount_shared = true\n",
                "chatplay.count_shared",
                9,
            ),
        ];
        for (extra, key, line) in cases {
            let e = load(extra).expect_err(extra);
            assert_eq!((e.key(), e.line()), (Some(key), Some(line)), "{extra}: {e}");
        }
    }
}
