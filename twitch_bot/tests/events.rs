//! The JSON line contract: event shapes (field names and order are what games parse) and stdin control ops.

use serde_json::{Value, json};
use twitch_bot::events::{Control, ControlError, Event, MAX_CONTROL_LINE, Tally};

fn parse(e: &Event) -> Value {
    let line = e.to_json_line();
    assert!(line.ends_with('\n'), "one line per event: {line:?}");
    assert_eq!(line.matches('\n').count(), 1, "exactly one line: {line:?}");
    serde_json::from_str(&line).unwrap()
}

#[test]
fn connection_events() {
    assert_eq!(
        parse(&Event::Connected {
            server: "wss://x:443".into()
        }),
        json!({"type":"connected","server":"wss://x:443"})
    );
    assert_eq!(
        parse(&Event::Joined {
            channel: "c".into()
        }),
        json!({"type":"joined","channel":"c"})
    );
    assert_eq!(
        parse(&Event::Parted {
            channel: "c".into()
        }),
        json!({"type":"parted","channel":"c"})
    );
    assert_eq!(
        parse(&Event::Disconnected {
            reason: "closed by server (1006)".into()
        }),
        json!({"type":"disconnected","reason":"closed by server (1006)"})
    );
    assert_eq!(
        parse(&Event::Reconnecting {
            attempt: 3,
            delay_ms: 3500,
            reason: "no PONG from the server in time".into()
        }),
        json!({"type":"reconnecting","attempt":3,"delay_ms":3500,"reason":"no PONG from the server in time"})
    );
}

