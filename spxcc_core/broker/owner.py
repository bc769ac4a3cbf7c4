"""Who holds a submission claim: the identity of this process, and whether the process named
by a recorded identity is still alive.

An owner is ``"<host>:<pid>:<start>"``; ``<start>`` is the process's start time in clock ticks
after boot (``/proc/<pid>/stat`` field 22 on Linux), so a reused pid is not mistaken for the
recorded process; it is empty where ``/proc`` is not available (then the pid alone decides).
"""

from __future__ import annotations

import os
import socket
from functools import cache

__all__ = ["current_owner", "owner_alive", "parse_owner"]


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of ``/proc/<pid>/stat`` (state first), or None when unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may contain spaces or ')'
    return text[text.rfind(")") + 2:].split()


def _start_ticks(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else ""


@cache
def _owner_of(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def current_owner() -> str:
    """This process's owner string (recomputed after a fork: keyed by pid)."""
    return _owner_of(os.getpid())


def parse_owner(owner: str) -> tuple[str, int, str] | None:
    """``(host, pid, start)`` of an owner string, or None when it is not one."""
    host, sep, rest = owner.rpartition(":")
    host, sep2, pid = host.rpartition(":")
    if not sep or not sep2 or not pid.isdigit():
        return None
    return host, int(pid), rest


def owner_alive(owner: str | None) -> bool:
    """True when ``owner`` names ANOTHER process that is still running on this host.

    False for no owner (older stores), a malformed one, this very process, another host (it
    cannot be checked from here: its claim is treated as left over), a pid that no longer
    exists or is a zombie, and a pid that now belongs to a process started at another time.
    """
    if not owner:
        return False
    parsed = parse_owner(owner)
    if parsed is None:
        return False
    host, pid, start = parsed
    if host != socket.gethostname() or pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except OSError:
        return False
    fields = _stat_fields(pid)
    if fields is None:
        return not start  # no /proc here: the pid exists; with /proc it vanished meanwhile
    if fields and fields[0] in ("Z", "X"):
        return False  # exited, not yet reaped
    return not start or (len(fields) > 19 and fields[19] == start)
