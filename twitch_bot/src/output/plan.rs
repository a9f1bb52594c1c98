//! The sans-IO keyboard planner: events in, a timeline of key presses and releases out. No clock, no OS.
//!
//! Like the Twitch session, it is driven by four kinds of calls, with time passed in:
//!
//! - [`Planner::handle_event`]: an event the program printed (a round closed, an anarchy input, a command);
//! - [`Planner::set_enabled`]: pause (releases every held key at once, drops waiting presses) or resume;
//! - [`Planner::handle_timeout`]: the time reached [`Planner::poll_timeout`]'s deadline, or a press may start;
//! - [`Planner::poll_action`]: take out what the back-end must do now (press, release, emit an event).
//!
//! # Rules
//!
//! - **Only bound keys.** A press is always a binding's chord from the validated config; no text from chat
//!   ever reaches the keyboard.
//! - **Democracy:** when a round closes with a winner, the winner's binding fires; a winner `up3` (with
//!   `max_repeat` 3 or more) presses `up`'s chord three times.
//! - **Anarchy and commands:** each accepted input fires in arrival order, after two rate caps (per user and
//!   global, token buckets of `user_per_sec` / `global_per_sec` presses per second holding at least one).
//! - **Bounded queue, documented drop rule.** At most `queue_max` presses wait; when one more arrives on a full
//!   queue, the **oldest waiting** press is dropped (the press being held is never cut short). The lag behind
//!   chat is therefore at most about `queue_max` × (hold + gap).
//! - **One chord at a time.** Keys are pressed in chord order, held `hold_ms`, released in reverse order, then
//!   `gap_ms` passes before the next press (a repeat or the next input).
//! - **Focus guard.** Before every press the caller reports whether the target window is focused; when it is
//!   not, the press (and its remaining repeats) is skipped and counted, and a `keys_skipped` event says so.
//! - **Pause** releases every held key at once, drops everything waiting, and ignores events until resumed.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::config::{Binding, OutputConfig, Trigger};
use super::keys::Key;
use crate::events::Event;

/// Most users whose rate-cap state is kept; beyond it, idle users are forgotten, then new users refused.
pub const MAX_TRACKED_USERS: usize = 10_000;

/// What the back-end must do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Press (and keep down) this key.
    Press(Key),
    /// Release this key.
    Release(Key),
    /// Emit this event on the program's event stream (`keys`, `keys_skipped`, `output_paused`, ...).
    Emit(Event),
}

/// Counters, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Chords started (each repeat counts).
    pub presses: u64,
    /// Presses skipped because the target window was not focused.
    pub skipped_focus: u64,
    /// Inputs refused by the per-user cap.
    pub refused_user: u64,
    /// Inputs refused by the global cap.
    pub refused_global: u64,
    /// Waiting presses dropped because the queue was full.
    pub dropped_queue: u64,
    /// Events ignored because output was paused.
    pub ignored_paused: u64,
}

#[derive(Debug, Clone)]
struct Job {
    binding: usize,
    repeat: u32,
    vote: Option<String>,
    input: Option<String>,
    command: Option<String>,
    user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Holding,
    Gap,
}

#[derive(Debug)]
struct Running {
    job: Job,
    /// Presses completed.
    done: u32,
    phase: Phase,
    until: Instant,
}

/// A token bucket: `rate` tokens per second, holding at most `max(rate, 1)`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.max(1.0),
            at: now,
        }
    }

    fn refill(&mut self, rate: f64, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(rate.max(1.0));
        self.at = now;
    }
}

/// The planner (see the module docs).
#[derive(Debug)]
pub struct Planner {
    config: OutputConfig,
    paused: bool,
    queue: VecDeque<Job>,
    current: Option<Running>,
    held: Vec<Key>,
    actions: VecDeque<Action>,
    users: HashMap<String, Bucket>,
    global: Option<Bucket>,
    stats: Stats,
}

