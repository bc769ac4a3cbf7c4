"""Which Massive connection carries which subscription.

Massive serves each market on its own cluster (``reference/massive.md`` §1.1):
``wss://socket.massive.com/stocks`` carries ``T.SPY``/``Q.SPY``, ``.../indices`` carries
``V.I:SPX``, ``.../options`` carries ``T.O:SPXW…``. A live session with several URLs opens one
connection per URL and sends each channel to the URL of its cluster:

- the cluster of a URL is the first segment of its path (``/stocks`` → ``stocks``,
  ``/futures/cme`` → ``futures``);
- the cluster of a channel param ``EV.TICKER`` is ``indices`` for ``V.*`` and for ``I:``
  tickers, ``options`` for ``O:`` tickers, ``stocks`` otherwise.

With one URL every channel goes to it (whatever its path: test servers, proxies). With several,
every URL must name a different cluster, every channel's cluster must have a URL and every URL
must get at least one channel — otherwise :class:`~spxcc_core.errors.ConfigError` says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from spxcc_core.errors import ConfigError

__all__ = ["channel_cluster", "route", "url_cluster"]


def url_cluster(url: str) -> str:
    """The cluster a Massive URL names: the first path segment, lower case ("" when none)."""
    path = urlsplit(url).path.strip("/")
    return path.split("/", 1)[0].lower()


def channel_cluster(channel: str) -> str:
    """The cluster serving a channel param such as ``T.SPY`` (stocks) or ``V.I:SPX``
    (indices)."""
    ev, _, ticker = channel.strip().partition(".")
    ticker = ticker.upper()
    if ev.upper() == "V" or ticker.startswith("I:"):
        return "indices"
    if ticker.startswith("O:"):
        return "options"
    return "stocks"


def route(urls: Sequence[str], subscriptions: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``(url, channels)`` per URL, in the order of ``urls``; channels keep their given order.

    :raises ConfigError: no URL, a URL given twice, two URLs of one cluster, a channel whose
        cluster has no URL, or a URL without channels (module docstring).
    """
    if not urls:
        raise ConfigError("give at least one Massive websocket URL, e.g. "
                          "wss://socket.massive.com/stocks")
    if len(urls) == 1:
        return [(urls[0], list(subscriptions))]
    by_cluster: dict[str, str] = {}
    for url in urls:
        cluster = url_cluster(url)
        if not cluster:
            raise ConfigError(f"--url {_safe(url)}: with several URLs each must name its "
                              "cluster in its path, e.g. wss://socket.massive.com/indices")
        if cluster in by_cluster:
            raise ConfigError(f"--url: two URLs of the {cluster!r} cluster "
                              f"({_safe(by_cluster[cluster])}, {_safe(url)})")
        by_cluster[cluster] = url
    routed: dict[str, list[str]] = {url: [] for url in urls}
    for channel in subscriptions:
        cluster = channel_cluster(channel)
        if cluster not in by_cluster:
            raise ConfigError(f"--subscribe {channel}: served by the {cluster!r} cluster, but "
                              f"no --url names it (clusters given: {', '.join(by_cluster)})")
        routed[by_cluster[cluster]].append(channel)
    for url, channels in routed.items():
        if not channels:
            raise ConfigError(f"--url {_safe(url)}: no subscribed channel belongs to its "
                              f"{url_cluster(url)!r} cluster")
    return list(routed.items())


def _safe(url: str) -> str:
    """The URL without user info, query or fragment (never a secret in a message)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"
