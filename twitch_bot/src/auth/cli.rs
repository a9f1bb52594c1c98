//! `twitch_bot login`, `logout` and `whoami`, and which token the bot runs with ([`startup`]).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::auth::device::{DeviceFlow, Outcome};
use crate::auth::http::{self, HttpError, IdClient, ValidateAnswer, Validation};
use crate::auth::refresh::Refresher;
use crate::auth::source::{Origin, TokenSource};
use crate::auth::store::{StoreError, StoredToken, TokenStore};
use crate::config::{Config, Token};

/// Why a login, logout, whoami or the start-up token choice failed. The program exits with code 2 for
/// all of them except [`AuthError::NoClientId`] (1, a config error).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// `[auth] client_id` is not set.
    #[error(
        "auth.client_id is not set: register an app at the Twitch developer console (a public client with the \
         device code flow enabled) and put its client id in the [auth] table"
    )]
    NoClientId,
    /// The token store could not be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The identity server could not be used.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The user did not approve in time.
    #[error("the code expired before it was approved; run `twitch_bot login` again")]
    Expired,
    /// The identity server refused the login or the token.
    #[error("the identity server refused: {0}")]
    Refused(String),
    /// No token is stored.
    #[error("no token stored in {0}: run `twitch_bot login`")]
    NotLoggedIn(String),
}

/// What `twitch_bot login` prints (to stdout): the URL, the code, and where the tokens went.
pub async fn login(config: &Config, scopes: Option<Vec<String>>) -> Result<StoredToken, AuthError> {
    let (client, store) = client_and_store(config)?;
    let scopes = scopes
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| crate::auth::scopes_for(config));
    let code = client.device(&scopes).await?;
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "To authorize the bot, open {}\nand enter the code: {}\n(scopes: {}; the code expires in {} min)",
        code.verification_uri,
        code.user_code,
        scopes.join(" "),
        code.expires_in.as_secs().div_ceil(60)
    );
    if out.is_terminal() {
        if let Some(qr) = qr_text(&code.verification_uri) {
            let _ = writeln!(out, "{qr}");
        }
    }
    let _ = out.flush();
    let spinner = std::io::stderr().is_terminal();
    let mut flow = DeviceFlow::new(code.interval, code.expires_in, Instant::now());
    let frames = ['|', '/', '-', '\\'];
    let mut tick = 0usize;
    loop {
        let now = Instant::now();
        if flow.poll_request(now) {
            let answer = client.poll_device(&code.device_code, &scopes).await;
            if let http::TokenAnswer::Unreachable(why) = &answer {
                tracing::warn!(%why, "polling the identity server failed; trying again");
            }
            flow.handle_answer(answer, Instant::now());
            continue;
        }
        let Some(wake) = flow.poll_timeout() else {
            break;
        };
        if spinner {
            let left = flow.deadline().saturating_duration_since(now).as_secs();
            eprint!(
                "\r{} waiting for approval ({}:{:02} left) ",
                frames[tick % frames.len()],
                left / 60,
                left % 60
            );
            tick += 1;
            let step = Instant::now() + Duration::from_millis(250);
            tokio::time::sleep_until(wake.min(step).into()).await;
        } else {
            tokio::time::sleep_until(wake.into()).await;
        }
    }
    if spinner {
        eprintln!();
    }
    let tokens = match flow.take_outcome() {
        Some(Outcome::Authorized(t)) => t,
        Some(Outcome::Expired) | None => return Err(AuthError::Expired),
        Some(Outcome::Refused(m)) => return Err(AuthError::Refused(m)),
    };
    // The grant does not say who approved: ask.
    let v = match client.validate(&tokens.access_token).await {
        ValidateAnswer::Valid(v) => v,
        ValidateAnswer::Invalid => {
            return Err(AuthError::Refused("the new token did not validate".into()));
        }
        ValidateAnswer::Unreachable(why) => return Err(HttpError::Unreachable(why).into()),
    };
    let stored = StoredToken::new(client.client_id(), &v.login, &v.user_id, &tokens);
    store.save(&stored)?;
    let _ = writeln!(
        out,
        "Logged in as {} (user id {}); token stored in {}",
        v.login,
        v.user_id,
        store.path().display()
    );
    Ok(stored)
}

/// `twitch_bot logout`: revokes the stored tokens and deletes the file. Returns the file's path.
pub async fn logout(config: &Config) -> Result<String, AuthError> {
    let (client, store) = client_and_store(config)?;
    let path = store.path().display().to_string();
    let Some(t) = store.load()? else {
        return Err(AuthError::NotLoggedIn(path));
    };
    client.revoke(&t.access_token).await?;
    if let Some(r) = &t.refresh_token {
        // Revoking the access token ends the grant; the refresh token is revoked too where the server allows.
        let _ = client.revoke(r).await;
    }
    store.delete()?;
    Ok(path)
}

