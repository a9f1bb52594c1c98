//! The Twitch session: a sans-IO state machine (lines and clock ticks in, lines and events out).
