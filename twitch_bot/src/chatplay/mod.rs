//! The ChatPlay engine: keyword handlers, chat commands and votes.
