//! Weighted votes: bits cheered in a round add weight to the cheering user's ballot, up to a cap.
//!
//! A democracy vote with [`VoteConfig::bits_per_vote`](super::VoteConfig::bits_per_vote) set
//! (say 100) and [`max_weight_per_user`](super::VoteConfig::max_weight_per_user) (say 5) gives
//! each ballot a weight:
//!
//! ```text
//! weight = min(max_weight_per_user, 1 + floor(bits_this_round / bits_per_vote))
//! ```
//!
//! * **Bits count for the round open when they arrive**, per user, in every weighted vote that
//!   takes ballots from that channel. A cheer without a ballot (`Cheer300` alone) is kept for the
//!   user until the round closes and weighs the ballot they cast later; a cheer after the ballot
//!   raises the weight of the ballot held. Bits cheered while no round is open count nowhere.
//! * **A changed ballot keeps its weight** (the bits belong to the user, not to the option).
//! * **Moderation removes the weight with the ballot** (a timeout, a deleted message). The bits
//!   stay the user's for the round: a later ballot of theirs weighs as much again.
//! * **A cheer can carry its ballot**: `Cheer100 up` is a ballot for `up`. Twitch puts the
//!   cheermotes (`Cheer100`, `4Head50`, `BibleThump1`: a name ending in the amount) in the text;
//!   the words whose amounts add up to the message's bits are taken out before the text is read
//!   as a ballot (see [`without_cheermotes`]).
//! * **Why the cap.** Paid votes must not silence everyone else: without a cap one viewer with
//!   deep pockets decides every round, and the other voters stop voting. With `max_weight_per_user
//!   = 5` a cheering viewer counts at most as much as five viewers who did not pay.
//!
//! `voters` still counts users (one each); the ballot tally stays one per user, and the weighted
//! totals come beside it ([`VoteResult::weighted`](super::VoteResult::weighted)). The winner is
//! chosen on the weighted totals. Weights are for democracy votes only: anarchy passes every
//! input on as it comes, so there is nothing to weigh.
//!
//! The counts move through [`Count`](super::count) (checked in test builds): the weighted total of
//! one input is at most `max_voters * max_weight_per_user` (10^8 * 10^6 < 2^64), so it cannot wrap
//! in a correct engine, and a bookkeeping slip panics in the tests instead of wrapping silently.
//! Bits themselves come from the network: they are added with saturation (a hostile `bits` tag of
//! 2^64 - 1, twice, gives the cap, not a wrap).

use std::borrow::Cow;

/// The largest accepted [`VoteConfig::bits_per_vote`](super::VoteConfig::bits_per_vote).
pub const MAX_BITS_PER_VOTE: u64 = 1_000_000;
/// The largest accepted [`VoteConfig::max_weight_per_user`](super::VoteConfig::max_weight_per_user).
pub const MAX_WEIGHT_PER_USER: u32 = 1_000_000;

/// A vote's weighting rule (validated: both at least 1, at most the constants above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Weighting {
    bits_per_vote: u64,
    max_weight: u32,
}

impl Weighting {
    pub(crate) fn new(bits_per_vote: u64, max_weight: u32) -> Self {
        Self {
            bits_per_vote: bits_per_vote.max(1),
            max_weight: max_weight.max(1),
        }
    }

    /// The weight of a ballot whose user cheered `bits` this round.
    pub(crate) fn weight(&self, bits: u32) -> u32 {
        let extra = u64::from(bits) / self.bits_per_vote;
        u32::try_from(extra.saturating_add(1))
            .unwrap_or(u32::MAX)
            .min(self.max_weight)
    }
}

/// Bits as a voter record keeps them: saturating at `u32::MAX` (far above any cap:
/// `MAX_BITS_PER_VOTE * MAX_WEIGHT_PER_USER` is not needed, the weight is capped at
/// [`MAX_WEIGHT_PER_USER`] anyway and `u32::MAX / 1` already exceeds it).
pub(crate) fn add_bits(held: u32, bits: u64) -> u32 {
    held.saturating_add(u32::try_from(bits).unwrap_or(u32::MAX))
}

