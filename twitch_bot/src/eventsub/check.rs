//! What `twitch_bot --check` (and the start) says about the EventSub settings: a config that cannot work
//! is refused, and a redemption subscription that Twitch would refuse is pointed out before it is tried.

use crate::config::{Config, Transport};

/// For `connection.transport = "eventsub"`: `Ok(lines)` to print with `--check` (the endpoint, the keepalive,
/// and a note when redemptions are on but the logged-in user is not every channel's broadcaster), or
/// `Err` naming what is missing. `login` is the account the token belongs to, when known (the stored
/// token's login, or `connection.nick`). For IRC: `Ok` with no line.
///
/// ```
/// use twitch_bot::config::Config;
/// let c = Config::from_toml_str(
///     "[connection]\ntransport = \"eventsub\"\nchannels = [\"streamer\", \"mybot\"]\n[auth]\nclient_id = \"abc\"\n\
///      [twitch]\neventsub_redemptions = true\n",
///     "t.toml",
/// )
/// .unwrap();
/// let lines = twitch_bot::eventsub::check::check(&c, Some("mybot")).unwrap();
/// assert!(lines[1].contains("streamer") && lines[1].contains("broadcaster"));
/// ```
pub fn check(config: &Config, login: Option<&str>) -> Result<Vec<String>, String> {
    if config.connection.transport != Transport::EventSub {
        return Ok(Vec::new());
    }
    if config.auth.client_id.is_none() {
        return Err(
            "connection.transport = \"eventsub\" needs [auth] client_id: Helix requires the app's client id \
             (register an app at the Twitch developer console, then `twitch_bot login`)"
                .into(),
        );
    }
    let t = &config.twitch;
    let mut lines = vec![format!(
        "transport: eventsub ({}, keepalive {} s; Helix {}), redemptions {}",
        t.eventsub_url,
        t.eventsub_keepalive_secs,
        t.api_url,
        if t.eventsub_redemptions { "on" } else { "off" }
    )];
    if t.eventsub_redemptions {
        let others: Vec<String> = config
            .connection
            .channels
            .iter()
            .map(|c| c.to_string())
            .filter(|c| Some(c.as_str()) != login)
            .collect();
        match login {
            _ if others.is_empty() => {}
            Some(login) => lines.push(format!(
                "note: channel-point redemptions need the broadcaster's own authorization, and the token is \
                 {login}'s: Twitch will refuse them (403) for {}. Log in as that broadcaster, or turn \
                 [twitch] eventsub_redemptions off",
                others.join(", ")
            )),
            None => lines.push(format!(
                "note: channel-point redemptions need the broadcaster's own authorization: the token must be \
                 the broadcaster's of {} (with the scope channel:read:redemptions)",
                others.join(", ")
            )),
        }
    }
    Ok(lines)
}
