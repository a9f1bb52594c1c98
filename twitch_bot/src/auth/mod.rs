//! Twitch accounts: device-code login, the token store, refresh and hourly validation.
//!
//! `twitch_bot login` runs Twitch's **Device Code Grant Flow**: it asks the identity server for a device
//! code, shows the user a URL and a code (and a QR code of the URL on a terminal), and polls until the user
//! has approved; the tokens go to the [token store](store). While the bot runs, a keeper task
//! ([`source::keep`]) refreshes the access token before it expires and when a login is refused, validates it
//! every hour, and saves each rotated refresh token at once; the driver takes the current token from the
//! [`TokenSource`] at every connect and reconnect. A token the user revoked ends the bot with exit code 2
//! and a message asking for `twitch_bot login`.
//!
//! | module | job |
//! |---|---|
//! | [`device`] | sans-IO: when to poll the token endpoint (`interval`, `slow_down`, `expires_in`) |
//! | [`refresh`] | sans-IO: when to refresh (90 % of the lifetime, on refusal) and validate (hourly) |
//! | [`store`] | the token file: 0600, atomic replace, refuses corrupt/open/foreign files |
//! | [`http`] | the thin HTTPS driver for `/device`, `/token`, `/validate`, `/revoke` (reqwest, rustls + ring) |
//! | [`source`] | the shared current token and the keeper task that runs [`refresh`] |
//! | [`cli`] | `login`, `logout`, `whoami`, and the choice of token at start |
//! | [`config`] | the `[auth]` and `[twitch]` tables |
//!
//! The token from `connection.token_env` still works and takes precedence over the store; it cannot be
//! refreshed (with `[auth] client_id` set it is validated hourly, and the log says when it has expired).

pub mod cli;
pub mod config;
pub mod device;
pub mod http;
pub mod refresh;
pub mod source;
pub mod store;

pub use source::TokenSource;

/// The scopes chat over IRC needs: read and send.
pub const IRC_SCOPES: [&str; 2] = ["chat:read", "chat:edit"];

/// The scopes chat over EventSub needs: read (the `channel.chat.*` subscriptions) and send (Helix
/// `POST /chat/messages`).
pub const EVENTSUB_SCOPES: [&str; 2] = ["user:read:chat", "user:write:chat"];

/// The scope the `channel.channel_points_custom_reward_redemption.add` subscription needs.
pub const REDEMPTIONS_SCOPE: &str = "channel:read:redemptions";

/// The scopes the configured features need (`twitch_bot login` asks for these unless `--scopes` is given):
/// [`IRC_SCOPES`] for IRC; [`EVENTSUB_SCOPES`] for EventSub, plus [`REDEMPTIONS_SCOPE`] with
/// `[twitch] eventsub_redemptions`. Cheers need no scope of their own: their bits arrive in the
/// `channel.chat.message` event (`cheer.bits`), and the bot does not subscribe to `channel.cheer` (see
/// [`crate::eventsub::driver`]).
///
/// ```
/// use twitch_bot::config::Config;
/// let irc = Config::from_toml_str("", "t.toml").unwrap();
/// assert_eq!(twitch_bot::auth::scopes_for(&irc), ["chat:read", "chat:edit"]);
/// let es = Config::from_toml_str(
///     "[connection]\ntransport = \"eventsub\"\n[twitch]\neventsub_redemptions = true\n",
///     "t.toml",
/// )
/// .unwrap();
/// assert_eq!(
///     twitch_bot::auth::scopes_for(&es),
///     ["user:read:chat", "user:write:chat", "channel:read:redemptions"]
/// );
/// ```
pub fn scopes_for(config: &crate::config::Config) -> Vec<String> {
    match config.connection.transport {
        crate::config::Transport::Irc => IRC_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        crate::config::Transport::EventSub => {
            let mut scopes: Vec<String> = EVENTSUB_SCOPES.iter().map(|s| (*s).to_owned()).collect();
            if config.twitch.eventsub_redemptions {
                scopes.push(REDEMPTIONS_SCOPE.to_owned());
            }
            scopes
        }
    }
}
