//! The bot's TOML configuration.
