//! A tiny terminal game that chat plays: a walker on a grid, moved by each democracy round's winner, flashing
//! on anarchy button presses, jumping on `!jump`.
//!
//! It runs the bot in-process with [`twitch_bot::bot::Bot`] (no child process, no JSON parsing) and reads
//! its events once per frame without ever blocking the game loop.
//!
//! ```text
//! cargo run -p twitch_bot --example grid_walker                 # against the built-in demo chat (no account)
//! cargo run -p twitch_bot --example grid_walker -- --secs 20    # stop after 20 s
//! TWITCH_OAUTH_TOKEN=oauth:... cargo run -p twitch_bot --example grid_walker -- --config config/bot.toml
//! ```
//! With `--config`, the config needs a democracy vote whose options include `up`, `down`, `left`, `right`.

use std::collections::VecDeque;
use std::io::Write;
use std::time::{Duration, Instant};

use twitch_bot::bot::Bot;
use twitch_bot::config::{Config, Token};
use twitch_bot::demo::{BackgroundDemo, DEMO_TOKEN};
use twitch_bot::events::Event;

const W: i32 = 21;
const H: i32 = 11;

struct Game {
    x: i32,
    y: i32,
    trail: VecDeque<(i32, i32)>,
    flash: Option<(char, Instant)>,
    log: VecDeque<String>,
    moves: u64,
}

impl Game {
    fn new() -> Game {
        Game {
            x: W / 2,
            y: H / 2,
            trail: VecDeque::new(),
            flash: None,
            log: VecDeque::new(),
            moves: 0,
        }
    }

    fn note(&mut self, line: String) {
        self.log.push_back(line);
        while self.log.len() > 6 {
            self.log.pop_front();
        }
    }

    /// Applies a winning input such as `up` or `left3` (repeat suffix = steps).
    fn step(&mut self, input: &str) {
        let name = input.trim_end_matches(|c: char| c.is_ascii_digit());
        let steps: i32 = input[name.len()..].parse().unwrap_or(1);
        let (dx, dy) = match name {
            "up" => (0, -1),
            "down" => (0, 1),
            "left" => (-1, 0),
            "right" => (1, 0),
            _ => return,
        };
        for _ in 0..steps {
            self.trail.push_back((self.x, self.y));
            if self.trail.len() > 12 {
                self.trail.pop_front();
            }
            self.x = (self.x + dx).clamp(0, W - 1);
            self.y = (self.y + dy).clamp(0, H - 1);
        }
        self.moves += 1;
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::VoteOpened {
                vote,
                round,
                window_ms,
                ..
            } => self.note(format!(
                "vote {vote} #{round} open for {:.1} s",
                window_ms as f64 / 1000.0
            )),
            Event::VoteClosed {
                vote,
                round,
                winner,
                voters,
                ..
            } => match winner {
                Some(w) => {
                    self.note(format!("vote {vote} #{round}: {w} wins ({voters} voters)"));
                    self.step(&w);
                }
                None => self.note(format!("vote {vote} #{round}: no winner ({voters} voters)")),
            },
            Event::Input { input, user, .. } => {
                self.flash = Some((if input == "a" { 'A' } else { 'B' }, Instant::now()));
                self.note(format!("{user} pressed {input}"));
            }
            Event::Command { command, user, .. } => {
                self.flash = Some(('^', Instant::now()));
                self.note(format!("{user} used !{command}"));
            }
            Event::Connected { server } => self.note(format!("connected to {server}")),
            Event::Joined { channel } => self.note(format!("joined #{channel}")),
            Event::Disconnected { reason } => self.note(format!("disconnected: {reason}")),
            Event::Reconnecting {
                attempt, delay_ms, ..
            } => self.note(format!("reconnecting (attempt {attempt}) in {delay_ms} ms")),
            Event::Error { message, .. } => self.note(format!("error: {message}")),
            other => self.note(other.kind().to_owned()),
        }
    }

    fn render(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut frame = String::from("\x1b[H\x1b[2J"); // home + clear
        frame.push_str(
            "Twitch chat plays: grid walker   (democracy moves @, anarchy a/b flash, !jump)\n",
        );
        frame.push('+');
        frame.push_str(&"-".repeat(W as usize));
        frame.push_str("+\n");
        let flash = self
            .flash
            .filter(|(_, at)| at.elapsed() < Duration::from_millis(300))
            .map(|(c, _)| c);
        for y in 0..H {
            frame.push('|');
            for x in 0..W {
                let c = if (x, y) == (self.x, self.y) {
                    flash.unwrap_or('@')
                } else if self.trail.contains(&(x, y)) {
                    '.'
                } else {
                    ' '
                };
                frame.push(c);
            }
            frame.push_str("|\n");
        }
        frame.push('+');
        frame.push_str(&"-".repeat(W as usize));
        frame.push_str("+\n");
        frame.push_str(&format!("moves: {}\n", self.moves));
        for line in &self.log {
            frame.push_str(line);
            frame.push('\n');
        }
        out.write_all(frame.as_bytes())?;
        out.flush()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let secs: f64 = arg("--secs")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60.0);

    // Without --config: the built-in demo chat on 127.0.0.1 (no account, no network).
    let _demo;
    let mut bot = match arg("--config") {
        Some(path) => Bot::start(Config::load(path)?)?,
        None => {
            let demo = BackgroundDemo::start()?;
            let mut config = Config::demo();
            config.connection.server = demo.url().to_owned();
            _demo = demo;
            Bot::start_with_token(config, Some(Token::new(DEMO_TOKEN)))?
        }
    };

    let mut game = Game::new();
    let mut out = std::io::stdout().lock();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        // The game loop: take every waiting event (never blocks), update, draw, sleep until the next frame.
        while let Some(event) = bot.try_recv() {
            game.handle(event);
        }
        game.render(&mut out)?;
        std::thread::sleep(Duration::from_millis(50));
    }
    // Graceful stop: open rounds close with their results, which still move the walker.
    let result = bot.shutdown();
    while let Some(event) = bot.try_recv() {
        game.handle(event);
    }
    game.render(&mut out)?;
    result?;
    Ok(())
}
