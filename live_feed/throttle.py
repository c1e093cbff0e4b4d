"""Failed token checks, throttled per client address and overall, in a sliding window.

The admin token is a shared secret an operator may have chosen weakly; without a limit a
client could try hundreds of guesses a second. A client that failed ``per_client`` times
in the last ``window_s`` seconds, or any client once all clients together failed
``overall`` times, waits (429) until the oldest failure leaves the window. Only presented
credentials that were wrong count (a page opened without any is not a guess), and while
throttled a credential is not even compared, so a right guess cannot be told from a wrong
one. Signed session cookies are not throttled: they cannot be guessed. The addresses
stay in this process's memory for one window at most and are never written anywhere.
"""

from __future__ import annotations

from collections import deque

PER_CLIENT = 5
OVERALL = 50  # the cap a spread-out attack meets; the admin with a session is unaffected
WINDOW_S = 60.0


class Throttle:
    """Counts failures per client and overall; tells how long a client must wait."""

    def __init__(
        self, per_client: int = PER_CLIENT, overall: int = OVERALL, window_s: float = WINDOW_S
    ) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window_s = window_s
        self._clients: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def wait_s(self, client: str, now: float) -> float:
        """Seconds ``client`` must wait before its next check (0: it may try now)."""
        self._expire(now)
        waits = [0.0]
        mine = self._clients.get(client)
        if mine is not None and len(mine) >= self.per_client:
            waits.append(mine[-self.per_client] + self.window_s - now)
        if len(self._all) >= self.overall:
            waits.append(self._all[-self.overall] + self.window_s - now)
        return max(waits)

    def failed(self, client: str, now: float) -> None:
        """Record one wrong credential from ``client``."""
        self._expire(now)
        self._clients.setdefault(client, deque()).append(now)
        self._all.append(now)

    @property
    def clients(self) -> int:
        """How many addresses are remembered now (bounded by ``overall``)."""
        return len(self._clients)

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        while self._all and self._all[0] <= horizon:
            self._all.popleft()
        # Every remembered failure is also in ``_all``, so at most ``overall`` recent ones
        # exist while throttling holds; drop the clients whose failures all expired.
        for client in [c for c, times in self._clients.items() if times[-1] <= horizon]:
            del self._clients[client]
        for times in self._clients.values():
            while times[0] <= horizon:
                times.popleft()
