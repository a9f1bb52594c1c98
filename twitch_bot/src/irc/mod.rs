//! Twitch IRC: splitting WebSocket frames into lines, IRCv3 tags, typed server messages.