/// The amount of a cheermote-like word (`Cheer100` → 100, `4Head50` → 50), else `None`: a name
/// with at least one letter, ASCII letters and digits only, ending in 1 to 9 digits without a
/// leading zero.
fn cheer_amount(word: &str) -> Option<u64> {
    let b = word.as_bytes();
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let (name, amount) = b.split_at(b.len() - digits);
    if !(1..=9).contains(&digits)
        || amount[0] == b'0'
        || !name.iter().all(u8::is_ascii_alphanumeric)
        || !name.iter().any(u8::is_ascii_alphabetic)
    {
        return None;
    }
    std::str::from_utf8(amount).ok()?.parse().ok()
}

/// `text` without the cheermotes of a message that cheered `bits`, for reading it as a ballot.
///
/// Which words are cheermotes: the cheermote-like words (a name ending in its amount) if their
/// amounts add up to `bits`; otherwise, if leaving out one of them (the first that fits) makes the
/// rest add up, the others (`up2 Cheer100` with 100 bits keeps `up2`). When no such reading
/// exists, or `bits` is 0, the text is returned unchanged (and is most likely no ballot).
///
/// ```
/// use twitch_bot::chatplay::weight::without_cheermotes;
/// assert_eq!(without_cheermotes("Cheer100 up", 100), "up");
/// assert_eq!(without_cheermotes("cheer50 Cheer50 !vote left", 100), "!vote left");
/// assert_eq!(without_cheermotes("up2 Cheer100", 100), "up2");
/// assert_eq!(without_cheermotes("Cheer100", 100), "");
/// assert_eq!(without_cheermotes("Cheer5 up", 100), "Cheer5 up"); // does not add up: unchanged
/// ```
pub fn without_cheermotes(text: &str, bits: u64) -> Cow<'_, str> {
    if bits == 0 {
        return Cow::Borrowed(text);
    }
    let mut total: u64 = 0;
    let mut any = false;
    for amount in text.split_whitespace().filter_map(cheer_amount) {
        total = total.saturating_add(amount);
        any = true;
    }
    if !any {
        return Cow::Borrowed(text);
    }
    // The one cheer-like word kept as text, if the amounts only add up without it.
    let keep = if total == bits {
        None
    } else {
        let extra = total.saturating_sub(bits);
        match text
            .split_whitespace()
            .position(|w| total > bits && cheer_amount(w) == Some(extra))
        {
            Some(i) => Some(i),
            None => return Cow::Borrowed(text),
        }
    };
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split_whitespace().enumerate() {
        if Some(i) != keep && cheer_amount(word).is_some() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_grow_with_bits_and_stop_at_the_cap() {
        let w = Weighting::new(100, 5);
        let weights: Vec<u32> = [0, 99, 100, 199, 200, 400, 401, 10_000, u32::MAX]
            .iter()
            .map(|&b| w.weight(b))
            .collect();
        assert_eq!(weights, [1, 1, 2, 2, 3, 5, 5, 5, 5]);
        // bits_per_vote = 1 and the largest cap: the cap still holds at the largest bits.
        let w = Weighting::new(1, MAX_WEIGHT_PER_USER);
        assert_eq!(w.weight(u32::MAX), MAX_WEIGHT_PER_USER);
        assert_eq!(w.weight(41), 42);
    }

    #[test]
    fn hostile_bits_saturate() {
        assert_eq!(add_bits(0, u64::MAX), u32::MAX);
        assert_eq!(add_bits(u32::MAX, u64::MAX), u32::MAX);
        assert_eq!(add_bits(u32::MAX - 1, 5), u32::MAX);
        assert_eq!(add_bits(7, 3), 10);
    }

    #[test]
    fn cheermotes_are_taken_out_only_when_they_add_up() {
        let cases = [
            ("Cheer100 up", 100, "up"),
            ("up Cheer100", 100, "up"),
            ("Cheer1 Cheer1 Cheer1 !vote down", 3, "!vote down"),
            ("4Head50 BibleThump50 left", 100, "left"),
            ("up2 Cheer100", 100, "up2"),
            ("Cheer100 up2", 100, "up2"),
            ("Cheer100", 100, ""),
            ("Cheer100 up", 50, "Cheer100 up"),
            ("Cheer100 up", 0, "Cheer100 up"),
            ("up", 100, "up"),
            ("Cheer0100 up", 100, "Cheer0100 up"),
            (
                "Cheer99999999999999999999 up",
                u64::MAX,
                "Cheer99999999999999999999 up",
            ),
            ("ünï100 up", 100, "ünï100 up"),
            ("", 100, ""),
        ];
        for (text, bits, want) in cases {
            assert_eq!(without_cheermotes(text, bits), want, "{text:?} {bits}");
        }
    }
}
