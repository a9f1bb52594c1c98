//! The thin HTTPS driver for the Helix calls EventSub needs (reqwest on the bot's rustls + ring config):
//! `GET /users`, `POST` and `DELETE /eventsub/subscriptions`, `POST /chat/messages`.
//!
//! Every call sends `Authorization: Bearer <token>` and `Client-Id`, taking the **current** token
//! ([`TokenSource::current`]) each time. A 401 goes through [`TokenSource::handle_auth_failure`]: the keeper
//! refreshes the token, the call waits for it (at most [`REFRESH_WAIT`]) and is sent once more; a second 401,
//! or a token that cannot be refreshed, is [`HelixCallError::Auth`], which ends the bot (exit 2) with what to
//! do. Answers are read up to [`MAX_BODY_BYTES`]; error bodies are clipped and redacted before they reach an
//! event or a log line. The token itself is never logged (it is a registered secret, and no header is
//! logged here).

use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::helix::{
    CreateSubscription, CreatedSubscription, HelixError, MAX_BODY_BYTES, SendChatMessage,
    SentMessage, SentMessages, SubscribeFailure, User, Users, classify_create_error, parse_body,
};
use crate::auth::TokenSource;
use crate::config::Token;

/// How long a call that got a 401 waits for the refreshed token before giving up.
pub const REFRESH_WAIT: Duration = Duration::from_secs(15);