/// `twitch_bot whoami`: validates the stored token (refreshing it once if it has expired).
pub async fn whoami(config: &Config) -> Result<Validation, AuthError> {
    let (client, store) = client_and_store(config)?;
    let Some(mut t) = store.load()? else {
        return Err(AuthError::NotLoggedIn(store.path().display().to_string()));
    };
    for attempt in 0..2 {
        match client.validate(&t.access_token).await {
            ValidateAnswer::Valid(v) => return Ok(v),
            ValidateAnswer::Unreachable(why) => return Err(HttpError::Unreachable(why).into()),
            ValidateAnswer::Invalid if attempt == 0 => {
                let Some(r) = t.refresh_token.clone() else {
                    break;
                };
                match client.refresh(&r).await {
                    http::RefreshAnswer::Granted(tokens) => {
                        t = t.refreshed(&tokens);
                        store.save(&t)?;
                    }
                    http::RefreshAnswer::Rejected(m) => {
                        return Err(AuthError::Refused(format!(
                            "the token has expired and the refresh token was rejected ({m}): run `twitch_bot login`"
                        )));
                    }
                    http::RefreshAnswer::Unreachable(why) => {
                        return Err(HttpError::Unreachable(why).into());
                    }
                }
            }
            ValidateAnswer::Invalid => break,
        }
    }
    Err(AuthError::Refused(
        "the stored token is not valid: run `twitch_bot login`".into(),
    ))
}

/// The token the bot runs with, when it is managed (refreshed or validated): its source, the login it
/// belongs to, and the keeper to spawn.
pub struct Startup {
    /// The shared current token.
    pub source: TokenSource,
    /// The user the token belongs to, when known (stored tokens).
    pub login: Option<String>,
    /// Runs the schedule; spawn it on the bot's runtime.
    pub keeper: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

/// Chooses the token at start: the environment variable's (validated hourly when `[auth] client_id` is
/// set), else the stored one when `[auth] client_id` is set. `Ok(None)`: no managed token (then the
/// environment variable, if set, is used as it is).
pub fn startup(config: &Config, env_token: Option<&Token>) -> Result<Option<Startup>, AuthError> {
    if config.auth.client_id.is_none() {
        return Ok(None);
    }
    let (client, store) = client_and_store(config)?;
    let now = Instant::now();
    if let Some(token) = env_token {
        let source = TokenSource::new(
            token.clone(),
            Origin::Env(config.connection.token_env.clone()),
            Refresher::new(false, None, now),
        );
        let keeper = Box::pin(crate::auth::source::keep(source.clone(), client, None));
        return Ok(Some(Startup {
            source,
            login: None,
            keeper,
        }));
    }
    let Some(stored) = store.load()? else {
        return Ok(None);
    };
    let source = TokenSource::new(
        Token::new(&stored.access_token),
        Origin::Store(store.path().to_owned()),
        Refresher::new(stored.refresh_token.is_some(), stored.expires_in(), now),
    );
    let login = Some(stored.login.clone());
    let keeper = Box::pin(crate::auth::source::keep(
        source.clone(),
        client,
        Some((store, stored)),
    ));
    Ok(Some(Startup {
        source,
        login,
        keeper,
    }))
}

/// The identity-server client and the token store for the configured client id.
pub fn client_and_store(config: &Config) -> Result<(IdClient, TokenStore), AuthError> {
    let client_id = config
        .auth
        .client_id
        .as_deref()
        .ok_or(AuthError::NoClientId)?;
    let secret = config
        .auth
        .client_secret_env
        .as_ref()
        .and_then(|v| std::env::var(v).ok())
        .filter(|s| !s.trim().is_empty());
    let http = http::http_client(config.connection.ca_file.as_deref())?;
    let client = IdClient::new(http, &config.twitch.id_url, client_id, secret);
    let store = TokenStore::new(config.auth.token_file.clone(), client_id)?;
    Ok((client, store))
}

/// The QR code of `text`, drawn with Unicode half blocks (two rows per line), with a quiet zone.
pub fn qr_text(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn qr_code_is_drawn() {
        let qr = super::qr_text("https://www.twitch.tv/activate?public=true&device-code=ABCDEFGH")
            .unwrap();
        assert!(qr.lines().count() > 10);
        assert!(qr.contains('█') || qr.contains('▀') || qr.contains('▄'));
    }
}
