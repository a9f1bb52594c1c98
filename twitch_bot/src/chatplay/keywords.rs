//! Keyword handlers: the TwitchChatPlay gem's keyword API, thread-safe and with tokens.
//!
//! Register a closure for a keyword and keep the [`KeywordToken`] to unregister it. Several
//! handlers may share a keyword; each receives a [`KeywordHit`] with the transport-neutral
//! [`ChatMessage`] (login, display name, user id, channel, text, role flags, message id, bits,
//! reward), never a raw IRC prefix like the gem's "formatted" handler.
//!
//! | gem (`TwitchChatPlayRequestBus`) | here |
//! |---|---|
//! | `SetKeywordWith*Handler(keyword, fn)` | [`Keywords::register`] (runs where messages arrive) or [`Keywords::register_queued`] (runs on the game loop) |
//! | `RemoveKeyword(keyword)` | [`Keywords::remove_keyword`]; one handler: [`Keywords::unregister`] |
//! | (none: remove to disable) | [`Keywords::set_enabled`] |
//! | `UseTwitchPattern(true)` (first word) | [`MatchMode::FirstWord`], the default |
//! | "scan all words" (broken in the gem) | [`MatchMode::AnyWord`] |
//! | (none: case-sensitive only) | [`Keywords::set_case_insensitive`] |
//! | `ActivateKeywordMatching(false)` | [`Keywords::set_keyword_matching`]`(false)` + [`Keywords::set_raw_handler`] |
//!
//! Unlike the gem, keyword matching is **on** by default.
//!
//! # Threads
//!
//! [`Keywords`] is a cheap handle (`Clone`, `Send`, `Sync`) over one shared table behind a
//! read-write lock: the network side calls [`Keywords::dispatch`] while any thread registers,
//! unregisters or toggles keywords (the gem raced here). The lock is never held while a handler
//! runs, so a handler may itself change the table.
//!
//! * [`Delivery::Inline`] handlers run on the thread that called `dispatch`, before it returns.
//! * [`Delivery::Queued`] handlers are queued (with their own copy of the message, shared between
//!   handlers) and run when the game loop calls [`Keywords::run_queued`] on its thread, each
//!   frame: the gem's TickBus. The queue is bounded ([`Keywords::with_queue_capacity`], default
//!   1024): when full, new calls are dropped and counted ([`Keywords::dropped`]); see
//!   [`BoundedQueue`].
//!
//! A handler that panics unwinds into whoever called `dispatch` or `run_queued`.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use twitch_bot::chatplay::{Keywords, MatchMode};
//! # use twitch_bot::chatplay::ChatMessage;
//! # fn chat(text: &str) -> ChatMessage<'_> {
//! #     ChatMessage::new("chan", "ann", text)
//! # }
//!
//! let keywords = Keywords::new();
//! let jumps = Arc::new(Mutex::new(Vec::new()));
//! let sink = jumps.clone();
//! // Queued: runs on the game loop's thread when it calls `run_queued`.
//! let token = keywords
//!     .register_queued("!jump", move |hit| sink.lock().unwrap().push(hit.message.login.to_string()))
//!     .unwrap();
//!
//! keywords.dispatch(&chat("!jump now")); // network thread
//! keywords.dispatch(&chat("no !jump")); // not the first word
//! assert_eq!(keywords.run_queued(), 1); // game loop, each frame
//! assert_eq!(*jumps.lock().unwrap(), ["ann"]);
//!
//! keywords.set_match_mode(MatchMode::AnyWord);
//! keywords.dispatch(&chat("no !jump"));
//! assert_eq!(keywords.run_queued(), 1);
//! assert!(keywords.unregister(token));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use thiserror::Error;

use super::message::ChatMessage;
use super::normalize::is_invisible;
use super::queue::BoundedQueue;

/// Identifies one registered handler, to unregister it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeywordToken(u64);

/// Where a handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// On the thread that calls [`Keywords::dispatch`].
    #[default]
    Inline,
    /// On the thread that calls [`Keywords::run_queued`] (the game loop).
    Queued,
}

/// Which words of a message are compared with the keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    /// Only the first word (the gem's "Twitch pattern", for `!keyword args`).
    #[default]
    FirstWord,
    /// Every word; each matching keyword fires once per message.
    AnyWord,
}

/// What a keyword handler receives.
#[derive(Debug, Clone, Copy)]
pub struct KeywordHit<'a> {
    /// The keyword as registered.
    pub keyword: &'a str,
    /// The word of the message that matched (its case may differ when case-insensitive).
    pub word: &'a str,
    /// The whole chat message, as the engine read it (transport-neutral).
    pub message: &'a ChatMessage<'a>,
}

