//! The subscription plan: which subscriptions the bot wants (per channel the four chat types, plus
//! redemptions and cheers when asked for), checked against Twitch's per-session and cost limits, and the
//! EventSub URL with its keepalive.

use std::collections::BTreeMap;

use super::MAX_SUBSCRIPTIONS_PER_SESSION;
use crate::eventsub::events::types;
use crate::eventsub::helix::{CreateSubscription, CreateTransport};
use crate::eventsub::session::KEEPALIVE_RANGE;
use crate::eventsub::wire::Subscription;

/// One subscription of the plan: type, version and condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    /// The subscription type.
    pub kind: String,
    /// Its version.
    pub version: String,
    /// Its condition.
    pub condition: BTreeMap<String, String>,
}

impl SubscriptionSpec {
    /// A chat subscription (`channel.chat.*`): condition `broadcaster_user_id` and `user_id` (the reader).
    pub fn chat(kind: &str, broadcaster_user_id: &str, user_id: &str) -> Self {
        SubscriptionSpec {
            kind: kind.to_string(),
            version: "1".to_string(),
            condition: [
                (
                    "broadcaster_user_id".to_string(),
                    broadcaster_user_id.to_string(),
                ),
                ("user_id".to_string(), user_id.to_string()),
            ]
            .into(),
        }
    }

    /// A broadcaster subscription (redemptions, cheers): condition `broadcaster_user_id` only.
    pub fn broadcaster(kind: &str, broadcaster_user_id: &str) -> Self {
        SubscriptionSpec {
            kind: kind.to_string(),
            version: "1".to_string(),
            condition: [(
                "broadcaster_user_id".to_string(),
                broadcaster_user_id.to_string(),
            )]
            .into(),
        }
    }

    /// Its cost against `max_total_cost` when authorized by `user_id`: 0 when the condition names that user
    /// (as `user_id` or `broadcaster_user_id`), 1 otherwise.
    pub fn cost_for(&self, user_id: &str) -> u64 {
        let names_user = self.condition.get("user_id").map(String::as_str) == Some(user_id)
            || self
                .condition
                .get("broadcaster_user_id")
                .map(String::as_str)
                == Some(user_id);
        u64::from(!names_user)
    }

    pub(super) fn request(&self, session_id: &str) -> CreateSubscription {
        CreateSubscription {
            kind: self.kind.clone(),
            version: self.version.clone(),
            condition: self.condition.clone(),
            transport: CreateTransport {
                method: "websocket".to_string(),
                session_id: session_id.to_string(),
            },
        }
    }

    pub(super) fn matches(&self, sub: &Subscription) -> bool {
        self.kind == sub.kind && self.condition == sub.condition
    }
}

/// A channel to read, with its user id (from `GET /users`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelIds {
    /// The channel's login.
    pub login: String,
    /// The channel's user id.
    pub user_id: String,
}

/// What the bot wants from EventSub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    /// The logged-in user (the chat reader).
    pub reader_user_id: String,
    /// The channels to read.
    pub channels: Vec<ChannelIds>,
    /// Subscribe to channel-point redemptions (needs the broadcaster's own token).
    pub redemptions: bool,
    /// Subscribe to cheers (needs the broadcaster's own token).
    pub cheers: bool,
    /// The cost limit (`max_total_cost`; 10 for a user's WebSocket subscriptions unless Twitch said otherwise).
    pub max_total_cost: u64,
}

/// Why a subscription plan cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// More subscriptions than one session may hold.
    #[error(
        "{count} EventSub subscriptions are needed ({per_channel} per channel) but one session holds at most {max}: read fewer channels"
    )]
    TooManySubscriptions {
        /// How many the plan needs.
        count: usize,
        /// How many per channel.
        per_channel: usize,
        /// The limit.
        max: usize,
    },
    /// The plan's cost is above the limit.
    #[error(
        "the EventSub subscriptions cost {cost} but the limit is {max}: redemptions and cheers only cost nothing on the broadcaster's own account"
    )]
    TooCostly {
        /// The plan's cost.
        cost: u64,
        /// The limit.
        max: u64,
    },
    /// No channel to read.
    #[error("no channel to read")]
    NoChannels,
}

/// The subscriptions for `request`: per channel the four chat types, plus redemptions and cheers when asked
/// for; checked against [`MAX_SUBSCRIPTIONS_PER_SESSION`] and the cost limit.
pub fn plan_subscriptions(request: &PlanRequest) -> Result<Vec<SubscriptionSpec>, PlanError> {
    if request.channels.is_empty() {
        return Err(PlanError::NoChannels);
    }
    let reader = &request.reader_user_id;
    let mut specs = Vec::new();
    for channel in &request.channels {
        for kind in [
            types::CHAT_MESSAGE,
            types::MESSAGE_DELETE,
            types::CLEAR_USER_MESSAGES,
            types::CHAT_CLEAR,
        ] {
            specs.push(SubscriptionSpec::chat(kind, &channel.user_id, reader));
        }
        if request.redemptions {
            specs.push(SubscriptionSpec::broadcaster(
                types::REDEMPTION_ADD,
                &channel.user_id,
            ));
        }
        if request.cheers {
            specs.push(SubscriptionSpec::broadcaster(
                types::CHEER,
                &channel.user_id,
            ));
        }
    }
    if specs.len() > MAX_SUBSCRIPTIONS_PER_SESSION {
        return Err(PlanError::TooManySubscriptions {
            count: specs.len(),
            per_channel: specs.len() / request.channels.len(),
            max: MAX_SUBSCRIPTIONS_PER_SESSION,
        });
    }
    let cost: u64 = specs.iter().map(|s| s.cost_for(reader)).sum();
    if cost > request.max_total_cost {
        return Err(PlanError::TooCostly {
            cost,
            max: request.max_total_cost,
        });
    }
    Ok(specs)
}

/// `base` with `keepalive_timeout_seconds` (clamped to 10..=600) added to its query.
///
/// ```
/// use twitch_bot::eventsub::session::eventsub_url;
/// assert_eq!(eventsub_url("wss://eventsub.wss.twitch.tv/ws", 30), "wss://eventsub.wss.twitch.tv/ws?keepalive_timeout_seconds=30");
/// assert_eq!(eventsub_url("wss://h/ws?x=1", 5), "wss://h/ws?x=1&keepalive_timeout_seconds=10");
/// ```
pub fn eventsub_url(base: &str, keepalive_secs: u64) -> String {
    let secs = keepalive_secs.clamp(*KEEPALIVE_RANGE.start(), *KEEPALIVE_RANGE.end());
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}keepalive_timeout_seconds={secs}")
}
