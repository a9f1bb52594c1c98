//! The driver: sockets, timers and tasks around the session and the ChatPlay engine.
