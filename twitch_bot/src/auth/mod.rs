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

/// The scopes the configured features need (`twitch_bot login` asks for these unless `--scopes` is given).
pub fn scopes_for(config: &crate::config::Config) -> Vec<String> {
    let _ = config; // IRC is the only transport so far; EventSub will add user:read:chat user:write:chat.
    IRC_SCOPES.iter().map(|s| (*s).to_owned()).collect()
}
