"""The floor under fan-out: CPU per send of a bare Python loop writing to loopback sockets.

A child process opens ``clients`` TCP connections to this process and drains them; this
process writes one WebSocket text frame (the size of a fan-out update) to each connection
with ``socket.send``, round after round, and reports its own CPU time (user + system) per
send. No event loop, no WebSocket library, no JSON: the live feed cannot send for less.
Most of it is the kernel's: on loopback the sender also pays the receiving side's TCP work.

Run alone: ``.venv/bin/python -m bench.send_floor [--clients 5000] [--rounds 10]``.
"""

from __future__ import annotations

import multiprocessing
import selectors
import socket
import time
from multiprocessing.synchronize import Event

import click

from bench.process import raise_open_files

ROUND_GAP_S = 0.1  # between rounds, so the child drains and no send ever blocks


def frame(payload_bytes: int) -> bytes:
    """An unmasked WebSocket text frame (server to client) carrying ``payload_bytes``."""
    if payload_bytes < 126:
        return bytes([0x81, payload_bytes]) + b"x" * payload_bytes
    return bytes([0x81, 126]) + payload_bytes.to_bytes(2, "big") + b"x" * payload_bytes


def _drain(port: int, clients: int, connected: Event) -> None:
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(clients)]
    connected.set()
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    remaining = clients
    while remaining:
        for key, _ in selector.select(timeout=30):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if not sock.recv(65536):
                selector.unregister(sock)
                sock.close()
                remaining -= 1


def measure(clients: int, rounds: int, payload_bytes: int) -> float:
    """Microseconds of this process's CPU per ``socket.send`` to one of ``clients``."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=min(clients, 4096))
    port = listener.getsockname()[1]
    context = multiprocessing.get_context("fork")
    connected = context.Event()
    child = context.Process(target=_drain, args=(port, clients, connected), daemon=True)
    child.start()
    conns: list[socket.socket] = []
    try:
        while len(conns) < clients:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvicorn sets it
            conns.append(conn)
        if not connected.wait(60):
            raise RuntimeError("the receiving process never connected")
        data = frame(payload_bytes)
        began = time.process_time()
        for _ in range(rounds):
            for conn in conns:
                if conn.send(data) != len(data):  # never seen: the child drains between rounds
                    raise RuntimeError("a short write; the floor would not be one send each")
            # Pacing between rounds is excluded from process time; it only lets the child drain.
            time.sleep(ROUND_GAP_S)
        used = time.process_time() - began
    finally:
        for conn in conns:
            conn.close()
        listener.close()
        child.join(30)
    return used / (clients * rounds) * 1e6


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--clients", default=5000, show_default=True, help="Loopback connections.")
@click.option("--rounds", default=10, show_default=True, help="Frames sent to each.")
@click.option("--payload", default=100, show_default=True, help="Frame payload bytes.")
def main(clients: int, rounds: int, payload: int) -> None:
    """Print the CPU µs per send of a bare socket.send loop over loopback connections."""
    if raise_open_files(clients * 2 + 64) < clients * 2 + 64:
        raise click.ClickException(f"the open-file limit is too low for {clients} connections")
    click.echo(f"{measure(clients, rounds, payload):.2f} µs CPU per send ({clients:,} clients)")


if __name__ == "__main__":
    main()
