#!/usr/bin/env python3
"""Headless Chromium driven over the DevTools protocol, for tests/server_e2e.rs.

Usage: overlay_browser.py CHROMIUM. Reads commands on stdin, answers one JSON line each:
  open URL                  navigate the page
  wait JSON                 {"vote":V,"round":R,"counts":{OPT:N,..},"timeout":S}: poll the overlay's DOM until
                            that vote's panel shows round R and exactly these counts (options not listed: 0)
  shot PATH                 screenshot (PNG) to PATH; decodes it and reports how many pixels differ from the
                            most common colour, and how many distinct colours it has
  quit
"""
import asyncio
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

from websockets.asyncio.client import connect

DOM_STATE = r"""
(() => {
  const out = {};
  for (const p of document.querySelectorAll('.vote')) {
    const counts = {};
    for (const r of p.querySelectorAll('.opt')) counts[r.dataset.option] = Number(r.querySelector('.count').dataset.count);
    out[p.dataset.vote] = {round: Number(p.dataset.round), open: p.dataset.open, counts,
                           voters: Number(p.dataset.voters), text: p.innerText};
  }
  return JSON.stringify(out);
})()
"""


def png_stats(data):
    """Decodes an 8-bit RGB/RGBA PNG; returns (pixels unlike the most common colour, distinct colours)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours = {}
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp):
            k = bytes(line[x:x + bpp])
            colours[k] = colours.get(k, 0) + 1
        prev = line
    common = max(colours.values())
    return w * h - common, len(colours), w, h


class Browser:
    def __init__(self, chromium):
        self.dir = tempfile.mkdtemp(prefix="overlay-chromium-")
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--user-data-dir=" + self.dir, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             "--window-size=1280,720", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.next_id = 0

    async def start(self):
        port_file = os.path.join(self.dir, "DevToolsActivePort")
        for _ in range(600):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            await asyncio.sleep(0.05)
        port = int(open(port_file).read().split()[0])
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(p for p in pages if p["type"] == "page")
        self.ws = await connect(page["webSocketDebuggerUrl"], max_size=None)
        await self.call("Page.enable")

    async def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        await self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            m = json.loads(await self.ws.recv())
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]

    async def dom(self):
        r = await self.call("Runtime.evaluate", expression=DOM_STATE, returnByValue=True)
        return json.loads(r["result"]["value"])

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


async def main():
    b = Browser(sys.argv[1])
    try:
        await b.start()
        loop = asyncio.get_running_loop()
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if not line or line == "quit":
                break
            cmd, _, arg = line.partition(" ")
            if cmd == "open":
                await b.call("Page.navigate", url=arg)
                print(json.dumps({"ok": True}), flush=True)
            elif cmd == "wait":
                want = json.loads(arg)
                start = time.monotonic()
                seen = None
                while time.monotonic() - start < want["timeout"]:
                    try:
                        seen = (await b.dom()).get(want["vote"])
                    except Exception as e:  # the page is (re)loading
                        seen = str(e)
                    if isinstance(seen, dict) and seen["round"] == want["round"]:
                        counts = {k: v for k, v in seen["counts"].items() if v}
                        if counts == want["counts"]:
                            print(json.dumps({"ok": True, "elapsed": time.monotonic() - start, "seen": seen}), flush=True)
                            break
                    await asyncio.sleep(0.1)
                else:
                    print(json.dumps({"ok": False, "seen": seen}), flush=True)
            elif cmd == "shot":
                r = await b.call("Page.captureScreenshot", format="png")
                import base64
                data = base64.b64decode(r["data"])
                with open(arg, "wb") as f:
                    f.write(data)
                differ, colours, w, h = png_stats(data)
                print(json.dumps({"ok": True, "differ": differ, "colours": colours, "width": w, "height": h}), flush=True)
    finally:
        b.close()


if __name__ == "__main__":
    asyncio.run(main())
