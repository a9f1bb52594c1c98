// The vote overlay: draws the bot's /ws stream (a snapshot, then events and live tallies).
// Chat-provided text (users, inputs, args) is only ever set with textContent.
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const only = params.get("vote");
  const theme = params.get("theme") === "light" ? "light" : "dark";
  const scale = Math.min(4, Math.max(0.5, parseFloat(params.get("scale")) || 1));
  const maxOptions = Math.min(100, Math.max(1, parseInt(params.get("max_options"), 10) || 8));
  const secret = params.get("secret");
  const WINNER_MS = 6000;
  const TICKER = 6;
  document.documentElement.classList.add(theme);
  document.documentElement.style.fontSize = 16 * scale + "px";

  const fmt = new Intl.NumberFormat();
  const pct = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const votesEl = document.getElementById("votes");
  const tickerEl = document.getElementById("ticker");
  const statusEl = document.getElementById("status");
  const votes = new Map();
  let dirty = false;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function status(text) {
    statusEl.hidden = !text;
    statusEl.textContent = text || "";
  }

  function wanted(name) {
    return !only || only === name;
  }

  // One vote's state from a snapshot entry or an event.
  function upsert(name, fields) {
    let v = votes.get(name);
    if (!v) {
      v = { vote: name, mode: "democracy", options: [], round: 0, open: false, tally: {}, voters: 0,
            deadline: 0, windowMs: 0, result: null, resultUntil: 0, winner: null };
      votes.set(name, v);
    }
    Object.assign(v, fields);
    dirty = true;
    return v;
  }

  function setRemaining(v, ms) {
    v.deadline = performance.now() + (ms || 0);
  }

  function onSnapshot(s) {
    votes.clear();
    for (const x of s.votes || []) {
      const v = upsert(x.vote, { mode: x.mode, options: x.options || [], round: x.round, open: x.open,
                                 tally: x.tally || {}, voters: x.voters || 0, windowMs: x.window_ms || 0 });
      setRemaining(v, x.remaining_ms);
    }
    const c = s.connection || {};
    status(c.state === "connected" ? "" : "bot: " + c.state);
    votesEl.replaceChildren();
    dirty = true;
  }

  function reasonFor(e, v) {
    if (v.mode === "anarchy") return "anarchy: inputs were applied live";
    const counts = Object.values(e.tally || {});
    if (!counts.length || !e.voters) return "no votes";
    const top = Math.max(...counts);
    if (counts.filter((n) => n === top).length > 1) return "tie";
    return "too few voters (" + fmt.format(e.voters) + ")";
  }

  function onEvent(e) {
    switch (e.type) {
      case "snapshot": onSnapshot(e); break;
      case "vote_opened": {
        const v = upsert(e.vote, { options: e.options || [], round: e.round, open: true, tally: {}, voters: 0,
                                   windowMs: e.window_ms, winner: null });
        setRemaining(v, e.window_ms);
        break;
      }
      case "tally": {
        const v = votes.get(e.vote);
        if (v && e.round < v.round) break; // an older round's report
        const u = upsert(e.vote, { round: e.round, open: e.open, tally: e.tally || {}, voters: e.voters || 0 });
        if (e.open) setRemaining(u, e.remaining_ms);
        break;
      }
      case "vote_closed": {
        const v = upsert(e.vote, { round: e.round, open: false, tally: e.tally || {}, voters: e.voters || 0 });
        setRemaining(v, 0);
        v.winner = e.winner;
        v.result = e.winner !== null && e.winner !== undefined
          ? { text: "Winner: " + e.winner, none: false }
          : { text: "No winner: " + reasonFor(e, v), none: true };
        v.resultUntil = performance.now() + WINNER_MS;
        break;
      }
      case "input": ticker([e.user, " \u2192 ", e.input + (e.repeat > 1 ? " \u00d7" + e.repeat : "")]); break;
      case "command": ticker([e.user, " !", e.command + (e.args ? " " + e.args : "")]); break;
      case "connected": status(""); break;
      case "disconnected": case "reconnecting": status("bot: reconnecting to chat"); break;
      default: break;
    }
  }

  function ticker(parts) {
    const li = el("li");
    li.append(el("span", "who", parts[0]), el("span", "", parts[1] + parts[2]));
    tickerEl.prepend(li);
    while (tickerEl.children.length > TICKER) tickerEl.lastChild.remove();
  }

  function panel(v) {
    let p = votesEl.querySelector('.vote[data-vote="' + CSS.escape(v.vote) + '"]');
    if (!p) {
      p = el("article", "vote");
      p.dataset.vote = v.vote;
      const head = el("header");
      head.append(el("h2"), el("span", "clock"));
      const bar = el("div", "timebar");
      bar.append(el("div"));
      p.append(head, bar, el("div", "opts"), el("div", "more"), el("div", "voters"), el("div", "result"));
      votesEl.append(p);
    }
    return p;
  }

  function row(v, name, count, total, lead) {
    const r = el("div", "opt" + (lead ? " lead" : "") + (v.winner === name && v.resultUntil > performance.now() ? " winner" : ""));
    r.dataset.option = name;
    const fill = el("span", "fill");
    fill.style.width = (total ? (100 * count) / total : 0) + "%";
    const c = el("span", "count", fmt.format(count));
    c.dataset.count = String(count);
    r.append(fill, el("span", "name", name), c, el("span", "share", pct.format(total ? count / total : 0)));
    return r;
  }

  function draw() {
    const now = performance.now();
    for (const v of votes.values()) {
      if (!wanted(v.vote)) continue;
      const p = panel(v);
      p.dataset.round = String(v.round);
      p.dataset.open = String(v.open);
      p.dataset.voters = String(v.voters);
      p.classList.toggle("closed", !v.open);
      p.querySelector("h2").textContent = v.vote + (v.round ? " \u00b7 round " + fmt.format(v.round) : "");
      if (!dirty) continue;
      // Every option (and any tallied input such as "up2"), most ballots first, option order on ties.
      const names = v.options.slice();
      for (const k of Object.keys(v.tally)) if (!names.includes(k)) names.push(k);
      const entries = names.map((n, i) => [n, v.tally[n] || 0, i]);
      entries.sort((a, b) => b[1] - a[1] || a[2] - b[2]);
      const total = entries.reduce((s, e) => s + e[1], 0);
      const shown = entries.slice(0, maxOptions);
      const lead = shown.length && shown[0][1] > 0 ? shown[0][1] : -1;
      p.querySelector(".opts").replaceChildren(...shown.map((e) => row(v, e[0], e[1], total, e[1] === lead)));
      const hidden = entries.length - shown.length;
      p.querySelector(".more").textContent = hidden > 0 ? "+" + fmt.format(hidden) + " more" : "";
      p.querySelector(".voters").textContent = fmt.format(v.voters) + (v.voters === 1 ? " voter" : " voters");
    }
    dirty = false;
  }

  function tick() {
    const now = performance.now();
    for (const v of votes.values()) {
      if (!wanted(v.vote)) continue;
      const p = panel(v);
      const left = v.open ? Math.max(0, v.deadline - now) : 0;
      p.querySelector(".clock").textContent = v.open ? (left / 1000).toFixed(1) + " s" : "closed";
      p.querySelector(".timebar > div").style.width = (v.open && v.windowMs ? (100 * left) / v.windowMs : 0) + "%";
      const res = p.querySelector(".result");
      const showing = v.result && v.resultUntil > now;
      res.textContent = showing ? v.result.text : "";
      res.classList.toggle("none", !!(showing && v.result.none));
      if (!showing && v.winner !== null && p.querySelector(".opt.winner")) { v.winner = null; dirty = true; }
    }
    if (dirty) draw();
  }

  let backoff = 250;
  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" +
      (secret ? "?secret=" + encodeURIComponent(secret) : "");
    const ws = new WebSocket(url);
    ws.onopen = () => { backoff = 250; };
    ws.onmessage = (m) => {
      let e;
      try { e = JSON.parse(m.data); } catch (_) { return; }
      onEvent(e);
    };
    ws.onclose = () => {
      status("waiting for the bot\u2026");
      setTimeout(connect, backoff);
      backoff = Math.min(2000, backoff * 2);
    };
  }

  setInterval(tick, 100);
  connect();
})();