#[test]
fn vote_events() {
    assert_eq!(
        parse(&Event::VoteOpened {
            vote: "move".into(),
            round: 1,
            options: vec!["up".into(), "down".into()],
            window_ms: 20000
        }),
        json!({"type":"vote_opened","vote":"move","round":1,"options":["up","down"],"window_ms":20000})
    );
    let closed = Event::VoteClosed {
        vote: "move".into(),
        round: 1,
        winner: Some("up".into()),
        tally: Tally(vec![("up".into(), 3), ("down".into(), 1)]),
        voters: 4,
        refused_ballots: 0,
        weighted: None,
    };
    assert_eq!(
        parse(&closed),
        json!({"type":"vote_closed","vote":"move","round":1,"winner":"up","tally":{"up":3,"down":1},"voters":4})
    );
    // The tally keeps the option order on the wire (not sorted by key).
    assert!(
        closed
            .to_json_line()
            .contains(r#""tally":{"up":3,"down":1}"#)
    );
    let no_winner = Event::VoteClosed {
        vote: "move".into(),
        round: 2,
        winner: None,
        tally: Tally::default(),
        voters: 0,
        refused_ballots: 0,
        weighted: None,
    };
    assert_eq!(parse(&no_winner)["winner"], Value::Null);
    assert_eq!(parse(&no_winner)["tally"], json!({}));
    // A full round (max_voters reached) says how many ballots it refused; otherwise the field is left out.
    let full = Event::VoteClosed {
        vote: "move".into(),
        round: 3,
        winner: Some("up".into()),
        tally: Tally(vec![("up".into(), 2)]),
        voters: 2,
        refused_ballots: 5,
        weighted: None,
    };
    assert_eq!(
        parse(&full),
        json!({"type":"vote_closed","vote":"move","round":3,"winner":"up","tally":{"up":2},"voters":2,"refused_ballots":5})
    );
}

#[test]
fn tally_event() {
    let open = Event::Tally {
        vote: "move".into(),
        round: 4,
        open: true,
        tally: Tally(vec![("down".into(), 2), ("up".into(), 5)]),
        voters: 7,
        remaining_ms: 1250,
        weighted: None,
    };
    assert_eq!(
        parse(&open),
        json!({"type":"tally","vote":"move","round":4,"open":true,"tally":{"down":2,"up":5},"voters":7,"remaining_ms":1250})
    );
    // Field order and the tally's option order as on the wire (overlays draw bars in this order).
    assert_eq!(
        open.to_json_line(),
        "{\"type\":\"tally\",\"vote\":\"move\",\"round\":4,\"open\":true,\"tally\":{\"down\":2,\"up\":5},\"voters\":7,\"remaining_ms\":1250}\n"
    );
    assert_eq!(open.kind(), "tally");
    // No round open (before the first one): remaining_ms is present and 0, the tally empty.
    let idle = Event::Tally {
        vote: "move".into(),
        round: 0,
        open: false,
        tally: Tally::default(),
        voters: 0,
        remaining_ms: 0,
        weighted: None,
    };
    assert_eq!(
        parse(&idle),
        json!({"type":"tally","vote":"move","round":0,"open":false,"tally":{},"voters":0,"remaining_ms":0})
    );
}

#[test]
fn input_command_dropped_error_events() {
    assert_eq!(
        parse(&Event::Input {
            vote: "move".into(),
            input: "up".into(),
            repeat: 2,
            user: "login".into(),
            user_id: "123".into()
        }),
        json!({"type":"input","vote":"move","input":"up","repeat":2,"user":"login","user_id":"123"})
    );
    assert_eq!(
        parse(&Event::Command {
            command: "jump".into(),
            channel: "somechannel".into(),
            user: "login".into(),
            user_id: "123".into(),
            args: "high \"quoted\"\nx".into()
        }),
        json!({"type":"command","command":"jump","channel":"somechannel","user":"login","user_id":"123","args":"high \"quoted\"\nx"})
    );
    assert_eq!(
        parse(&Event::Dropped { count: 7 }),
        json!({"type":"dropped","count":7})
    );
    assert_eq!(
        parse(&Event::error("bad_control", "nope")),
        json!({"type":"error","kind":"bad_control","message":"nope"})
    );
}

#[test]
fn only_input_command_and_tally_are_droppable() {
    assert!(
        Event::Input {
            vote: "v".into(),
            input: "i".into(),
            repeat: 1,
            user: "u".into(),
            user_id: "".into()
        }
        .is_droppable()
    );
    assert!(
        !Event::VoteClosed {
            vote: "v".into(),
            round: 1,
            winner: None,
            tally: Tally::default(),
            voters: 0,
            refused_ballots: 0,
            weighted: None,
        }
        .is_droppable()
    );
    assert!(!Event::error("x", "y").is_droppable());
    assert!(
        Event::Command {
            command: "c".into(),
            channel: "ch".into(),
            user: "u".into(),
            user_id: "".into(),
            args: "".into()
        }
        .is_droppable()
    );
    // A live tally is superseded by the next one.
    assert!(
        Event::Tally {
            vote: "v".into(),
            round: 1,
            open: true,
            tally: Tally::default(),
            voters: 0,
            remaining_ms: 10,
            weighted: None,
        }
        .is_droppable()
    );
    assert!(
        !Event::VoteOpened {
            vote: "v".into(),
            round: 1,
            options: vec![],
            window_ms: 1
        }
        .is_droppable()
    );
}

#[test]
fn control_ops_parse() {
    assert_eq!(
        Control::parse_line(r#"{"op":"start_vote","vote":"move"}"#),
        Ok(Control::StartVote {
            vote: "move".into()
        })
    );
    assert_eq!(
        Control::parse_line("  {\"op\":\"stop_vote\",\"vote\":\"move\"}\r"),
        Ok(Control::StopVote {
            vote: "move".into()
        })
    );
    assert_eq!(
        Control::parse_line(r##"{"op":"say","channel":"#ch","text":"hi there"}"##),
        Ok(Control::Say {
            channel: "#ch".into(),
            text: "hi there".into()
        })
    );
    assert_eq!(
        Control::parse_line(r#"{"op":"tally","vote":"move"}"#),
        Ok(Control::Tally {
            vote: "move".into()
        })
    );
    assert_eq!(
        Control::parse_line(r#"{"op":"join","channel":"x"}"#),
        Ok(Control::Join {
            channel: "x".into()
        })
    );
    assert_eq!(
        Control::parse_line(r#"{"op":"part","channel":"x"}"#),
        Ok(Control::Part {
            channel: "x".into()
        })
    );
}

#[test]
fn bad_control_lines_are_errors_not_panics() {
    for bad in [
        "",
        "not json",
        "[1,2,3]",
        "null",
        r#"{"op":"fly"}"#,
        r#"{"op":"say"}"#,
        r#"{"op":"say","channel":"c"}"#,
        r#"{"op":"start_vote"}"#,
        r#"{"op":"start_vote","vote":5}"#,
        r#"{"op":"start_vote","vote":"m","extra":1}"#,
        r#"{"op":"tally"}"#,
        r#"{"op":"tally","vote":null}"#,
        r#"{"op":"tally","vote":"m","round":1}"#,
        r#"{"vote":"m"}"#,
        "{\"op\":\"start_vote\",\"vote\":\"\u{0}\"",
    ] {
        let e = Control::parse_line(bad).expect_err(bad);
        assert!(matches!(e, ControlError::Invalid(_)), "{bad}: {e}");
        assert!(
            e.to_string().contains("start_vote"),
            "the message shows valid ops: {e}"
        );
    }
    let long = format!(
        r#"{{"op":"say","channel":"c","text":"{}"}}"#,
        "x".repeat(MAX_CONTROL_LINE)
    );
    assert!(matches!(
        Control::parse_line(&long),
        Err(ControlError::TooLong(_))
    ));
}

/// The `redemption` event and the `weighted` totals of weighted votes: field names and order are a contract.
#[test]
fn redemption_and_weighted_totals_shapes() {
    let r = Event::Redemption(Box::new(twitch_bot::events::Redemption {
        channel: "chan".into(),
        user: "ann".into(),
        user_id: "7".into(),
        reward: "Pick a move".into(),
        reward_id: "r-1".into(),
        input: "up".into(),
    }));
    assert_eq!(r.kind(), "redemption");
    assert!(
        !r.is_droppable(),
        "a redemption cost the viewer points: never dropped"
    );
    assert_eq!(
        r.to_json_line(),
        "{\"type\":\"redemption\",\"channel\":\"chan\",\"user\":\"ann\",\"user_id\":\"7\",\"reward\":\"Pick a move\",\"reward_id\":\"r-1\",\"input\":\"up\"}\n"
    );
    let closed = Event::VoteClosed {
        vote: "move".into(),
        round: 1,
        winner: Some("down".into()),
        tally: Tally(vec![("up".into(), 2), ("down".into(), 1)]),
        voters: 3,
        refused_ballots: 0,
        weighted: Some(Tally(vec![("up".into(), 2), ("down".into(), 5)])),
    };
    assert_eq!(
        closed.to_json_line(),
        "{\"type\":\"vote_closed\",\"vote\":\"move\",\"round\":1,\"winner\":\"down\",\"tally\":{\"up\":2,\"down\":1},\"voters\":3,\"weighted\":{\"up\":2,\"down\":5}}\n"
    );
}
