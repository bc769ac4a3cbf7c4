"""Where a store lives: an SQLite file path or a PostgreSQL URL, and how to name it safely.

``--db`` (and ``$SPXCC_DB``) take either a file path or a ``postgresql://`` (or
``postgres://``) connection URL. A URL is kept as text (a :class:`~pathlib.Path` would fold its
``//``); :func:`redact_dsn` is the only form of it that may appear in a message, a log line or
a repr: the password (in the user part or a ``password=`` parameter) is left out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeGuard
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from spxcc_core.errors import ConfigError

__all__ = ["PG_SCHEMES", "StoreTarget", "db_argument", "dsn_secrets", "is_postgres_url",
           "redact_dsn", "store_file"]

#: URL schemes that select the PostgreSQL store.
PG_SCHEMES: tuple[str, ...] = ("postgresql://", "postgres://")
#: Connection parameters that are secrets and never shown.
_SECRET_PARAMS = frozenset({"password", "sslpassword"})

#: What names a store: a file path (SQLite, ``:memory:`` included) or a PostgreSQL URL.
StoreTarget = str | os.PathLike[str]


def is_postgres_url(target: object) -> TypeGuard[str]:
    """True when ``target`` is a string starting with ``postgresql://`` or ``postgres://``
    (case-insensitive); paths and anything else are False."""
    return isinstance(target, str) and target.lower().startswith(PG_SCHEMES)


def db_argument(text: str) -> str | Path:
    """The argparse ``type`` of ``--db``: a PostgreSQL URL stays text, anything else is a
    :class:`~pathlib.Path`.

    :raises ConfigError: a connection string that is not a ``postgresql://`` URL (other
        URL schemes such as ``postgresql+psycopg://``, ``key=value`` strings with a
        ``password=``): it would otherwise become a file named after the password. The
        value is not repeated.
    """
    lowered = text.lower()
    if not is_postgres_url(text) and ("://" in text or "password=" in lowered
                                      or lowered.startswith(("host=", "dbname=", "user="))):
        raise ConfigError("not a store file name nor a postgresql:// URL (the value is not "
                          "shown); a PostgreSQL store is named postgresql://USER@HOST:PORT/DB, "
                          "its password in $PGPASSWORD or ~/.pgpass")
    return text if is_postgres_url(text) else Path(text)


def redact_dsn(dsn: str) -> str:
    """``dsn`` without its password: ``postgresql://user:secret@host/db?password=x`` becomes
    ``postgresql://user@host/db``. Host, port, database, user and other parameters are kept.
    A string that does not parse as a URL is reduced to its scheme (``postgresql://…``)."""
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError:
        return dsn.split("://", 1)[0] + "://…"
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address goes back in brackets
        host = f"[{host}]"
    user = "" if parts.username is None else quote(parts.username, safe="") + "@"
    netloc = user + host + ("" if port is None else f":{port}")
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() not in _SECRET_PARAMS])
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def dsn_is_clean(dsn: str) -> bool:
    """True when ``dsn`` parses as a URL and carries no password (in the user part or a
    parameter): it may then be quoted as it is."""
    try:
        parts = urlsplit(dsn)
        _ = parts.port  # a bad port raises here
    except ValueError:
        return False
    userinfo = parts.netloc.rpartition("@")[0]
    return ":" not in userinfo and not dsn_secrets(dsn)


def dsn_secrets(dsn: str) -> list[str]:
    """The secret values written in ``dsn`` (its password, in the user part or a parameter),
    so an error message quoting them can be scrubbed."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS and v]
    return found


def store_file(target: StoreTarget | None) -> str | os.PathLike[str] | None:
    """The file a store target writes (for overlap checks against inputs): the path itself,
    None for a PostgreSQL URL, ``:memory:`` or None."""
    if target is None or is_postgres_url(target) or os.fspath(target) == ":memory:":
        return None
    return target
