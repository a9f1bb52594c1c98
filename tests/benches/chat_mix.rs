//! The realistic chat flood: Twitch's full tag set, thousands of voters, the spellings chat
//! really uses, and a few lines that are not ballots.
//!
//! Shapes follow the recorded lines in `tests/data/twitch-corpus.txt`: tags in Twitch's
//! (alphabetical) order; `badge-info` and `badges` with versions for subscribers, moderators,
//! VIPs and badge collectors; a 32-hex `client-nonce`; `emotes` ranges on emote lines; the five
//! `reply-parent-*` tags (with an escaped body) on replies, whose text starts with `@Parent` as
//! Twitch's clients send it.
//!
//! The mix, per line (deterministic, from a fixed seed):
//! - about 98% ballots for one of four options, of which about 30% are spelled differently:
//!   `UP`, `Up`, `!vote up`, `!VOTE Up`, `!up`, `+up`, `  up `, `up` followed by ` U+E0000` (what
//!   7TV and Chatterino append) and `/me up` (`\x01ACTION up\x01`);
//! - about 2% lines that are no ballot: chatter with emotes, and replies.
//!
//! The expected tally is each voter's last ballot (non-ballot lines change nothing).

/// The options of the flood's vote.
pub const OPTIONS: [&str; 4] = ["up", "down", "left", "right"];

/// A small deterministic generator (xorshift64*): the same flood in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How option `o` is spelled (every spelling is a ballot for `o`).
fn spell(rng: &mut Rng, o: &str) -> String {
    // 70% plain; the remaining 30% spread over nine variants.
    let r = rng.below(1000);
    if r < 700 {
        return o.to_owned();
    }
    match (r - 700) % 9 {
        0 => o.to_ascii_uppercase(),
        1 => {
            let mut s = o.to_owned();
            s[..1].make_ascii_uppercase();
            s
        }
        2 => format!("!vote {o}"),
        3 => format!("!VOTE {}", o.to_ascii_uppercase()),
        4 => format!("!{o}"),
        5 => format!("+{o}"),
        6 => format!("  {o} "),
        7 => format!("{o} \u{E0000}"),
        _ => format!("\x01ACTION {o}\x01"),
    }
}

/// The per-user tag part that depends on who they are: (badge-info, badges, mod, subscriber,
/// user-type, vip tag).
fn roles(user: usize) -> (String, &'static str, u8, u8, &'static str, &'static str) {
    match user % 40 {
        0 => (String::new(), "moderator/1,partner/1", 1, 0, "mod", ""),
        1 => (
            format!("subscriber/{}", 2 + user % 50),
            "moderator/1,subscriber/12,glhf-pledge/1",
            1,
            1,
            "mod",
            "",
        ),
        2 | 3 => (String::new(), "vip/1,sub-gifter/5", 0, 0, "", ";vip=1"),
        4..=15 => (
            format!("subscriber/{}", 1 + user % 30),
            "subscriber/3012,premium/1",
            0,
            1,
            "",
            "",
        ),
        16..=19 => (
            format!("founder/{}", 10 + user % 20),
            "founder/0,bits/1000",
            0,
            1,
            "",
            "",
        ),
        20..=25 => (String::new(), "glitchcon2020/1", 0, 0, "", ""),
        26..=29 => (String::new(), "premium/1", 0, 0, "", ""),
        _ => (String::new(), "", 0, 0, "", ""),
    }
}

const COLORS: [&str; 6] = ["#1E90FF", "#FF0000", "", "#8A2BE2", "#00FF7F", "#DAA520"];

/// One PRIVMSG line with Twitch's full tag set.
#[allow(clippy::too_many_arguments)]
fn line(
    rng: &mut Rng,
    i: usize,
    user: usize,
    channel: &str,
    room_id: &str,
    ts: u64,
    emotes: &str,
    reply: Option<usize>,
    text: &str,
) -> String {
    let (badge_info, badges, moderator, sub, user_type, vip) = roles(user);
    let color = COLORS[user % COLORS.len()];
    let nonce = format!("{:016x}{:016x}", rng.next(), rng.next());
    let first = u8::from(rng.below(500) == 0);
    let mut out = String::with_capacity(640);
    out.push_str(&format!(
        "@badge-info={badge_info};badges={badges};client-nonce={nonce};color={color};display-name=Viewer_{user};emotes={emotes};first-msg={first};flags=;id={:08x}-{:04x}-4c1a-9b3f-{:012x};mod={moderator};",
        rng.next() as u32,
        rng.below(0x10000),
        i,
    ));
    if let Some(parent) = reply {
        out.push_str(&format!(
            "reply-parent-display-name=Viewer_{parent};reply-parent-msg-body=who\\sgoes\\sleft\\sthis\\stime?;reply-parent-msg-id={:08x}-77aa-4b0e-8c2d-{:012x};reply-parent-user-id={};reply-parent-user-login=viewer_{parent};reply-thread-parent-msg-id={:08x}-77aa-4b0e-8c2d-{:012x};reply-thread-parent-user-login=viewer_{parent};",
            rng.next() as u32,
            i,
            40_000_000 + parent,
            rng.next() as u32,
            i,
        ));
    }
    out.push_str(&format!(
        "returning-chatter=0;room-id={room_id};subscriber={sub};tmi-sent-ts={ts};turbo=0;user-id={};user-type={user_type}{vip} :viewer_{user}!viewer_{user}@viewer_{user}.tmi.twitch.tv PRIVMSG #{channel} :{text}",
        40_000_000 + user,
    ));
    out
}

/// The realistic flood: `n` lines from `users` voters, `per_frame` lines per WebSocket frame.
/// Returns the frames, the expected tally (each voter's last ballot, per option of [`OPTIONS`])
/// and how many lines are ballots.
pub fn make_frames(
    n: usize,
    users: usize,
    per_frame: usize,
    channel: &str,
    room_id: &str,
    ts: u64,
) -> (Vec<String>, [u64; 4], usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut last = vec![usize::MAX; users];
    let mut ballots = 0;
    let mut frames = Vec::with_capacity(n / per_frame + 1);
    let mut frame = String::new();
    for i in 0..n {
        let user = rng.below(users as u64) as usize;
        let r = rng.below(1000);
        let text_line = if r < 10 {
            // Chatter with emotes (not a ballot).
            line(
                &mut rng,
                i,
                user,
                channel,
                room_id,
                ts,
                "25:0-4,15-19/1902:6-10",
                None,
                "Kappa Keepo up Kappa",
            )
        } else if r < 20 {
            // A reply: Twitch's clients start it with the parent's name (not a ballot).
            let parent = rng.below(users as u64) as usize;
            let text = format!("@Viewer_{parent} left is a trap");
            line(
                &mut rng,
                i,
                user,
                channel,
                room_id,
                ts,
                "",
                Some(parent),
                &text,
            )
        } else {
            let opt = rng.below(OPTIONS.len() as u64) as usize;
            last[user] = opt;
            ballots += 1;
            let text = spell(&mut rng, OPTIONS[opt]);
            line(&mut rng, i, user, channel, room_id, ts, "", None, &text)
        };
        frame.push_str(&text_line);
        frame.push_str("\r\n");
        if (i + 1) % per_frame == 0 {
            frames.push(std::mem::take(&mut frame));
        }
    }
    if !frame.is_empty() {
        frames.push(frame);
    }
    let mut tally = [0u64; 4];
    for l in last.into_iter().filter(|&o| o != usize::MAX) {
        tally[l] += 1;
    }
    (frames, tally, ballots)
}
