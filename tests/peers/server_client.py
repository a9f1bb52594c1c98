#!/usr/bin/env python3
"""An independent /ws client for tests/server_e2e.rs (Python's `websockets` library).

Modes (one line of JSON result on stdout at the end, progress lines before):
  record URL OUT         write every message to OUT (one per line), print "ready" after the snapshot; stop at
                         the error event whose message names END-OF-TEST
  ops URL VOTE CHANNEL   control ops with ids and their replies; prints {"ok":true} or the first mismatch
  status URL [ORIGIN] [BEARER]   tries an upgrade; prints {"status":101} or the refusal's HTTP status
  slow URL               small receive buffer; reads the snapshot, prints "ready", stops reading until a line
                         on stdin, then reads to the end: {"code":..,"reason":..,"messages":N}
"""
import asyncio
import json
import socket
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def out(obj):
    print(json.dumps(obj), flush=True)


async def record(url, path):
    async with connect(url, max_size=None, max_queue=None) as ws:
        with open(path, "w", encoding="utf-8") as f:
            first = await ws.recv()
            f.write(first + "\n")
            f.flush()
            print("ready", flush=True)
            n = 1
            async for m in ws:
                f.write(m + "\n")
                f.flush()
                n += 1
                e = json.loads(m)
                if e.get("type") == "error" and "END-OF-TEST" in e.get("message", ""):
                    break
    out({"messages": n})


async def ops(url, vote, channel):
    async with connect(url) as ws:
        snap = json.loads(await ws.recv())
        assert snap["type"] == "snapshot", snap

        async def reply(op, want_status, contains=None):
            await ws.send(json.dumps(op) if not isinstance(op, str) else op)
            while True:
                e = json.loads(await ws.recv())
                if e.get("type") == "reply":
                    break
            want = {"type": "reply", "id": op["id"] if isinstance(op, dict) else None, "status": want_status}
            if any(e.get(k) != v for k, v in want.items()) or (contains and contains not in e.get("reason", "")):
                raise AssertionError(f"{op}: got {e}, want {want} containing {contains!r}")
            return e

        await reply({"op": "start_vote", "vote": vote, "id": 1}, "ok")
        await reply({"op": "start_vote", "vote": vote, "id": "two"}, "error", "already has round")
        await reply({"op": "tally", "vote": vote, "id": [3]}, "ok")
        await reply({"op": "tally", "vote": "nope", "id": 4}, "error", "nope")
        await reply({"op": "stop_vote", "vote": vote, "id": 5}, "ok")
        await reply({"op": "stop_vote", "vote": vote, "id": 6}, "error", "no round is open")
        await reply({"op": "say", "channel": channel, "text": "hello from a game", "id": 7}, "ok")
        await reply({"op": "fly", "id": 8}, "error", "bad control line")
        await reply({"op": "join", "channel": "other_room", "id": 9}, "ok")
        await reply({"op": "part", "channel": "other_room", "id": 10}, "ok")
        # Not JSON / no id: an error event for this client.
        await ws.send("not json")
        while True:
            e = json.loads(await ws.recv())
            if e.get("type") == "error":
                assert e["kind"] == "bad_control", e
                break
    out({"ok": True})


async def status(url, origin=None, bearer=None):
    headers = {"Authorization": "Bearer " + bearer} if bearer else None
    origin = None if origin == "-" else origin
    try:
        async with connect(url, origin=origin, additional_headers=headers) as ws:
            first = json.loads(await ws.recv())
            out({"status": 101, "first": first.get("type")})
    except InvalidStatus as e:
        out({"status": e.response.status_code})


async def slow(url):
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    # max_queue=1: the library stops reading the socket once one message waits.
    async with connect(url, sock=sock, max_queue=1, max_size=None) as ws:
        await ws.recv()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        n = 0
        try:
            async for _ in ws:
                n += 1
        except ConnectionClosed:
            pass
        rcvd = ws.close_code, ws.close_reason
    out({"code": rcvd[0], "reason": rcvd[1], "messages": n})


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    fn = {"record": record, "ops": ops, "status": status, "slow": slow}[mode]
    asyncio.run(fn(*args))


if __name__ == "__main__":
    main()
