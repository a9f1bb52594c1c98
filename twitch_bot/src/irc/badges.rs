//! Badges (`badges`, `badge-info` tags): `name/version,name/version`.

use super::RawTags;

/// One badge, as in the `badges` or `badge-info` tag: `name/version`.
///
/// ```
/// use twitch_bot::irc::{Badge, RawTags};
/// let tags = RawTags::parse("badges=moderator/1,subscriber/12");
/// let badges = twitch_bot::irc::parse_badges(&tags, "badges");
/// assert_eq!(badges[0], Badge { name: "moderator".into(), version: "1".into() });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Badge {
    /// The badge's name, e.g. `moderator`, `subscriber`, `broadcaster`, `vip`.
    pub name: String,
    /// The badge's version (for `badge-info`'s `subscriber`, the exact months).
    pub version: String,
}

/// Reads a badge list tag (`badges` or `badge-info`). Missing or empty gives an empty list; an entry
/// without `/` has an empty version; empty entries are skipped. Never fails.
pub fn parse_badges(tags: &RawTags<'_>, key: &str) -> Vec<Badge> {
    let Some(value) = tags.get(key) else {
        return Vec::new();
    };
    value
        .split(',')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, version) = entry.split_once('/').unwrap_or((entry, ""));
            Badge {
                name: name.to_owned(),
                version: version.to_owned(),
            }
        })
        .collect()
}

/// True when `badges` holds a badge called `name`.
pub(crate) fn has_badge(badges: &[Badge], name: &str) -> bool {
    badges.iter().any(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_badge_lists() {
        let tags = RawTags::parse(r"badges=,a,b/,c/1/2;badge-info=predictions/blue-1\s2");
        let badges = parse_badges(&tags, "badges");
        let pairs: Vec<_> = badges
            .iter()
            .map(|b| (b.name.as_str(), b.version.as_str()))
            .collect();
        assert_eq!(pairs, [("a", ""), ("b", ""), ("c", "1/2")]);
        let info = parse_badges(&tags, "badge-info");
        assert_eq!(info[0].version, "blue-1 2", "versions are unescaped");
        assert!(parse_badges(&tags, "missing").is_empty());
    }
}