/// A keyword handler.
pub type KeywordHandler = Arc<dyn Fn(&KeywordHit<'_>) + Send + Sync + 'static>;
/// A handler for every chat message (keyword matching off).
pub type RawHandler = Arc<dyn Fn(&ChatMessage<'_>) + Send + Sync + 'static>;

/// A keyword that cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeywordError {
    /// Empty, only invisible characters, or containing whitespace: a keyword is one word.
    #[error("keyword {0:?} must be one non-empty word")]
    NotOneWord(String),
}

struct Registered {
    token: KeywordToken,
    delivery: Delivery,
    handler: KeywordHandler,
}

struct Entry {
    enabled: bool,
    handlers: Vec<Registered>,
}

struct Table {
    entries: BTreeMap<String, Entry>,
    mode: MatchMode,
    case_insensitive: bool,
    keyword_matching: bool,
    raw: Option<(KeywordToken, Delivery, RawHandler)>,
}

enum Job {
    Keyword {
        handler: KeywordHandler,
        keyword: String,
        word: String,
        message: Arc<ChatMessage<'static>>,
    },
    Raw {
        handler: RawHandler,
        message: Arc<ChatMessage<'static>>,
    },
}

struct Inner {
    table: RwLock<Table>,
    /// True when a dispatch would trigger nothing: lets `dispatch` skip the lock.
    idle: AtomicBool,
    queue: Mutex<BoundedQueue<Job>>,
    next_token: AtomicU64,
}

/// The shared keyword table; see the [module docs](self).
#[derive(Clone)]
pub struct Keywords {
    inner: Arc<Inner>,
}

impl fmt::Debug for Keywords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.read();
        f.debug_struct("Keywords")
            .field("keywords", &table.entries.keys().collect::<Vec<_>>())
            .field("mode", &table.mode)
            .field("case_insensitive", &table.case_insensitive)
            .field("keyword_matching", &table.keyword_matching)
            .finish()
    }
}

impl Default for Keywords {
    fn default() -> Self {
        Self::new()
    }
}

/// What one dispatch decided to run, collected under the read lock and run after it.
enum Call {
    Keyword(KeywordHandler, Delivery, String, String),
    Raw(RawHandler, Delivery),
}

impl Keywords {
    /// An empty table: first-word, case-sensitive matching on; queue capacity 1024.
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// assert_eq!(k.queued_len(), 0);
    /// ```
    pub fn new() -> Self {
        Self::with_queue_capacity(1024)
    }