impl Planner {
    /// A planner for `config`'s bindings; `paused` starts it paused (`--output-paused`, which is reported with
    /// an `output_paused` event).
    pub fn new(config: OutputConfig, paused: bool) -> Planner {
        let mut p = Planner {
            config,
            paused,
            queue: VecDeque::new(),
            current: None,
            held: Vec::new(),
            actions: VecDeque::new(),
            users: HashMap::new(),
            global: None,
            stats: Stats::default(),
        };
        if paused {
            p.actions.push_back(Action::Emit(Event::OutputPaused {
                by: "--output-paused".into(),
            }));
        }
        p
    }

    /// Whether output is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Keys currently held down.
    pub fn held(&self) -> &[Key] {
        &self.held
    }

    /// Presses waiting (not counting the one in progress).
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Feeds one event the program printed.
    pub fn handle_event(&mut self, event: &Event, now: Instant) {
        match event {
            Event::Command { command, user, .. } if *command == self.config.pause_command => {
                self.set_enabled(false, user);
            }
            Event::Command { command, user, .. } if *command == self.config.resume_command => {
                self.set_enabled(true, user);
            }
            _ if self.paused => {
                if matches!(
                    event,
                    Event::VoteClosed { .. } | Event::Input { .. } | Event::Command { .. }
                ) {
                    self.stats.ignored_paused += 1;
                }
            }
            Event::VoteClosed {
                vote,
                winner: Some(label),
                ..
            } => {
                if let Some((binding, option, repeat)) = self.winner_binding(vote, label) {
                    self.push(Job {
                        binding,
                        repeat,
                        vote: Some(vote.clone()),
                        input: Some(option),
                        command: None,
                        user: None,
                    });
                }
            }
            Event::Input {
                vote,
                input,
                repeat,
                user,
                ..
            } => {
                let trigger = Trigger::Vote {
                    vote: vote.clone(),
                    input: input.clone(),
                };
                if let Some(binding) = self.index(&trigger)
                    && self.admit(user, now)
                {
                    self.push(Job {
                        binding,
                        repeat: (*repeat).max(1),
                        vote: Some(vote.clone()),
                        input: Some(input.clone()),
                        command: None,
                        user: Some(user.clone()),
                    });
                }
            }
            Event::Command { command, user, .. } => {
                if let Some(binding) = self.index(&Trigger::Command(command.clone()))
                    && self.admit(user, now)
                {
                    self.push(Job {
                        binding,
                        repeat: 1,
                        vote: None,
                        input: None,
                        command: Some(command.clone()),
                        user: Some(user.clone()),
                    });
                }
            }
            _ => {}
        }
    }

    /// Pauses (`enabled` false: every held key is released now, waiting presses are dropped) or resumes.
    /// `by` is reported in the `output_paused` / `output_resumed` event; nothing happens when the state
    /// does not change.
    pub fn set_enabled(&mut self, enabled: bool, by: &str) {
        if enabled != self.paused {
            return;
        }
        self.paused = !enabled;
        if self.paused {
            self.release_all();
            self.actions
                .push_back(Action::Emit(Event::OutputPaused { by: by.into() }));
        } else {
            self.actions
                .push_back(Action::Emit(Event::OutputResumed { by: by.into() }));
        }
    }

    /// Releases every held key (in reverse press order) and forgets the press in progress and the waiting
    /// ones. For shutdown and pause.
    pub fn release_all(&mut self) {
        while let Some(k) = self.held.pop() {
            self.actions.push_back(Action::Release(k));
        }
        self.current = None;
        self.stats.dropped_queue += self.queue.len() as u64;
        self.queue.clear();
    }

