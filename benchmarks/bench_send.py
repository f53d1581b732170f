"""The floor under every delivery: what one ``send()`` of an event frame costs on this machine.

The frontend writes each live client's queued frames with one ``send()`` per write pass
(:mod:`frontend_server.events.writes`); at the bench's fan-out each client gets one event per
pass, so a delivery costs at least one system call. This measures that call alone, as the edge
makes it (non-blocking TCP socket, ``TCP_NODELAY``, ~200-byte frames), on loopback: ``--sockets``
connections whose other ends a separate process drains, ``--passes`` passes writing every socket
once, a few ms apart, like the hub's write passes.

Reported: process CPU µs per event for one event per ``send()`` (the edge at this fan-out),
against the same events written ``--batch`` per ``send()`` (what holding events back to coalesce
them, as a write delay does, would buy) measured in the same run; their ratio. On loopback the
receiver's TCP processing runs inside the sender's system call, so a real network costs the
server less per call.

Usage: ``python benchmarks/bench_send.py [--sockets 200] [--passes 200] [--batch 4] [--json F]``
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import time
from pathlib import Path

FRAME = b"id: 123456\nevent: video.status\ndata: " + b"x" * 160 + b"\n\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--sockets", type=int, default=200)
    p.add_argument("--passes", type=int, default=200)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--json", default="")
    a = p.parse_args()
    one = _measure(a.sockets, a.passes, 1)
    batched = _measure(a.sockets, max(1, a.passes // a.batch), a.batch)
    print(f"| writes | µs CPU per event ({a.sockets} sockets, {len(FRAME)}-byte frames) |")
    print("|---|---|")
    print(f"| one event per send() | {one:.2f} |")
    print(f"| {a.batch} events per send() (baseline) | {batched:.2f} |")
    print(f"\none per send ÷ {a.batch} per send: {one / batched:.2f}")
    if a.json:
        figures = {"one_per_send_us": one, "batched_us": batched, "batch": a.batch,
                   "sockets": a.sockets, "frame_bytes": len(FRAME)}  # fmt: skip
        Path(a.json).write_text(json.dumps(figures, indent=1))


def _measure(sockets: int, passes: int, batch: int) -> float:
    """µs of this process's CPU per event written, ``batch`` frames per ``send()``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(sockets)
    total = sockets * passes * batch * len(FRAME)
    reader = os.fork()
    if reader == 0:  # pragma: no cover - the child drains, then exits
        _drain(listener.getsockname(), sockets, total)
        os._exit(0)
    conns = [listener.accept()[0] for _ in range(sockets)]
    listener.close()
    for conn in conns:
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data, sent = FRAME * batch, 0
    began = time.process_time()
    for _ in range(passes):
        for conn in conns:
            sent += conn.send(data)  # the kernel takes it all: the reader keeps up
        time.sleep(0.002)  # passes a few ms apart, as the hub's are
    took = time.process_time() - began
    os.waitpid(reader, 0)
    for conn in conns:
        conn.close()
    if sent != total:
        raise SystemExit(f"a send was short ({sent} of {total} bytes): lower --sockets")
    return took / (sockets * passes * batch) * 1e6


def _drain(address: tuple[str, int], sockets: int, total: int) -> None:  # pragma: no cover
    selector = selectors.DefaultSelector()
    for _ in range(sockets):
        client = socket.create_connection(address)
        client.setblocking(False)
        selector.register(client, selectors.EVENT_READ)
    got = 0
    while got < total and selector.get_map():
        for key, _ in selector.select(5):
            try:
                chunk = key.fileobj.recv(1 << 16)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            if not chunk:  # the writer closed (or died): nothing more will come on it
                selector.unregister(key.fileobj)
            got += len(chunk)


if __name__ == "__main__":
    main()
