"""Routing live subscriptions to Massive clusters (``spxcc_core.host.routing``) and the
``spxcc live`` options that use it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.cli import main
from spxcc_core.errors import ConfigError
from spxcc_core.host.routing import channel_cluster, route, url_cluster

STOCKS = "wss://socket.massive.com/stocks"
INDICES = "wss://socket.massive.com/indices"
OPTIONS = "wss://delayed.massive.com/options"


@pytest.mark.parametrize(("channel", "cluster"), [
    ("T.SPY", "stocks"), ("Q.SPY", "stocks"), ("AM.SPY", "stocks"), ("T.*", "stocks"),
    ("V.I:SPX", "indices"), ("v.i:spx", "indices"), ("AM.I:SPX", "indices"), ("V.*", "indices"),
    ("T.O:SPXW251219C06000000", "options"), ("Q.O:SPY240307C00510000", "options"),
])
def test_channel_cluster(channel: str, cluster: str) -> None:
    assert channel_cluster(channel) == cluster


@pytest.mark.parametrize(("url", "cluster"), [
    (STOCKS, "stocks"), (INDICES + "/", "indices"), ("wss://socket.massive.com/futures/cme",
                                                     "futures"),
    ("ws://127.0.0.1:9/Stocks?x=1", "stocks"), ("ws://127.0.0.1:9", ""),
])
def test_url_cluster(url: str, cluster: str) -> None:
    assert url_cluster(url) == cluster


def test_one_url_takes_every_channel_whatever_its_path() -> None:
    assert route(["ws://127.0.0.1:9/x"], ["T.SPY", "V.I:SPX"]) == \
        [("ws://127.0.0.1:9/x", ["T.SPY", "V.I:SPX"])]


def test_several_urls_split_by_cluster_in_url_order() -> None:
    subs = ["V.I:SPX", "T.SPY", "T.O:SPXW240307C05100000", "Q.SPY", "V.I:VIX"]
    assert route([INDICES, STOCKS, OPTIONS], subs) == [
        (INDICES, ["V.I:SPX", "V.I:VIX"]),
        (STOCKS, ["T.SPY", "Q.SPY"]),
        (OPTIONS, ["T.O:SPXW240307C05100000"]),
    ]


@pytest.mark.parametrize(("urls", "subs", "message"), [
    ([], ["T.SPY"], "at least one Massive websocket URL"),
    ([STOCKS, "wss://u:secret@socket.massive.com/stocks?apiKey=secret"], ["T.SPY"],
     "two URLs of the 'stocks' cluster"),
    ([STOCKS, "ws://127.0.0.1:9"], ["T.SPY"], "each must name its cluster"),
    ([STOCKS, INDICES], ["T.SPY", "T.O:SPXW240307C05100000"],
     "T.O:SPXW240307C05100000: served by the 'options' cluster"),
    ([STOCKS, INDICES + "?apiKey=secret"], ["T.SPY", "Q.SPY"],
     "no subscribed channel belongs to its 'indices' cluster"),
])
def test_bad_routes_say_which_input(urls: list[str], subs: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        route(urls, subs)
    assert message in str(info.value)
    assert "secret" not in str(info.value)


_channels = st.lists(st.sampled_from(["T.SPY", "Q.SPY", "V.I:SPX", "AM.I:VIX",
                                      "T.O:SPXW240307C05100000", "Q.QQQ"]),
                     min_size=1, max_size=8, unique=True)


@given(_channels)
def test_every_channel_goes_once_to_its_clusters_url(subs: list[str]) -> None:
    urls = [u for u, c in ((STOCKS, "stocks"), (INDICES, "indices"), (OPTIONS, "options"))
            if any(channel_cluster(s) == c for s in subs)]
    routes = route(urls, subs)
    assert [u for u, _ in routes] == urls
    flat = [s for _, channels in routes for s in channels]
    assert sorted(flat) == sorted(subs)
    for u, channels in routes:
        assert channels and all(channel_cluster(s) == url_cluster(u) for s in channels)
        assert channels == [s for s in subs if s in channels]  # given order kept


def test_cli_rejects_a_bad_route_before_reading_the_key(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for var in ("MASSIVE_API_KEY", "SPXCC_DB", "SPXCC_MASTER_KEY"):
        monkeypatch.delenv(var, raising=False)
    code = main(["live", "--url", "ws://127.0.0.1:9/stocks", "--url", "ws://127.0.0.1:9/indices",
                 "--subscribe", "T.SPY,Q.SPY"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("spxcc: error: --url ws://127.0.0.1:9/indices: no subscribed channel")
