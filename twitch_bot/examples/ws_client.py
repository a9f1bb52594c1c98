#!/usr/bin/env python3
"""A minimal game client for twitch_bot's WebSocket API (pip install websockets).

Run `twitch_bot --demo`, then: python3 ws_client.py [ws://127.0.0.1:7370/ws]
"""
import asyncio
import json
import sys

from websockets.asyncio.client import connect


async def main(url):
    async with connect(url) as ws:
        snapshot = json.loads(await ws.recv())
        for v in snapshot["votes"]:
            print(f"vote {v['vote']} ({v['mode']}): options {v['options']}, round {v['round']}")
        # An op with an id gets a reply carrying it.
        await ws.send(json.dumps({"op": "tally", "vote": "move", "id": 1}))
        async for message in ws:
            e = json.loads(message)
            if e["type"] == "vote_closed" and e["winner"]:
                print("chat says:", e["winner"])  # apply it to the game here
            elif e["type"] == "input":
                print(e["user"], "pressed", e["input"])
            elif e["type"] == "reply":
                print("reply", e["id"], e["status"], e.get("reason", ""))


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:7370/ws"))
