//! The `twitch_bot` program (CLI only; the work is in the library).
fn main() {}
