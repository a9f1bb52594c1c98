//! The `twitch_bot` program (CLI only; the work is in the library).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::sync::mpsc;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

use twitch_bot::bot::{BotError, ConnectionState, REQUEST_QUEUE, Request};
use twitch_bot::config::{Config, Token};
use twitch_bot::demo::{DEMO_TOKEN, DemoServer};
use twitch_bot::driver::{self, Settings};
use twitch_bot::events::{Control, Event};
use twitch_bot::outbox::Outbox;
use twitch_bot::output::{self, Output, OutputControl, StartOptions, config::OutputKind};
use twitch_bot::server::{self, Server, ServerConfig};
use twitch_bot::stdio;

/// Exit code: the configuration is invalid (the message names file, line and key).
const EXIT_CONFIG: u8 = 1;
/// Exit code: the login was rejected, or a nick is set without a token.
const EXIT_AUTH: u8 = 2;
/// Exit code: the bot could not run (runtime, threads, signals).
const EXIT_RUNTIME: u8 = 3;
/// Exit code: bad command line.
const EXIT_USAGE: u8 = 64;
/// Log lines queued for stderr before further lines are dropped.
const LOG_QUEUE_LINES: usize = 10_000;

const AFTER_HELP: &str = "\
EVENTS (stdout, one JSON object per line, flushed per line):
  {\"type\":\"connected\",\"server\":URL}            {\"type\":\"joined\",\"channel\":CH}
  {\"type\":\"parted\",\"channel\":CH}               {\"type\":\"disconnected\",\"reason\":TEXT}
  {\"type\":\"reconnecting\",\"attempt\":N,\"delay_ms\":D,\"reason\":TEXT}   (attempt 0, delay 0: overlapping
                                    handover after a server RECONNECT; no `disconnected` then)
  {\"type\":\"vote_opened\",\"vote\":V,\"round\":R,\"options\":[..],\"window_ms\":W}
  {\"type\":\"vote_closed\",\"vote\":V,\"round\":R,\"winner\":OPTION|null,\"tally\":{OPTION:N,..},\"voters\":N}
  {\"type\":\"tally\",\"vote\":V,\"round\":R,\"open\":true|false,\"tally\":{OPTION:N,..},\"voters\":N,\"remaining_ms\":M}
                                    live count for an overlay: on {\"op\":\"tally\"}, and every tally_interval_secs
                                    while a round is open; with no round open: the last round, remaining_ms 0
  {\"type\":\"input\",\"vote\":V,\"input\":OPTION,\"repeat\":N,\"user\":LOGIN,\"user_id\":ID}   (anarchy votes)
  {\"type\":\"command\",\"command\":NAME,\"channel\":CH,\"user\":LOGIN,\"user_id\":ID,\"args\":TEXT}
  {\"type\":\"keys\",\"vote\":V,\"input\":OPTION,\"keys\":[KEY,..],\"repeat\":N,\"user\":LOGIN}   keyboard output
                                    pressed a binding (\"command\":NAME instead of vote/input for commands)
  {\"type\":\"keys_skipped\",\"reason\":\"focus\",\"keys\":[..],\"total\":N}   target_window not focused
  {\"type\":\"output_paused\",\"by\":WHO}   {\"type\":\"output_resumed\",\"by\":WHO}
  {\"type\":\"dropped\",\"count\":N}     input/command/tally events dropped because stdout was not read fast enough
  {\"type\":\"chat_queued\",\"channel\":CH,\"parts\":N,\"queued\":N,\"queued_total\":N}   the answer to a say
  {\"type\":\"chat_status\",\"queued\":N,\"capacity\":N,\"next_send_ms\":M,\"allowance\":N,\"channels\":[..],..}
                                    the outgoing chat queue, on {\"op\":\"chat_status\"}
  {\"type\":\"error\",\"kind\":KIND,\"message\":TEXT}   a bad stdin line or a recoverable problem

CONTROL (stdin, one JSON object per line; a bad line gets an error event):
  {\"op\":\"start_vote\",\"vote\":V}   {\"op\":\"stop_vote\",\"vote\":V}   {\"op\":\"say\",\"channel\":CH,\"text\":TEXT}
  {\"op\":\"join\",\"channel\":CH}     {\"op\":\"part\",\"channel\":CH}     {\"op\":\"tally\",\"vote\":V}  (a tally event;
                                    unknown vote: an error event of kind vote)
  {\"op\":\"chat_status\"}              (a chat_status event: what waits to be said, and when it can go)
  {\"op\":\"output\",\"enabled\":false|true}   pause keyboard output (every held key released) / resume

SERVER ([server] in the config; on with --demo; the URL is printed on stderr):
  /overlay  vote bars for an OBS Browser Source (?vote=V&theme=dark|light&scale=1.5&max_options=8)
  /ws       WebSocket: a snapshot, then every event above in order; the ops above, with an \"id\": a reply
  /metrics  Prometheus text      /healthz  200 when logged in and joined, 503 otherwise

TOKEN:
  With [auth] client_id set (your app at the Twitch developer console, a public client), `twitch_bot login`
  stores a token (device code flow: open the printed URL, enter the code) that the bot refreshes while it runs;
  `whoami` shows it, `logout` revokes it. Otherwise, or when it is set, the token (scopes chat:read and
  chat:edit; over EventSub user:read:chat and user:write:chat) is read from the environment variable named by connection.token_env (default TWITCH_OAUTH_TOKEN),
  never from the config file; it cannot be refreshed. Without connection.nick (and without a stored token) the
  bot joins anonymously (read-only: votes work, announcements don't).

TRANSPORT:
  connection.transport = \"irc\" (default: Twitch IRC over WebSocket, anonymous reading allowed) or \"eventsub\"
  (Twitch's EventSub WebSocket plus the Helix API: needs [auth] client_id and a user token with user:read:chat
  and user:write:chat; [twitch] eventsub_url, eventsub_keepalive_secs, eventsub_redemptions). Events, votes,
  commands and ops are the same over both (over EventSub, join/part create/delete subscriptions).

STOPPING:
  Ctrl-C or SIGTERM closes open rounds with their results (vote_closed events), parts the channels, closes the
  socket with code 1000 and exits 0.

EXIT CODES:
  0 stopped normally   1 invalid config   2 authentication failed (login refused, token revoked: run
  `twitch_bot login`; nick without token; token file refused)
  3 runtime failure    64 bad command line

EXAMPLES:
  twitch_bot --demo                          live rounds from simulated viewers, no account, no network
  twitch_bot --check --config config/bot.toml
  twitch_bot login --config config/bot.toml       then: twitch_bot --config config/bot.toml
  TWITCH_OAUTH_TOKEN=oauth:... twitch_bot --config config/bot.toml > events.jsonl";

/// Let a live Twitch chat play a game: chat votes and commands become game-input events (JSON lines on stdout).
#[derive(Debug, Parser)]
#[command(name = "twitch_bot", version, after_help = AFTER_HELP)]
struct Cli {
    /// Without a command: run the bot.
    #[command(subcommand)]
    command: Option<Command>,

    /// The TOML config file (see config/bot.toml for every key, commented).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "config/bot.toml",
        global = true
    )]
    config: PathBuf,

    /// Run the demo: an embedded Twitch-like chat server on 127.0.0.1 with simulated viewers; the bot connects
    /// to it exactly as to Twitch. Uses the embedded config/demo.toml unless --config is given (its server is
    /// replaced by the demo's).
    #[arg(long)]
    demo: bool,

    /// Validate the config (and that the token variable is set when a nick is), print a summary, and exit.
    #[arg(long)]
    check: bool,

    /// Log level for stderr (error, warn, info, debug, trace). RUST_LOG, when set, takes precedence for
    /// per-module filters, e.g. RUST_LOG=twitch_bot=debug.
    #[arg(long, value_name = "LEVEL", default_value = "info", global = true)]
    log_level: String,

    /// Stop gracefully after this many seconds (as on SIGTERM). Handy for demos and scripts.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,

    /// Start with keyboard output paused (resume with {"op":"output","enabled":true} or a moderator's !resume).
    #[arg(long)]
    output_paused: bool,

    /// Keyboard output logs what it would press (stderr, info) instead of pressing; works with kind = "none"
    /// too, for setting up the [[key]] bindings.
    #[arg(long)]
    dry_run_output: bool,

    /// Stop gracefully when stdin reaches its end (for a parent game that exits without signalling).
    #[arg(long)]
    exit_on_eof: bool,
}

/// Account commands (they use `[auth] client_id` from the config).
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Log in with Twitch's device code flow: prints a URL and a code to approve in a browser (and a QR code
    /// of the URL on a terminal), waits for the approval, and stores the tokens (mode 0600).
    Login {
        /// Scopes to ask for, instead of those the configured features need (chat:read chat:edit).
        #[arg(long, value_name = "SCOPE", num_args = 1.., value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Revoke the stored token at Twitch and delete the token file.
    Logout,
    /// Validate the stored token and print its login, scopes and expiry.
    Whoami,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Held until main returns: flushes the logs still queued (bounded wait).
    let _logs = init_logging(&cli.log_level);

    let config_given = std::env::args_os()
        .any(|a| a == "--config" || a.to_string_lossy().starts_with("--config="));
    let config = if cli.demo && !config_given {
        Ok(Config::demo())
    } else {
        Config::load(&cli.config)
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("twitch_bot: invalid configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Some(command) = cli.command {
        return account_command(command, &config);
    }
    let mut config = config;
    let token = if cli.demo {
        config
            .connection
            .nick
            .as_ref()
            .map(|_| Token::new(DEMO_TOKEN))
    } else {
        config.token()
    };
    // A stored (refreshed) token when [auth] client_id is set and the environment variable is not.
    let managed = if cli.demo {
        None
    } else {
        match twitch_bot::auth::cli::startup(&config, token.as_ref()) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("twitch_bot: {e}");
                return ExitCode::from(EXIT_AUTH);
            }
        }
    };
    if let Some(login) = managed.as_ref().and_then(|m| m.login.clone()) {
        let login = match twitch_bot::irc::Login::new(&login) {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "twitch_bot: the stored token's login is unusable ({e}): run `twitch_bot login` again"
                );
                return ExitCode::from(EXIT_AUTH);
            }
        };
        match &config.connection.nick {
            None => config.connection.nick = Some(login),
            Some(nick) if *nick != login => {
                eprintln!(
                    "twitch_bot: connection.nick is \"{nick}\" but the stored token belongs to \"{login}\": remove \
                     `nick` (the stored login is used) or run `twitch_bot login` as {nick}"
                );
                return ExitCode::from(EXIT_AUTH);
            }
            Some(_) => {}
        }
    }
    let token = managed.as_ref().map(|m| m.source.current()).or(token);
    if let (Some(nick), None) = (&config.connection.nick, &token) {
        eprintln!(
            "twitch_bot: connection.nick is \"{nick}\" but the environment variable {var} is not set or empty.\n  \
             Fix: run `twitch_bot login` (with [auth] client_id set), or export {var}=oauth:<token> (a user access \
             token with scopes chat:read and chat:edit), or remove `nick` from the config to join anonymously \
             (read-only).",
            var = config.connection.token_env
        );
        return ExitCode::from(EXIT_AUTH);
    }
    if let Some(ca) = &config.connection.ca_file
        && let Err(e) = std::fs::metadata(ca)
    {
        eprintln!(
            "twitch_bot: invalid configuration: connection.ca_file {}: {e}",
            ca.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    if let Some(sc) = &config.server
        && let Err(e) = server::read_secret(sc)
    {
        eprintln!("twitch_bot: invalid configuration: [server]: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let eventsub_lines = match twitch_bot::eventsub::check::check(
        &config,
        config.connection.nick.as_ref().map(|n| n.as_str()),
    ) {
        Ok(lines) => lines,
        Err(e) => {
            eprintln!("twitch_bot: invalid configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if cli.check {
        println!(
            "{}: OK: server {}, {} channel(s) [{}], {} vote(s) [{}], {} command(s) [{}], {}",
            if cli.demo && !config_given {
                "config/demo.toml (embedded)".into()
            } else {
                cli.config.display().to_string()
            },
            config.connection.server,
            config.connection.channels.len(),
            config.connection.channels.join(", "),
            config.votes.len(),
            config
                .votes
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            config.commands.len(),
            config
                .commands
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            match &config.connection.nick {
                Some(n) if cli.demo =>
                    format!("logged in as {n} (the demo server's built-in token)"),
                Some(n) => match managed.as_ref().map(|m| m.source.origin()) {
                    Some(twitch_bot::auth::source::Origin::Store(path)) => format!(
                        "logged in as {n} (stored token {}, refreshed)",
                        path.display()
                    ),
                    _ => format!(
                        "logged in as {n} (token from {})",
                        config.connection.token_env
                    ),
                },
                None => "anonymous (read-only)".into(),
            }
        );
        let o = &config.output;
        println!(
            "output: {}, {} key binding(s){}",
            match o.kind {
                OutputKind::None => "none (events only)",
                OutputKind::Keyboard => "keyboard",
            },
            o.bindings.len(),
            output::check_focus_guard(o)
                .map(|s| format!("; {s}"))
                .unwrap_or_default()
        );
        for line in eventsub_lines {
            println!("{line}");
        }
        let titles_known = config.connection.transport == twitch_bot::config::Transport::EventSub
            && config.twitch.eventsub_redemptions;
        for line in twitch_bot::chatplay::bot_config::check_lines(&config.rewards, titles_known) {
            println!("{line}");
        }
        return ExitCode::SUCCESS;
    }
    if let Some(d) = cli.duration
        && !(d.is_finite() && d > 0.0)
    {
        eprintln!("twitch_bot: --duration must be a positive number of seconds (got {d})");
        return ExitCode::from(EXIT_USAGE);
    }

    let rt = match driver::runtime() {
        Ok(rt) => rt,
        Err(BotError::Config(message)) => {
            eprintln!("twitch_bot: invalid configuration: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            eprintln!("twitch_bot: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let result = rt.block_on(async move {
        tokio::spawn(run(cli, config, token, managed))
            .await
            .unwrap_or(Err(BotError::Panicked))
    });
    // Leftover blocking work (a connect attempt, a stuck stdout write) must not delay the exit.
    rt.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(BotError::AuthFailed(message)) => {
            eprintln!("twitch_bot: authentication failed: {message}");
            ExitCode::from(EXIT_AUTH)
        }
        Err(BotError::Config(message)) => {
            eprintln!("twitch_bot: invalid configuration: {message}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("twitch_bot: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `login`, `logout`, `whoami`: exit 0, or 2 (1 when `[auth] client_id` is missing).
fn account_command(command: Command, config: &Config) -> ExitCode {
    use twitch_bot::auth::cli::{self, AuthError};
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("twitch_bot: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let result = rt.block_on(async {
        match command {
            Command::Login { scopes } => cli::login(config, Some(scopes)).await.map(|_| ()),
            Command::Logout => cli::logout(config).await.map(|path| {
                println!("Logged out: the token was revoked and {path} deleted");
            }),
            Command::Whoami => cli::whoami(config).await.map(|v| {
                let expiry = match v.expires_in {
                    Some(d) => format!("expires in {} min", d.as_secs() / 60),
                    None => "does not expire".into(),
                };
                println!(
                    "login: {}\nuser id: {}\nscopes: {}\ntoken: {expiry}",
                    v.login,
                    v.user_id,
                    v.scopes.join(" ")
                );
            }),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ AuthError::NoClientId) => {
            eprintln!("twitch_bot: invalid configuration: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("twitch_bot: {e}");
            ExitCode::from(EXIT_AUTH)
        }
    }
}

/// Logs go to stderr from a thread of their own, through a bounded, lossy queue: a parent process that
/// pipes stderr but never reads it cannot stall the bot (once the pipe and the queue are full, log lines are
/// dropped, never chat or events).
fn init_logging(level: &str) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(spec),
        _ => EnvFilter::try_new(level),
    }
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("twitch_bot-log")
        .finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Every registered secret (the OAuth token, ...) is blanked from every line, dependencies' included.
        .with_writer(twitch_bot::secret::Redacting::new(writer))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    guard
}

async fn run(
    cli: Cli,
    mut config: Config,
    token: Option<Token>,
    managed: Option<twitch_bot::auth::cli::Startup>,
) -> Result<(), BotError> {
    let _demo = if cli.demo {
        let server = DemoServer::start().await.map_err(BotError::Start)?;
        config.connection.server = server.url();
        config.connection.ca_file = None;
        info!(server = %server.url(), "demo: simulated viewers are chatting; events follow on stdout (Ctrl-C to stop)");
        Some(server)
    } else {
        None
    };

    let (requests_tx, requests_rx) = mpsc::channel(REQUEST_QUEUE);
    let (outbox, events) = Outbox::channel();
    let (state_tx, _state) = tokio::sync::watch::channel(ConnectionState::Connecting);
    // Keyboard output: sees every printed event through a tap; its own events go back through the driver.
    let keyboard = if config.output.kind == OutputKind::Keyboard || cli.dry_run_output {
        let emit_to = requests_tx.clone();
        let emit = Box::new(move |e: Event| {
            if emit_to.try_send(Request::Emit(e)).is_err() {
                tracing::debug!(
                    "keyboard output event not delivered (request queue full or closed)"
                );
            }
        });
        let options = StartOptions {
            paused: cli.output_paused,
            dry_run: cli.dry_run_output,
        };
        Some(
            Output::start(config.output.clone(), options, emit)
                .map_err(|e| BotError::Config(e.to_string()))?,
        )
    } else {
        None
    };
    let control: Option<OutputControl> = keyboard.as_ref().map(Output::control);
    let mut taps: Vec<stdio::EventTap> = keyboard.iter().map(Output::tap).collect();
    // The local server (overlay, /ws API) sees every event through the stdout writer's tap.
    let server_requests = match &control {
        Some(c) => output_aware(requests_tx.clone(), c.clone()),
        None => requests_tx.clone(),
    };
    let server = start_server(&cli, &mut config, &server_requests)?;
    drop(server_requests);
    taps.extend(server.iter().map(|s| s.tap()));
    let writer = stdio::spawn_writer(events, std::io::stdout(), requests_tx.clone(), taps)
        .map_err(BotError::Start)?;
    let (stdin_tx, mut stdin_rx) = mpsc::channel(stdio::CONTROL_QUEUE);
    stdio::spawn_reader(
        std::io::BufReader::with_capacity(8 * 1024, std::io::stdin()),
        stdin_tx,
    )
    .map_err(BotError::Start)?;

    // Signals, the optional time limit and stdin's end all become requests to the driver.
    let forward = requests_tx.clone();
    let exit_on_eof = cli.exit_on_eof;
    let stdin_control = control.clone();
    tokio::spawn(async move {
        while let Some(r) = stdin_rx.recv().await {
            let r = match r {
                Request::Control(Control::Output { enabled }) if stdin_control.is_some() => {
                    if let Some(c) = &stdin_control {
                        c.set_enabled(enabled, "stdin");
                    }
                    continue;
                }
                Request::InputClosed if exit_on_eof => {
                    info!("stdin closed: shutting down (--exit-on-eof)");
                    if let Some(c) = &stdin_control {
                        c.stop();
                    }
                    Request::Shutdown
                }
                other => other,
            };
            if forward.send(r).await.is_err() {
                break;
            }
        }
    });
    let forward = requests_tx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown requested (send the signal again to stop at once)");
        // Keys first: released at once, nothing more pressed (not even for the rounds closed by the shutdown).
        if let Some(c) = &control {
            c.stop();
        }
        let _ = forward.send(Request::Shutdown).await;
        shutdown_signal().await;
        if let Some(c) = &control {
            c.stop_and_wait(Duration::from_millis(500));
        }
        eprintln!("twitch_bot: stopped at once by a second signal");
        std::process::exit(130);
    });
    if let Some(secs) = cli.duration {
        let forward = requests_tx.clone();
        let control = keyboard.as_ref().map(Output::control);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            info!(secs, "--duration reached: shutting down");
            if let Some(c) = &control {
                c.stop();
            }
            let _ = forward.send(Request::Shutdown).await;
        });
    }
    drop(requests_tx);

    let tokens = managed.map(|m| {
        tokio::spawn(m.keeper);
        m.source
    });
    let settings = Settings {
        config,
        token,
        keywords_to: None,
        tokens,
    };
    let result = driver::run(settings, requests_rx, outbox, state_tx).await;
    if let Err(e) = &result {
        error!("{e}");
    }
    // The driver has dropped the outbox: the writer drains every event, then ends. A reader that stopped
    // reading entirely must not keep us alive forever.
    let join = tokio::task::spawn_blocking(move || writer.join());
    if tokio::time::timeout(Duration::from_secs(10), join)
        .await
        .is_err()
    {
        tracing::warn!("stdout is not being read; exiting without writing the last events");
    }
    if let Some(k) = keyboard {
        tokio::task::spawn_blocking(move || k.shutdown(Duration::from_secs(2)))
            .await
            .ok();
    }
    result
}

/// Starts the `[server]` (always on with `--demo`: the default port, or a free one if it is taken) and
/// prints its overlay URL on stderr.
fn start_server(
    cli: &Cli,
    config: &mut Config,
    requests: &mpsc::Sender<Request>,
) -> Result<Option<Server>, BotError> {
    let server_config = match (&config.server, cli.demo) {
        (Some(c), _) => c.clone(),
        (None, true) => ServerConfig::local(
            server::config::DEFAULT_LISTEN
                .parse()
                .expect("valid default"),
        ),
        (None, false) => return Ok(None),
    };
    let channels: Vec<String> = config
        .connection
        .channels
        .iter()
        .map(|c| c.to_string())
        .collect();
    let started = match Server::start(&server_config, requests.clone(), channels.clone()) {
        Err(server::ServerError::Bind { .. }) if cli.demo && config.server.is_none() => {
            let mut any = server_config.clone();
            any.listen.set_port(0);
            Server::start(&any, requests.clone(), channels)
        }
        other => other,
    };
    let server = started.map_err(|e| BotError::Config(format!("[server]: {e}")))?;
    eprintln!(
        "twitch_bot: overlay at {} (OBS Browser Source); WebSocket API at ws://{}/ws",
        server.overlay_url(),
        server.addr()
    );
    Ok(Some(server))
}

/// The local server's requests, with `/ws`'s `output` op handed to the keyboard output, as stdin's is (the
/// driver does not own the keyboard). An op with an `id` is answered `ok`.
fn output_aware(requests: mpsc::Sender<Request>, control: OutputControl) -> mpsc::Sender<Request> {
    let (tx, mut rx) = mpsc::channel(REQUEST_QUEUE);
    tokio::spawn(async move {
        while let Some(r) = rx.recv().await {
            let r = match r {
                Request::Op(Control::Output { enabled }, reply) => {
                    control.set_enabled(enabled, "ws");
                    let _ = reply.send(Ok(()));
                    continue;
                }
                Request::Control(Control::Output { enabled }) => {
                    control.set_enabled(enabled, "ws");
                    continue;
                }
                other => other,
            };
            if requests.send(r).await.is_err() {
                break;
            }
        }
    });
    tx
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
