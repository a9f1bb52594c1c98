#!/usr/bin/env python3
"""An independent WebSocket peer for the `websockets` crate's tests, built on Python's `websockets` library.

Listens on 127.0.0.1, port chosen by the OS; prints the port as the first line on stdout. With --cert/--key
it serves wss:// (TLS). Behaviour is chosen by the request path:

  /echo                     echo every message back with the same type (text stays text, binary stays binary)
  /close?code=C&reason=R    close at once with code C and reason R (server-initiated close)
  /ping                     send a ping with payload b"srv", wait for the pong, then send text "pong:srv"
  /report                   echo; when the client closes, print "closed <code> <reason>" on stdout
  /headers                  send one text message: JSON of the upgrade request's headers and chosen subprotocol
  /reject                   refuse the upgrade with HTTP 403
  /slow                     wait 60 s before answering the upgrade (for connect timeouts)
  /abort                    drop the TCP connection without a close frame, after the first message
  /flood?n=N&size=S         send N text messages of S bytes ("x" * S), then echo; print "closed ..." at the end
  /bad-utf8                 send a text frame holding invalid UTF-8; print "closed <code> <reason>" at the end

Installed by tests/peers/python-setup.sh into <workspace>/.peers/venv.
"""

import argparse
import asyncio
import http
import json
import ssl
import sys
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def select_subprotocol(connection, subprotocols):
    for wanted in ("chat", "superchat"):
        if wanted in subprotocols:
            return wanted
    return None


async def process_request(connection, request):
    path = urlparse(request.path).path
    if path == "/reject":
        return connection.respond(http.HTTPStatus.FORBIDDEN, "forbidden by test server\n")
    if path == "/slow":
        await asyncio.sleep(60)
    return None


async def echo(ws):
    """Echo until the client closes, whatever close code it uses."""
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        pass


async def handler(ws):
    url = urlparse(ws.request.path)
    path, query = url.path, parse_qs(url.query)
    if path == "/echo":
        await echo(ws)
    elif path == "/close":
        await ws.close(int(query.get("code", ["1000"])[0]), query.get("reason", [""])[0])
    elif path == "/ping":
        waiter = await ws.ping(b"srv")
        try:
            await asyncio.wait_for(waiter, 10)
            await ws.send("pong:srv")
        except asyncio.TimeoutError:
            await ws.send("no-pong")
        await echo(ws)
    elif path == "/report":
        await echo(ws)
        print(f"closed {ws.close_code} {ws.close_reason}", flush=True)
    elif path == "/headers":
        headers = {k.lower(): v for k, v in ws.request.headers.raw_items()}
        await ws.send(json.dumps({"headers": headers, "subprotocol": ws.subprotocol}))
        await echo(ws)
    elif path == "/abort":
        await ws.recv()
        ws.transport.abort()
    elif path == "/flood":
        n = int(query.get("n", ["100"])[0])
        size = int(query.get("size", ["10"])[0])
        for _ in range(n):
            await ws.send("x" * size)
        await echo(ws)
        print(f"closed {ws.close_code} {ws.close_reason}", flush=True)
    elif path == "/bad-utf8":
        await ws.send(b"valid start \xff\xfe invalid", text=True)
        await echo(ws)
        print(f"closed {ws.close_code} {ws.close_reason}", flush=True)
    else:
        await ws.close(4404, f"unknown path {path}")


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cert", help="PEM certificate chain for wss://")
    parser.add_argument("--key", help="PEM private key for wss://")
    args = parser.parse_args()
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
    async with serve(
        handler,
        "127.0.0.1",
        0,
        ssl=context,
        max_size=None,
        compression=None,
        select_subprotocol=select_subprotocol,
        process_request=process_request,
        ping_interval=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        # Exit when the test closes our stdin (or dies), so no server outlives its test.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
