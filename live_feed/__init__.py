"""The live feed: admins' WebSocket feed, REST snapshots and the live activity panel.

Contract: metric agents write the latest snapshot of each channel to Redis under
``dojo:snapshot:<channel>`` and publish every change on ``dojo:live:<channel>`` as
``{"channel", "data", "ts"}`` JSON. Each live feed process holds one pattern
subscription and fans messages out to its own clients, coalesced per client and channel
to at most ``settings.live_max_hz`` sends per second, so any number of processes can run
side by side and a slow client never holds back others. Each update is encoded once and
written to every ready client in one synchronous pass (``hub``, ``lane``); under uvicorn
served with ``app.uvicorn_options()`` the frames go straight to the sockets
(``frame_protocol``), elsewhere through ASGI (``asgi_sink``). Every route needs the admin
token (header, ``dojo_token`` cookie or the first WebSocket message), which is never
logged.
"""

from __future__ import annotations

from live_feed.app import create_app, serve

__all__ = ["create_app", "serve"]
