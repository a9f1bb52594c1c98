//! Game-input events (JSON lines) and control commands.