    /// An empty table whose game-loop queue holds at most `capacity` handler calls.
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::with_queue_capacity(16);
    /// assert_eq!(k.dropped(), 0);
    /// ```
    pub fn with_queue_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                table: RwLock::new(Table {
                    entries: BTreeMap::new(),
                    mode: MatchMode::FirstWord,
                    case_insensitive: false,
                    keyword_matching: true,
                    raw: None,
                }),
                idle: AtomicBool::new(true),
                queue: Mutex::new(BoundedQueue::new(capacity)),
                next_token: AtomicU64::new(1),
            }),
        }
    }

    /// Registers `handler` for `keyword`, to run inline (where messages arrive).
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// let t = k.register("!hello", |hit| assert_eq!(hit.keyword, "!hello")).unwrap();
    /// assert!(k.register("two words", |_| ()).is_err());
    /// assert!(k.unregister(t));
    /// ```
    pub fn register<F>(&self, keyword: &str, handler: F) -> Result<KeywordToken, KeywordError>
    where
        F: Fn(&KeywordHit<'_>) + Send + Sync + 'static,
    {
        self.register_with(keyword, Delivery::Inline, Arc::new(handler))
    }

    /// Registers `handler` for `keyword`, to run on the game loop ([`Keywords::run_queued`]).
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// k.register_queued("!hello", |_| ()).unwrap();
    /// ```
    pub fn register_queued<F>(
        &self,
        keyword: &str,
        handler: F,
    ) -> Result<KeywordToken, KeywordError>
    where
        F: Fn(&KeywordHit<'_>) + Send + Sync + 'static,
    {
        self.register_with(keyword, Delivery::Queued, Arc::new(handler))
    }

    /// Registers an already shared handler with an explicit [`Delivery`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use twitch_bot::chatplay::{Delivery, KeywordHandler, Keywords};
    /// let k = Keywords::new();
    /// let h: KeywordHandler = Arc::new(|_| ());
    /// k.register_with("!a", Delivery::Inline, h.clone()).unwrap();
    /// k.register_with("!b", Delivery::Queued, h).unwrap();
    /// ```
    pub fn register_with(
        &self,
        keyword: &str,
        delivery: Delivery,
        handler: KeywordHandler,
    ) -> Result<KeywordToken, KeywordError> {
        let keyword = keyword.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
        if keyword.is_empty() || keyword.contains(char::is_whitespace) {
            return Err(KeywordError::NotOneWord(keyword.to_owned()));
        }
        let token = self.new_token();
        self.write()
            .entries
            .entry(keyword.to_owned())
            .or_insert_with(|| Entry {
                enabled: true,
                handlers: Vec::new(),
            })
            .handlers
            .push(Registered {
                token,
                delivery,
                handler,
            });
        Ok(token)
    }

    /// Removes one handler; false when the token is unknown (already removed).
    /// A keyword left without handlers is removed.
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// let t = k.register("!a", |_| ()).unwrap();
    /// assert!(k.unregister(t));
    /// assert!(!k.unregister(t));
    /// ```
    pub fn unregister(&self, token: KeywordToken) -> bool {
        let mut table = self.write();
        if let Some((_, _, _)) = table.raw.as_ref().filter(|(t, _, _)| *t == token) {
            table.raw = None;
            return true;
        }
        let mut emptied = None;
        let mut found = false;
        for (keyword, entry) in table.entries.iter_mut() {
            if let Some(i) = entry.handlers.iter().position(|r| r.token == token) {
                entry.handlers.remove(i);
                found = true;
                if entry.handlers.is_empty() {
                    emptied = Some(keyword.clone());
                }
                break;
            }
        }
        if let Some(keyword) = emptied {
            table.entries.remove(&keyword);
        }
        found
    }

    /// Removes a keyword and all its handlers (the gem's RemoveKeyword); false when absent.
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// k.register("!a", |_| ()).unwrap();
    /// assert!(k.remove_keyword("!a"));
    /// assert!(!k.remove_keyword("!a"));
    /// ```
    pub fn remove_keyword(&self, keyword: &str) -> bool {
        self.write().entries.remove(keyword).is_some()
    }

    /// Enables or disables one keyword without removing its handlers; false when absent.
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// k.register("!a", |_| ()).unwrap();
    /// assert!(k.set_enabled("!a", false));
    /// assert_eq!(k.is_enabled("!a"), Some(false));
    /// ```
    pub fn set_enabled(&self, keyword: &str, enabled: bool) -> bool {
        match self.write().entries.get_mut(keyword) {
            Some(entry) => {
                entry.enabled = enabled;
                true
            }
            None => false,
        }
    }

    /// Whether a keyword is enabled; `None` when it has no handlers.
    pub fn is_enabled(&self, keyword: &str) -> Option<bool> {
        self.read().entries.get(keyword).map(|e| e.enabled)
    }

    /// The registered keywords, sorted.
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// k.register("!b", |_| ()).unwrap();
    /// k.register("!a", |_| ()).unwrap();
    /// assert_eq!(k.keywords(), ["!a", "!b"]);
    /// ```
    pub fn keywords(&self) -> Vec<String> {
        self.read().entries.keys().cloned().collect()
    }

    /// Which words are compared (default [`MatchMode::FirstWord`]).
    pub fn set_match_mode(&self, mode: MatchMode) {
        self.write().mode = mode;
    }

    /// Compare case-insensitively (Unicode lowercase) or exactly (the default, as the gem).
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// # use twitch_bot::chatplay::ChatMessage;
    /// # fn chat(text: &str) -> ChatMessage<'_> {
    /// #     ChatMessage::new("chan", "a", text)
    /// # }
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// let n = Arc::new(AtomicUsize::new(0));
    /// let m = n.clone();
    /// k.register("!Größe", move |_| { m.fetch_add(1, Ordering::SeqCst); }).unwrap();
    /// k.dispatch(&chat("!GRÖSSE")); // not a simple lowercase match
    /// k.dispatch(&chat("!größe"));
    /// assert_eq!(n.load(Ordering::SeqCst), 0);
    /// k.set_case_insensitive(true);
    /// k.dispatch(&chat("!größe"));
    /// assert_eq!(n.load(Ordering::SeqCst), 1);
    /// ```
    pub fn set_case_insensitive(&self, on: bool) {
        self.write().case_insensitive = on;
    }

    /// On (default): keywords are matched. Off: every chat message goes to the raw handler only
    /// (the gem's `ActivateKeywordMatching(false)`).
    pub fn set_keyword_matching(&self, on: bool) {
        self.write().keyword_matching = on;
    }

    /// Sets the handler that receives every message while keyword matching is off (replacing
    /// any previous one); its token removes it via [`Keywords::unregister`].
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// k.set_keyword_matching(false);
    /// let t = k.set_raw_handler(twitch_bot::chatplay::Delivery::Queued, |msg| println!("{}", msg.text));
    /// assert!(k.unregister(t));
    /// ```
    pub fn set_raw_handler<F>(&self, delivery: Delivery, handler: F) -> KeywordToken
    where
        F: Fn(&ChatMessage<'_>) + Send + Sync + 'static,
    {
        let token = self.new_token();
        self.write().raw = Some((token, delivery, Arc::new(handler)));
        token
    }

    /// Runs (inline) or queues the handlers `msg` triggers; returns how many were triggered
    /// (queued calls refused by a full queue included).
    pub fn dispatch(&self, msg: &ChatMessage<'_>) -> usize {
        let calls = self.collect(msg);
        if calls.is_empty() {
            return 0;
        }
        let mut shared: Option<Arc<ChatMessage<'static>>> = None;
        let mut shared_msg = || {
            shared
                .get_or_insert_with(|| Arc::new(msg.clone().into_owned()))
                .clone()
        };
        let count = calls.len();
        for call in calls {
            match call {
                Call::Keyword(handler, Delivery::Inline, keyword, word) => handler(&KeywordHit {
                    keyword: &keyword,
                    word: &word,
                    message: msg,
                }),
                Call::Raw(handler, Delivery::Inline) => handler(msg),
                Call::Keyword(handler, Delivery::Queued, keyword, word) => {
                    self.enqueue(Job::Keyword {
                        handler,
                        keyword,
                        word,
                        message: shared_msg(),
                    })
                }
                Call::Raw(handler, Delivery::Queued) => self.enqueue(Job::Raw {
                    handler,
                    message: shared_msg(),
                }),
            }
        }
        count
    }

    /// Runs every queued handler call on the calling thread (call it once per frame from the
    /// game loop); returns how many ran. Calls queued meanwhile wait for the next call.
    pub fn run_queued(&self) -> usize {
        self.run_queued_max(usize::MAX)
    }

    /// As [`Keywords::run_queued`], running at most `max` calls (to bound a frame's work).
    ///
    /// ```
    /// let k = twitch_bot::chatplay::Keywords::new();
    /// assert_eq!(k.run_queued_max(10), 0);
    /// ```
    pub fn run_queued_max(&self, max: usize) -> usize {
        let jobs: Vec<Job> = {
            let mut queue = self
                .inner
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let n = max.min(queue.len());
            (0..n).filter_map(|_| queue.pop()).collect()
        };
        let n = jobs.len();
        for job in jobs {
            match job {
                Job::Keyword {
                    handler,
                    keyword,
                    word,
                    message,
                } => handler(&KeywordHit {
                    keyword: &keyword,
                    word: &word,
                    message: &message,
                }),
                Job::Raw { handler, message } => handler(&message),
            }
        }
        n
    }

    /// Handler calls waiting for [`Keywords::run_queued`].
    pub fn queued_len(&self) -> usize {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Handler calls dropped because the game-loop queue was full.
    pub fn dropped(&self) -> u64 {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped()
    }

    fn collect(&self, msg: &ChatMessage<'_>) -> Vec<Call> {
        if self.inner.idle.load(Ordering::Acquire) {
            return Vec::new();
        }
        let table = self.read();
        let mut calls = Vec::new();
        if !table.keyword_matching {
            if let Some((_, delivery, handler)) = &table.raw {
                calls.push(Call::Raw(handler.clone(), *delivery));
            }
            return calls;
        }
        if table.entries.is_empty() {
            return calls;
        }
        let mut fired: Vec<&str> = Vec::new();
        let words = msg
            .text
            .split_whitespace()
            .map(|w| w.trim_matches(is_invisible))
            .filter(|w| !w.is_empty());
        let take = if table.mode == MatchMode::FirstWord {
            1
        } else {
            usize::MAX
        };
        for word in words.take(take) {
            let matches: Vec<(&String, &Entry)> = if table.case_insensitive {
                table
                    .entries
                    .iter()
                    .filter(|(k, _)| eq_ignore_case(k, word))
                    .collect()
            } else {
                table.entries.get_key_value(word).into_iter().collect()
            };
            for (keyword, entry) in matches {
                if !entry.enabled || fired.contains(&keyword.as_str()) {
                    continue;
                }
                fired.push(keyword);
                for r in &entry.handlers {
                    calls.push(Call::Keyword(
                        r.handler.clone(),
                        r.delivery,
                        keyword.clone(),
                        word.to_owned(),
                    ));
                }
            }
        }
        calls
    }

    fn enqueue(&self, job: Job) {
        let mut queue = self
            .inner
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = queue.push(job); // full: dropped and counted by the queue
    }

    fn new_token(&self) -> KeywordToken {
        KeywordToken(self.inner.next_token.fetch_add(1, Ordering::Relaxed))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        // A panic elsewhere cannot leave the table half-changed: every write is one operation.
        self.inner
            .table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> TableWrite<'_> {
        TableWrite {
            guard: self
                .inner
                .table
                .write()
                .unwrap_or_else(PoisonError::into_inner),
            idle: &self.inner.idle,
        }
    }
}

/// The write guard: when dropped (still holding the lock) it refreshes the `idle` flag.
struct TableWrite<'a> {
    guard: std::sync::RwLockWriteGuard<'a, Table>,
    idle: &'a AtomicBool,
}

impl Deref for TableWrite<'_> {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.guard
    }
}