/// Why a Helix call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelixCallError {
    /// No answer (connection refused, TLS, timeout).
    #[error("Helix {call}: no answer: {detail}")]
    Transport {
        /// The call (`users`, ...).
        call: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// An error status.
    #[error("Helix {call}: {status}: {message}")]
    Status {
        /// The call.
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// Twitch's `message` (clipped).
        message: String,
    },
    /// An answer that is not what Twitch documents.
    #[error("Helix {call}: unexpected answer: {detail}")]
    Shape {
        /// The call.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The token was refused and cannot be refreshed: the bot stops (exit 2) with this message.
    #[error("{0}")]
    Auth(String),
}

/// Why a chat message could not be sent through `POST /chat/messages`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// 429: too fast; the message is sent again after a pause.
    #[error("429 Too Many Requests: {0}")]
    RateLimited(String),
    /// Anything else (the message is dropped and reported).
    #[error(transparent)]
    Call(#[from] HelixCallError),
}

/// Where the token comes from: refreshed while the bot runs, or fixed (an environment variable).
#[derive(Debug, Clone)]
enum Tokens {
    Managed(TokenSource),
    Fixed(Token),
}

/// A Helix client for one app and account (cheap to clone: spawn calls freely).
#[derive(Debug, Clone)]
pub struct Helix {
    http: reqwest::Client,
    api_url: String,
    client_id: String,
    tokens: Tokens,
    /// The environment variable of a fixed token (for the error message).
    token_env: String,
}

impl Helix {
    /// A client for `api_url` (e.g. `https://api.twitch.tv/helix`) as app `client_id`, with the refreshed
    /// `managed` token when given, else the fixed `token` (read from `token_env`).
    pub fn new(
        http: reqwest::Client,
        api_url: &str,
        client_id: &str,
        managed: Option<TokenSource>,
        token: Token,
        token_env: &str,
    ) -> Helix {
        Helix {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            tokens: match managed {
                Some(t) => Tokens::Managed(t),
                None => Tokens::Fixed(token),
            },
            token_env: token_env.to_owned(),
        }
    }

    fn token(&self) -> Token {
        match &self.tokens {
            Tokens::Managed(t) => t.current(),
            Tokens::Fixed(t) => t.clone(),
        }
    }

    /// One request: status and bounded body. On a 401, refresh and send once more.
    async fn send(
        &self,
        call: &'static str,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), HelixCallError> {
        let mut refreshed = false;
        loop {
            let token = self.token();
            let req = build(&self.http, &self.api_url)
                .bearer_auth(token.secret())
                .header("Client-Id", &self.client_id);
            let (status, body) = read(call, req).await?;
            if status != 401 {
                return Ok((status, body));
            }
            let said = message_of(&body, status);
            if refreshed {
                return Err(HelixCallError::Auth(format!(
                    "Helix {call} refused the refreshed token too (\"{said}\"): run `twitch_bot login`"
                )));
            }
            match &self.tokens {
                Tokens::Fixed(_) => {
                    return Err(HelixCallError::Auth(format!(
                        "Helix {call} refused the token (\"{said}\"). The token in the environment variable {} \
                         cannot be refreshed: put a fresh user token with the scopes user:read:chat and \
                         user:write:chat there, or unset it and run `twitch_bot login`",
                        self.token_env
                    )));
                }
                Tokens::Managed(source) => {
                    source
                        .handle_auth_failure(&said, Instant::now())
                        .map_err(HelixCallError::Auth)?;
                    warn!(
                        call,
                        "Helix refused the token; refreshing it and trying once more"
                    );
                    let until = Instant::now() + REFRESH_WAIT;
                    while source.refresh_pending(Instant::now()) && Instant::now() < until {
                        if let Some(why) = source.fatal() {
                            return Err(HelixCallError::Auth(why));
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    if let Some(why) = source.fatal() {
                        return Err(HelixCallError::Auth(why));
                    }
                    refreshed = true;
                }
            }
        }
    }

    /// `GET /users?login=...`: the users named (unknown logins are left out); with no login, the token's own
    /// user. At most 100 logins per call.
    pub async fn users(&self, logins: &[String]) -> Result<Vec<User>, HelixCallError> {
        let query: Vec<(&str, &str)> = logins
            .iter()
            .take(100)
            .map(|l| ("login", l.as_str()))
            .collect();
        let (status, body) = self
            .send("users", |http, api| {
                http.get(format!("{api}/users")).query(&query)
            })
            .await?;
        if status != 200 {
            return Err(status_error("users", status, &body));
        }
        parse_body::<Users>("users", &body)
            .map(|u| u.data)
            .map_err(|e| HelixCallError::Shape {
                call: "users",
                detail: e.to_string(),
            })
    }

    /// `POST /eventsub/subscriptions`. Errors are classified ([`classify_create_error`]): 403 names the
    /// missing scope, 409 and 429 are final; no answer is [`SubscribeFailure::Transport`].
    pub async fn create_subscription(
        &self,
        request: &CreateSubscription,
    ) -> Result<Result<CreatedSubscription, SubscribeFailure>, HelixCallError> {
        let kind = request.kind.clone();
        let answer = self
            .send("eventsub/subscriptions", |http, api| {
                json(http.post(format!("{api}/eventsub/subscriptions")), request)
            })
            .await;
        let (status, body) = match answer {
            Ok(a) => a,
            Err(HelixCallError::Transport { detail, .. }) => {
                return Ok(Err(SubscribeFailure::Transport { kind, detail }));
            }
            Err(e) => return Err(e),
        };
        if status != 202 && status != 200 {
            return Ok(Err(classify_create_error(&kind, status, &body)));
        }
        Ok(
            parse_body::<CreatedSubscription>("eventsub/subscriptions", &body).map_err(|e| {
                SubscribeFailure::Other {
                    kind,
                    status,
                    message: e.to_string(),
                }
            }),
        )
    }

    /// `DELETE /eventsub/subscriptions?id=`: 204, or 404 when it is gone already (both fine).
    pub async fn delete_subscription(&self, id: &str) -> Result<(), HelixCallError> {
        let (status, body) = self
            .send("eventsub/subscriptions", |http, api| {
                http.delete(format!("{api}/eventsub/subscriptions"))
                    .query(&[("id", id)])
            })
            .await?;
        match status {
            204 | 404 => Ok(()),
            s => Err(status_error("eventsub/subscriptions", s, &body)),
        }
    }

    /// `POST /chat/messages`: Twitch's answer for the message (`is_sent`, `drop_reason`).
    pub async fn send_chat(&self, message: &SendChatMessage) -> Result<SentMessage, SendFailure> {
        let (status, body) = self
            .send("chat/messages", |http, api| {
                json(http.post(format!("{api}/chat/messages")), message)
            })
            .await?;
        match status {
            200 => {}
            429 => return Err(SendFailure::RateLimited(message_of(&body, status))),
            s => return Err(status_error("chat/messages", s, &body).into()),
        }
        let answer = parse_body::<SentMessages>("chat/messages", &body).map_err(|e| {
            HelixCallError::Shape {
                call: "chat/messages",
                detail: e.to_string(),
            }
        })?;
        answer.data.into_iter().next().ok_or_else(|| {
            HelixCallError::Shape {
                call: "chat/messages",
                detail: "empty data".into(),
            }
            .into()
        })
    }
}

/// `body` as a JSON request body (reqwest's `json` feature is off; serde_json is already here).
fn json(req: reqwest::RequestBuilder, body: &impl serde::Serialize) -> reqwest::RequestBuilder {
    req.header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
}

async fn read(
    call: &'static str,
    req: reqwest::RequestBuilder,
) -> Result<(u16, Vec<u8>), HelixCallError> {
    let transport = |e: reqwest::Error| HelixCallError::Transport {
        call,
        detail: crate::secret::redact(&e.without_url().to_string()),
    };
    let mut resp = req.send().await.map_err(transport)?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(HelixCallError::Shape {
                call,
                detail: format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    debug!(call, status, bytes = body.len(), "Helix answer");
    Ok((status, body))
}

/// Twitch's error `message`, clipped, printable and redacted.
fn message_of(body: &[u8], status: u16) -> String {
    let m = parse_body::<HelixError>("error", body)
        .ok()
        .map(|e| e.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let m: String = m
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::secret::redact(&m)
}

fn status_error(call: &'static str, status: u16, body: &[u8]) -> HelixCallError {
    HelixCallError::Status {
        call,
        status,
        message: message_of(body, status),
    }
}
