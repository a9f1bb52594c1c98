// A minimal game client for twitch_bot's WebSocket API, for a browser page or Node.js 22+ (global WebSocket).
// Run `twitch_bot --demo`, then: node ws_client.js [ws://127.0.0.1:7370/ws]
// (A page served from another origin must be listed in [server] allowed_origins.)
const url = (typeof process !== "undefined" && process.argv[2]) || "ws://127.0.0.1:7370/ws";
let socket;

function connect() {
  socket = new WebSocket(url);
  socket.onopen = () => socket.send(JSON.stringify({ op: "tally", vote: "move", id: 1 }));
  socket.onmessage = (m) => {
    const e = JSON.parse(m.data);
    switch (e.type) {
      case "snapshot":
        for (const v of e.votes) console.log(`vote ${v.vote} (${v.mode}): ${v.options.join(", ")}`);
        break;
      case "vote_closed":
        if (e.winner) console.log("chat says:", e.winner); // apply it to the game here
        break;
      case "input":
        console.log(`${e.user} pressed ${e.input}`);
        break;
      case "reply":
        console.log("reply", e.id, e.status, e.reason || "");
        break;
    }
  };
  socket.onclose = () => setTimeout(connect, 1000); // the bot restarted: a new snapshot follows
}

connect();
