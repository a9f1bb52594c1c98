//! Outgoing rate limits: Twitch's PRIVMSG and JOIN buckets.