impl DerefMut for TableWrite<'_> {
    fn deref_mut(&mut self) -> &mut Table {
        &mut self.guard
    }
}

impl Drop for TableWrite<'_> {
    fn drop(&mut self) {
        let idle = if self.guard.keyword_matching {
            self.guard.entries.is_empty()
        } else {
            self.guard.raw.is_none()
        };
        self.idle.store(idle, Ordering::Release);
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chatplay::test_support::chat;
    use std::sync::atomic::AtomicUsize;
    use std::thread;

    fn counter() -> (
        Arc<AtomicUsize>,
        impl Fn(&KeywordHit<'_>) + Send + Sync + Clone + 'static,
    ) {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        (n, move |_: &KeywordHit<'_>| {
            m.fetch_add(1, Ordering::SeqCst);
        })
    }

    fn get(n: &AtomicUsize) -> usize {
        n.load(Ordering::SeqCst)
    }

    #[test]
    fn first_word_any_word_and_case() {
        let k = Keywords::new();
        let (n, h) = counter();
        k.register("!vote", h).unwrap();
        for text in ["!vote yes", "!vote", "  !vote\u{E0000} x", "\u{200B}!vote"] {
            assert_eq!(k.dispatch(&chat("a", text)), 1, "{text:?}");
        }
        for text in ["!Vote", "!voteyes", "hey !vote", ""] {
            assert_eq!(k.dispatch(&chat("a", text)), 0, "{text:?}");
        }
        assert_eq!(get(&n), 4);
        k.set_match_mode(MatchMode::AnyWord);
        assert_eq!(
            k.dispatch(&chat("a", "hey !vote and !vote again")),
            1,
            "once per message"
        );
        k.set_case_insensitive(true);
        assert_eq!(k.dispatch(&chat("a", "hey !VOTE")), 1);
        assert_eq!(get(&n), 6);
    }

    #[test]
    fn utf8_keywords_like_the_gem_test_script() {
        let k = Keywords::new();
        let (n, h) = counter();
        for kw in ["!こんにちは", "größeren", "mañana", "!привет"] {
            let h = h.clone();
            k.register(kw, move |hit| h(hit)).unwrap();
        }
        assert_eq!(k.dispatch(&chat("u", "!こんにちは 世界")), 1);
        assert_eq!(k.dispatch(&chat("u", "mañana")), 1);
        assert_eq!(k.dispatch(&chat("u", "!ПРИВЕТ")), 0);
        k.set_case_insensitive(true);
        assert_eq!(k.dispatch(&chat("u", "!ПРИВЕТ")), 1);
        assert_eq!(
            k.dispatch(&chat("u", "GRÖSSEREN")),
            0,
            "lowercase mapping, not full case folding"
        );
        assert_eq!(k.dispatch(&chat("u", "GRÖßEREN")), 1);
        assert_eq!(get(&n), 4);
        assert!(k.remove_keyword("mañana"));
        assert_eq!(k.dispatch(&chat("u", "mañana")), 0);
    }

    #[test]
    fn several_handlers_tokens_and_enable() {
        let k = Keywords::new();
        let (a, ha) = counter();
        let (b, hb) = counter();
        let ta = k.register("!x", ha).unwrap();
        let _tb = k.register("!x", hb).unwrap();
        assert_eq!(k.dispatch(&chat("u", "!x")), 2);
        assert!(k.unregister(ta));
        assert_eq!(k.dispatch(&chat("u", "!x")), 1);
        assert!(k.set_enabled("!x", false));
        assert_eq!(k.dispatch(&chat("u", "!x")), 0);
        assert!(k.set_enabled("!x", true));
        assert_eq!(k.dispatch(&chat("u", "!x")), 1);
        assert_eq!((get(&a), get(&b)), (1, 3));
        assert!(!k.set_enabled("!nope", false));
    }

    #[test]
    fn raw_mode_routes_everything_to_one_handler() {
        let k = Keywords::new();
        let (kw, h) = counter();
        k.register("!x", h).unwrap();
        let raw = Arc::new(Mutex::new(Vec::new()));
        let sink = raw.clone();
        k.set_raw_handler(Delivery::Inline, move |m| {
            sink.lock().unwrap().push(m.text.to_string())
        });
        k.set_keyword_matching(false);
        k.dispatch(&chat("u", "!x"));
        k.dispatch(&chat("u", "hello"));
        assert_eq!(*raw.lock().unwrap(), ["!x", "hello"]);
        assert_eq!(get(&kw), 0);
        k.set_keyword_matching(true);
        k.dispatch(&chat("u", "!x"));
        assert_eq!((get(&kw), raw.lock().unwrap().len()), (1, 2));
    }

    #[test]
    fn queued_handlers_run_on_the_draining_thread_and_the_queue_is_bounded() {
        let k = Keywords::with_queue_capacity(3);
        let threads = Arc::new(Mutex::new(Vec::new()));
        let sink = threads.clone();
        k.register_queued("!x", move |hit| {
            sink.lock()
                .unwrap()
                .push((thread::current().id(), hit.message.text.to_string()))
        })
        .unwrap();
        let producer = k.clone();
        thread::spawn(move || {
            for i in 0..5 {
                producer.dispatch(&chat("u", &format!("!x {i}")));
            }
        })
        .join()
        .unwrap();
        assert_eq!(k.queued_len(), 3);
        assert_eq!(k.dropped(), 2);
        assert_eq!(k.run_queued_max(2), 2);
        assert_eq!(k.run_queued(), 1);
        let seen = threads.lock().unwrap();
        assert!(seen.iter().all(|(id, _)| *id == thread::current().id()));
        let texts: Vec<&str> = seen.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["!x 0", "!x 1", "!x 2"]);
    }

    #[test]
    fn a_handler_may_change_the_table() {
        let k = Keywords::new();
        let inner = k.clone();
        k.register("!add", move |_| {
            inner.register("!new", |_| ()).unwrap();
            inner.set_enabled("!add", false);
        })
        .unwrap();
        assert_eq!(k.dispatch(&chat("u", "!add")), 1);
        assert_eq!(k.keywords(), ["!add", "!new"]);
        assert_eq!(k.dispatch(&chat("u", "!add")), 0);
    }

    #[test]
    fn the_table_changes_safely_from_other_threads_while_messages_arrive() {
        let k = Keywords::new();
        let (stable, h) = counter();
        k.register("!stable", h).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..2 {
            let k = k.clone();
            let stop = stop.clone();
            writers.push(thread::spawn(move || {
                let mut changes = 0u64;
                while !stop.load(Ordering::SeqCst) || changes < 1000 {
                    let kw = format!("!w{w}_{}", changes % 7);
                    let t = k.register(&kw, |_| ()).unwrap();
                    k.set_enabled(&kw, changes.is_multiple_of(2));
                    k.set_match_mode(if changes.is_multiple_of(3) {
                        MatchMode::AnyWord
                    } else {
                        MatchMode::FirstWord
                    });
                    assert!(k.unregister(t));
                    changes += 1;
                }
                changes
            }));
        }
        let reader = {
            let k = k.clone();
            thread::spawn(move || {
                for i in 0..20_000 {
                    k.dispatch(&chat("u", &format!("!stable !w0_{} !w1_{}", i % 7, i % 5)));
                }
            })
        };
        reader.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            assert!(w.join().unwrap() >= 1000);
        }
        assert_eq!(
            get(&stable),
            20_000,
            "the stable keyword fired for every message"
        );
        assert_eq!(k.keywords(), ["!stable"]);
    }
}
