//! Support for the workspace end-to-end tests: a mock Twitch server.
