//! The clocks the driver owns besides the sessions' own (PING, login, joins, rate limits): the engine's round
//! ends and the periodic live `tally` events, and the one deadline the loop sleeps until.

use std::time::{Duration, Instant};

use super::Core;
use super::chat_core::ChatCore;
use super::link::Links;
use crate::chatplay;
use crate::config::Config;
use crate::events::{Event, Tally};

/// The periodic `tally` event of one vote with `tally_interval_secs` set.
///
/// Armed when a round of the vote opens (first report one interval later: `vote_opened` already shows the
/// empty start), disarmed when it closes (`vote_closed` carries the final count). A late timer (the driver was
/// busy) fires once and re-arms from now, so a stall never turns into a burst of reports.
#[derive(Debug)]
pub(crate) struct LiveTallyTimer {
    vote: String,
    every: Duration,
    /// When the next report is due; `None` while no round is open.
    next: Option<Instant>,
}

/// A tally's entries as the events' [`Tally`] (labels such as `up2`, in order).
pub(crate) fn tally_of(entries: &[chatplay::TallyEntry]) -> Tally {
    Tally(
        entries
            .iter()
            .map(|e| (e.choice.label(), e.count))
            .collect(),
    )
}

/// The `tally` event for a live tally.
pub(crate) fn tally_event(live: chatplay::LiveTally) -> Event {
    Event::Tally {
        vote: live.vote,
        round: live.round,
        open: live.open,
        tally: Tally(
            live.tally
                .iter()
                .map(|e| (e.choice.label(), e.count))
                .collect(),
        ),
        voters: live.voters,
        remaining_ms: if live.open {
            live.remaining.as_millis() as u64
        } else {
            0
        },
        weighted: live.weighted.as_deref().map(tally_of),
    }
}

/// A timer per vote with `tally_interval_secs` set (validated with the config, so out-of-range values
/// cannot reach here; they would count as off).
pub(crate) fn live_tally_timers(config: &Config) -> Vec<LiveTallyTimer> {
    config
        .votes
        .iter()
        .filter_map(|v| {
            let every = v.tally_interval().ok().flatten()?;
            Some(LiveTallyTimer {
                vote: v.name.clone(),
                every,
                next: None,
            })
        })
        .collect()
}

impl ChatCore {
    /// A round of `vote` opened: its first live tally is due one interval later (`vote_opened` already
    /// shows the empty start).
    pub(crate) fn live_tally_round_opened(&mut self, vote: &str, now: Instant) {
        if let Some(t) = self.live_tallies.iter_mut().find(|t| t.vote == vote) {
            t.next = Some(now + t.every);
        }
    }

    /// A round of `vote` closed: no more live tallies for it (`vote_closed` carries the final count).
    pub(crate) fn live_tally_round_closed(&mut self, vote: &str) {
        if let Some(t) = self.live_tallies.iter_mut().find(|t| t.vote == vote) {
            t.next = None;
        }
    }

    /// When the engine side must wake up next: a round's end or a live tally.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.engine.poll_timeout(),
            self.live_tallies.iter().filter_map(|t| t.next).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The engine's due round ends, then the live tallies due.
    pub(crate) fn engine_timers(&mut self, now: Instant) {
        // Only when due: the engine's first handle_timeout would open the auto rounds, which must wait
        // for the first join.
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.engine.handle_timeout(now);
        }
        // The engine's events before the live tallies: a round that just closed disarms its timer (its
        // vote_closed carries the final count), and the next auto round's vote_opened re-arms it one
        // interval later; otherwise a report due at the round's end would show the *next* round before
        // its vote_opened.
        while let Some(ev) = self.engine.poll_event() {
            self.on_engine_event(ev, now);
        }
        self.live_tallies_due(now);
    }

    /// Emits the `tally` event of every vote whose periodic report is due and whose round is still open, and
    /// re-arms its timer.
    fn live_tallies_due(&mut self, now: Instant) {
        for t in &mut self.live_tallies {
            let Some(due) = t.next.filter(|&d| d <= now) else {
                continue;
            };
            match self.engine.tally(&t.vote, now).filter(|l| l.open) {
                Some(live) => {
                    self.outbox.emit(tally_event(live));
                    // On time: keep the cadence; late: one report now, the next a whole interval later.
                    let next = due + t.every;
                    t.next = Some(if next > now { next } else { now + t.every });
                }
                None => t.next = None,
            }
        }
    }
}

impl Core {
    /// When the loop must wake up at the latest: the sessions' timers (PING, login, joins, rate limits), the
    /// engine's (round ends), the retry, the handover's limits and the periodic live tallies.
    pub(super) fn next_deadline(&mut self, links: &Links, now: Instant) -> Instant {
        [
            self.session.poll_timeout(),
            self.chat.poll_timeout(),
            links.retry_at,
            self.handover
                .as_mut()
                .and_then(|h| h.session.poll_timeout()),
            self.handover.as_ref().map(|h| h.until),
            self.retiring.as_ref().map(|r| r.until),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + Duration::from_secs(3600))
    }
}