    /// When [`Planner::handle_timeout`] must be called next (a hold or gap ends). When this is `None` but
    /// presses wait, call it at once (the driver calls it after every event anyway).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.as_ref().map(|r| r.until)
    }

    /// Advances the timeline to `now`. `focused` is asked just before each press whether the target window is
    /// focused (always `true` without a focus guard).
    pub fn handle_timeout(&mut self, now: Instant, focused: &mut dyn FnMut() -> bool) {
        loop {
            let Some(run) = self.current.as_mut() else {
                let Some(job) = self.queue.pop_front() else {
                    return;
                };
                if self.start_press(&job, 0, focused) {
                    self.current = Some(Running {
                        until: now + self.hold(&job),
                        job,
                        done: 0,
                        phase: Phase::Holding,
                    });
                    return;
                }
                continue;
            };
            if run.until > now {
                return;
            }
            match run.phase {
                Phase::Holding => {
                    while let Some(k) = self.held.pop() {
                        self.actions.push_back(Action::Release(k));
                    }
                    run.done += 1;
                    run.phase = Phase::Gap;
                    let gap = Duration::from_millis(self.config.bindings[run.job.binding].gap_ms);
                    run.until = now + gap;
                }
                Phase::Gap => {
                    let run = self.current.take().expect("checked above");
                    if run.done < run.job.repeat && self.start_press(&run.job, run.done, focused) {
                        self.current = Some(Running {
                            until: now + self.hold(&run.job),
                            phase: Phase::Holding,
                            ..run
                        });
                        return;
                    }
                }
            }
        }
    }

    /// The next thing the back-end must do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn hold(&self, job: &Job) -> Duration {
        Duration::from_millis(self.config.bindings[job.binding].hold_ms)
    }

    /// Presses the job's chord (after `done` presses of it) if the window is focused; the first press is
    /// announced with a `keys` event. Unfocused: the remaining presses are skipped and counted.
    fn start_press(&mut self, job: &Job, done: u32, focused: &mut dyn FnMut() -> bool) -> bool {
        let binding: &Binding = &self.config.bindings[job.binding];
        let names: Vec<String> = binding.keys.iter().map(|k| k.name.to_owned()).collect();
        if !focused() {
            self.stats.skipped_focus += u64::from(job.repeat.saturating_sub(done).max(1));
            self.actions.push_back(Action::Emit(Event::KeysSkipped {
                reason: "focus".into(),
                keys: names,
                total: self.stats.skipped_focus,
            }));
            return false;
        }
        if done == 0 {
            self.actions.push_back(Action::Emit(Event::Keys {
                vote: job.vote.clone(),
                input: job.input.clone(),
                command: job.command.clone(),
                keys: names,
                repeat: job.repeat,
                user: job.user.clone(),
            }));
        }
        for k in &binding.keys {
            self.held.push(*k);
            self.actions.push_back(Action::Press(*k));
        }
        self.stats.presses += 1;
        true
    }

    fn index(&self, trigger: &Trigger) -> Option<usize> {
        self.config
            .bindings
            .iter()
            .position(|b| &b.trigger == trigger)
    }

    /// A democracy winner's label (`up`, or `up3` with a repeat count) → binding, option and repeat. The exact
    /// option is tried first, as the engine does, so an option ending in a digit keeps working.
    fn winner_binding(&self, vote: &str, label: &str) -> Option<(usize, String, u32)> {
        let exact = Trigger::Vote {
            vote: vote.to_owned(),
            input: label.to_owned(),
        };
        if let Some(i) = self.index(&exact) {
            return Some((i, label.to_owned(), 1));
        }
        let (head, last) = label.split_at(label.len().checked_sub(1)?);
        let repeat = last.parse::<u32>().ok().filter(|r| (1..=9).contains(r))?;
        let trigger = Trigger::Vote {
            vote: vote.to_owned(),
            input: head.to_owned(),
        };
        self.index(&trigger).map(|i| (i, head.to_owned(), repeat))
    }

    /// The rate caps: takes a token from the user's bucket and the global one, or refuses (counted).
    fn admit(&mut self, user: &str, now: Instant) -> bool {
        let (user_rate, global_rate) = (self.config.user_per_sec, self.config.global_per_sec);
        if !self.users.contains_key(user) && self.users.len() >= MAX_TRACKED_USERS {
            // Forget users whose bucket has refilled: they are indistinguishable from new ones.
            self.users.retain(|_, b| {
                let mut b = *b;
                b.refill(user_rate, now);
                b.tokens < user_rate.max(1.0)
            });
            if self.users.len() >= MAX_TRACKED_USERS {
                self.stats.refused_user += 1;
                return false;
            }
        }
        let ub = self
            .users
            .entry(user.to_owned())
            .or_insert_with(|| Bucket::full(user_rate, now));
        ub.refill(user_rate, now);
        if ub.tokens < 1.0 {
            self.stats.refused_user += 1;
            return false;
        }
        let gb = self
            .global
            .get_or_insert_with(|| Bucket::full(global_rate, now));
        gb.refill(global_rate, now);
        if gb.tokens < 1.0 {
            self.stats.refused_global += 1;
            return false;
        }
        gb.tokens -= 1.0;
        if let Some(ub) = self.users.get_mut(user) {
            ub.tokens -= 1.0;
        }
        true
    }

    fn push(&mut self, job: Job) {
        if self.queue.len() >= self.config.queue_max {
            self.queue.pop_front();
            self.stats.dropped_queue += 1;
        }
        self.queue.push_back(job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::events::Tally;

    const BASE: &str = r#"
[[vote]]
name = "move"
options = ["up", "down", "a1"]
max_repeat = 9

[[vote]]
name = "chaos"
options = ["left", "right"]
mode = "anarchy"

[[command]]
name = "jump"

[output]
kind = "keyboard"
queue_max = 3
user_per_sec = 1.0
global_per_sec = 100.0

[[key]]
vote = "move"
input = "up"
keys = ["Up"]
hold_ms = 100
gap_ms = 50

[[key]]
vote = "move"
input = "a1"
keys = ["A"]

[[key]]
vote = "chaos"
input = "left"
keys = ["Shift", "Left"]
hold_ms = 30
gap_ms = 10

[[key]]
vote = "chaos"
input = "right"
keys = ["Right"]
hold_ms = 30
gap_ms = 10

[[key]]
command = "jump"
keys = ["Space"]
"#;

    fn config(extra: &str) -> OutputConfig {
        Config::from_toml_str(
            &BASE.replace("[output]\n", &format!("[output]\n{extra}\n")),
            "t.toml",
        )
        .unwrap()
        .output
    }

    /// One line per action: `+Up@0` (press at ms 0), `-Up@100`, `!keys`, with the fake clock's ms.
    struct Sim {
        p: Planner,
        t0: Instant,
        now: Instant,
        log: Vec<String>,
        events: Vec<Event>,
        focused: bool,
    }

    impl Sim {
        fn new(cfg: OutputConfig) -> Sim {
            let t0 = Instant::now();
            Sim {
                p: Planner::new(cfg, false),
                t0,
                now: t0,
                log: Vec::new(),
                events: Vec::new(),
                focused: true,
            }
        }
        fn ms(&self) -> u128 {
            (self.now - self.t0).as_millis()
        }
        fn drain(&mut self) {
            let focused = self.focused;
            self.p.handle_timeout(self.now, &mut || focused);
            while let Some(a) = self.p.poll_action() {
                let ms = self.ms();
                match a {
                    Action::Press(k) => self.log.push(format!("+{}@{ms}", k.name)),
                    Action::Release(k) => self.log.push(format!("-{}@{ms}", k.name)),
                    Action::Emit(e) => self.events.push(e),
                }
            }
        }
        fn event(&mut self, e: Event) {
            self.p.handle_event(&e, self.now);
            self.drain();
        }
        /// Runs the timeline until nothing is scheduled, following poll_timeout exactly (a fake clock).
        fn run(&mut self) {
            while let Some(t) = self.p.poll_timeout() {
                self.now = t;
                self.drain();
            }
        }
        fn advance(&mut self, ms: u64) {
            let end = self.now + Duration::from_millis(ms);
            while let Some(t) = self.p.poll_timeout().filter(|t| *t <= end) {
                self.now = t;
                self.drain();
            }
            self.now = end;
            self.drain();
        }
    }

    fn closed(vote: &str, winner: &str) -> Event {
        Event::VoteClosed {
            vote: vote.into(),
            round: 1,
            winner: Some(winner.into()),
            tally: Tally::default(),
            voters: 1,
            refused_ballots: 0,
            weighted: None,
        }
    }

    fn input(vote: &str, input: &str, user: &str) -> Event {
        Event::Input {
            vote: vote.into(),
            input: input.into(),
            repeat: 1,
            user: user.into(),
            user_id: String::new(),
        }
    }

    fn command(name: &str, user: &str) -> Event {
        Event::Command {
            command: name.into(),
            channel: "c".into(),
            user: user.into(),
            user_id: String::new(),
            args: String::new(),
        }
    }

    #[test]
    fn democracy_winner_fires_its_binding_with_hold_and_repeat() {
        let mut s = Sim::new(config(""));
        s.event(closed("move", "up3"));
        s.run();
        assert_eq!(
            s.log,
            [
                "+Up@0", "-Up@100", "+Up@150", "-Up@250", "+Up@300", "-Up@400"
            ]
        );
        assert_eq!(
            s.events,
            [Event::Keys {
                vote: Some("move".into()),
                input: Some("up".into()),
                command: None,
                keys: vec!["Up".into()],
                repeat: 3,
                user: None
            }]
        );
        // An option that ends in a digit is matched exactly first (as the engine does).
        s.event(closed("move", "a1"));
        s.run();
        assert_eq!(s.log[6..], ["+A@450", "-A@550"]);
        // Unbound winners and no winner press nothing.
        let before = s.log.len();
        s.event(closed("move", "down"));
        s.event(Event::VoteClosed {
            vote: "move".into(),
            round: 2,
            winner: None,
            tally: Tally::default(),
            voters: 0,
            refused_ballots: 0,
            weighted: None,
        });
        s.event(closed("nosuchvote", "up"));
        s.run();
        assert_eq!(s.log.len(), before);
    }

    #[test]
    fn anarchy_inputs_fire_in_arrival_order_and_chords_release_in_reverse() {
        let mut s = Sim::new(config(""));
        s.event(input("chaos", "left", "u1"));
        s.event(input("chaos", "right", "u2"));
        s.event(command("jump", "u3"));
        s.run();
        assert_eq!(
            s.log,
            [
                "+Shift@0",
                "+Left@0",
                "-Left@30",
                "-Shift@30",
                "+Right@40",
                "-Right@70",
                "+Space@80",
                "-Space@180"
            ]
        );
        assert!(s.p.held().is_empty());
    }

    #[test]
    fn a_full_queue_drops_the_oldest_waiting_press() {
        let mut s = Sim::new(config(""));
        // u0's press starts at once; 3 wait (queue_max 3); each new one drops the oldest waiting.
        for u in 0..6 {
            let which = if u % 2 == 0 { "left" } else { "right" };
            s.event(input("chaos", which, &format!("u{u}")));
        }
        assert_eq!(s.p.waiting(), 3);
        assert_eq!(s.p.stats().dropped_queue, 2);
        s.run();
        let users: Vec<Option<String>> = s
            .events
            .iter()
            .map(|e| match e {
                Event::Keys { user, .. } => user.clone(),
                _ => None,
            })
            .collect();
        // u1 and u2 (the oldest waiting) were dropped.
        assert_eq!(
            users,
            [
                Some("u0".into()),
                Some("u3".into()),
                Some("u4".into()),
                Some("u5".into())
            ]
        );
    }

    #[test]
    fn per_user_and_global_rate_caps() {
        // user_per_sec 1: one token, one more per second.
        let mut cfg = config("");
        cfg.queue_max = 100;
        let mut s = Sim::new(cfg);
        s.event(input("chaos", "left", "spammer"));
        s.event(input("chaos", "left", "spammer"));
        s.event(input("chaos", "left", "spammer"));
        assert_eq!(s.p.stats().refused_user, 2);
        s.advance(1000);
        s.event(input("chaos", "right", "spammer"));
        assert_eq!(s.p.stats().refused_user, 2);
        s.run();
        assert_eq!(
            s.log,
            [
                "+Shift@0",
                "+Left@0",
                "-Left@30",
                "-Shift@30",
                "+Right@1000",
                "-Right@1030"
            ]
        );

        // global_per_sec 2: a burst of two, then one every 500 ms whoever sends.
        let mut cfg = config("");
        cfg.queue_max = 100;
        cfg.global_per_sec = 2.0;
        cfg.user_per_sec = 100.0;
        let mut s = Sim::new(cfg);
        for u in 0..5 {
            s.event(input("chaos", "right", &format!("u{u}")));
        }
        assert_eq!(s.p.stats().refused_global, 3);
        s.advance(500);
        s.event(input("chaos", "right", "late"));
        assert_eq!(s.p.stats().refused_global, 3);
        s.run();
        assert_eq!(s.p.stats().presses, 3);
    }

    #[test]
    fn pause_releases_held_keys_drops_waiting_and_ignores_until_resumed() {
        let mut s = Sim::new(config(""));
        s.event(input("chaos", "left", "u1"));
        s.event(input("chaos", "right", "u2"));
        s.advance(10);
        assert_eq!(s.p.held().len(), 2);
        // A moderator's !pause (the engine only emits a mods_only command for moderators).
        s.event(command("pause", "mod1"));
        assert_eq!(s.log, ["+Shift@0", "+Left@0", "-Left@10", "-Shift@10"]);
        assert!(s.p.held().is_empty() && s.p.waiting() == 0 && s.p.poll_timeout().is_none());
        s.event(input("chaos", "right", "u3"));
        s.event(closed("move", "up"));
        s.advance(1000);
        assert_eq!(s.log.len(), 4);
        assert_eq!(s.p.stats().ignored_paused, 2);
        s.event(command("resume", "mod1"));
        s.event(input("chaos", "right", "u4"));
        s.run();
        assert_eq!(s.log[4..], ["+Right@1010", "-Right@1040"]);
        let kinds: Vec<&str> = s.events.iter().map(Event::kind).collect();
        assert_eq!(kinds, ["keys", "output_paused", "output_resumed", "keys"]);
        // Pausing twice reports once.
        s.p.set_enabled(false, "stdin");
        s.p.set_enabled(false, "stdin");
        s.drain();
        assert_eq!(s.events.len(), 5);
    }

    #[test]
    fn starting_paused_presses_nothing() {
        let mut s = Sim::new(config(""));
        s.p = Planner::new(config(""), true);
        s.drain();
        s.event(input("chaos", "left", "u1"));
        s.event(closed("move", "up"));
        s.run();
        assert!(s.log.is_empty());
        assert_eq!(
            s.events,
            [Event::OutputPaused {
                by: "--output-paused".into()
            }]
        );
    }

    #[test]
    fn focus_guard_skips_and_counts_presses_while_unfocused() {
        let mut s = Sim::new(config(""));
        s.focused = false;
        s.event(closed("move", "up3"));
        s.event(input("chaos", "right", "u1"));
        s.run();
        assert!(s.log.is_empty());
        assert_eq!(s.p.stats().skipped_focus, 4);
        assert!(matches!(
            s.events.last(),
            Some(Event::KeysSkipped { total: 4, .. })
        ));
        // Focus lost between repeats: the remaining repeats are skipped, nothing stays held.
        s.focused = true;
        s.event(closed("move", "up3"));
        s.advance(120);
        s.focused = false;
        s.run();
        assert_eq!(s.log.len(), 2);
        assert!(s.p.held().is_empty());
        assert_eq!(s.p.stats().skipped_focus, 6);
    }

    #[test]
    fn only_bound_keys_are_ever_pressed() {
        use crate::output::config::Trigger;
        let mut cfg = config("");
        (cfg.queue_max, cfg.user_per_sec, cfg.global_per_sec) = (1000, 1000.0, 1000.0);
        let bound: Vec<&str> = cfg
            .bindings
            .iter()
            .flat_map(|b| b.keys.iter().map(|k| k.name))
            .collect();
        assert!(
            cfg.bindings
                .iter()
                .any(|b| b.trigger == Trigger::Command("jump".into()))
        );
        let mut s = Sim::new(cfg);
        // Arbitrary chat-shaped events, bound or not.
        let words = [
            "up", "down", "left", "right", "a", "Escape", "F4", "up9", "a1", "pause",
        ];
        for (i, w) in words.iter().cycle().take(200).enumerate() {
            let u = format!("u{i}");
            s.event(input("chaos", w, &u));
            s.event(input("move", w, &u));
            s.event(closed("move", w));
            s.event(closed("chaos", w));
            s.event(command(w, &u));
            s.advance(7);
        }
        s.run();
        assert!(!s.log.is_empty());
        for l in &s.log {
            let name = l[1..].split('@').next().unwrap();
            assert!(bound.contains(&name), "{l}");
        }
        assert!(s.p.held().is_empty());
    }
}
