"""Writing outputs without ever destroying an input.

Every command that writes files goes through this module:

- :func:`check_paths` refuses, before anything is written, an output that *is*, *contains* or
  *lies inside* an input, or two outputs that are the same file or nested. Paths are compared
  after resolving symbolic links (``os.path.realpath``) and, for files that exist, by identity
  (``os.path.samefile``: hard links, case-insensitive file systems).
- A folder is **replaced** (renamed aside and deleted) only when it is provably ours:
  :func:`check_replaceable` accepts a folder that does not exist, an empty folder, or a folder
  holding our marker file (:data:`MARKER`, written by :func:`mark_owned`) and nothing but the
  names the writer says it owns. Anything else is refused with one line.
- Files are written atomically by :class:`AtomicFiles` / :func:`atomic_write`: each target gets
  a uniquely named temporary file beside it (so concurrent writers never share one) and is
  renamed into place only when the whole set was written; the renames of one set happen under
  an exclusive lock on the target folders, so when several processes write the same set the
  last complete writer wins and the folder never holds a mix of two runs.

Every refusal is a :class:`~spxcc_core.errors.ConfigError`: one line, exit code 2.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from spxcc_core.errors import ConfigError

__all__ = [
    "MARKER",
    "AtomicFiles",
    "atomic_write",
    "check_paths",
    "check_replaceable",
    "mark_owned",
    "swap_folder",
]

#: File that marks a folder as written (and replaceable) by spxcc.
MARKER = ".spxcc-owned"

PathArg = str | os.PathLike[str]


def _real(path: PathArg) -> Path:
    return Path(os.path.realpath(os.fspath(path)))


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _inside(inner: Path, outer: Path) -> bool:
    """True when ``inner`` lies strictly inside the folder ``outer`` (resolved paths)."""
    return inner != outer and inner.is_relative_to(outer)


Labelled = Mapping[str, PathArg | None] | Iterable[tuple[str, PathArg | None]]


def _pairs(paths: Labelled | None) -> list[tuple[str, Path, Path]]:
    items = paths.items() if isinstance(paths, Mapping) else (paths or ())
    return [(label, Path(p), _real(p)) for label, p in items if p is not None]


def check_paths(outputs: Labelled, inputs: Labelled | None = None) -> None:
    """Refuse overlapping outputs and inputs before anything is written.

    :param outputs: label (e.g. ``--out``) → path written, as a mapping or ``(label, path)``
        pairs (None paths are skipped).
    :param inputs: label (e.g. ``--trades``) → path read, likewise.
    :raises ConfigError: an output is, contains or lies inside an input; or two outputs are the
        same path or one lies inside the other. The message names both paths.
    """
    outs = _pairs(outputs)
    ins = _pairs(inputs)
    for o_label, o_path, o_real in outs:
        for i_label, i_path, i_real in ins:
            if _same(o_real, i_real):
                how = "is"
            elif _inside(i_real, o_real):
                how = "contains"
            elif _inside(o_real, i_real):
                how = "lies inside"
            else:
                continue
            raise ConfigError(f"{o_label} {o_path}: {how} the input {i_label} {i_path}; "
                              "refusing to write over an input (choose another output path)")
    for n, (a_label, a_path, a_real) in enumerate(outs):
        for b_label, b_path, b_real in outs[n + 1:]:
            if _same(a_real, b_real):
                raise ConfigError(f"{b_label} {b_path}: same path as {a_label} {a_path} "
                                  "(give each output its own path)")
            if _inside(b_real, a_real) or _inside(a_real, b_real):
                raise ConfigError(f"{b_label} {b_path} and {a_label} {a_path}: one output lies "
                                  "inside the other (give each output its own path)")


# ----------------------------------------------------------------------------- folders


def mark_owned(folder: PathArg, what: str) -> None:
    """Write :data:`MARKER` into ``folder``, saying which spxcc output it is."""
    (Path(folder) / MARKER).write_text(
        f"spxcc {what}: this folder is replaced as a whole by spxcc; keep nothing else in it\n",
        encoding="utf-8")


def check_replaceable(folder: PathArg, label: str, owned: Collection[str]) -> None:
    """Refuse to replace ``folder`` unless it is provably ours.

    Accepted: ``folder`` does not exist; it is an empty folder; it holds :data:`MARKER` and
    every other entry's name is in ``owned``.

    :raises ConfigError: ``folder`` is a file, or a folder without the marker, or a marked
        folder holding something else (the first such entry is named).
    """
    p = Path(folder)
    if not p.exists() and not p.is_symlink():
        return
    if not p.is_dir() or p.is_symlink():
        raise ConfigError(f"{label} {p}: exists and is not a folder spxcc made (refusing to "
                          "replace it)")
    try:
        names = sorted(e.name for e in os.scandir(p))
    except OSError as exc:
        raise ConfigError(f"{label} {p}: cannot read ({exc.strerror or exc})") from None
    if not names:
        return
    if MARKER not in names:
        raise ConfigError(f"{label} {p}: exists and was not made by spxcc (no {MARKER} file); "
                          "refusing to replace it: remove it yourself or choose another path")
    foreign = [n for n in names if n != MARKER and n not in owned]
    if foreign:
        raise ConfigError(f"{label} {p}: holds {foreign[0]!r}, which spxcc did not write; "
                          "refusing to replace the folder: move it away or choose another path")


def swap_folder(tmp: Path, dest: Path) -> None:
    """Put the complete folder ``tmp`` in place of ``dest`` (renamed aside, then deleted).
    Call :func:`check_replaceable` on ``dest`` first."""
    old: Path | None = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        old.rmdir()
        dest.rename(old)
    tmp.rename(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- files


@contextlib.contextmanager
def _locked(folders: Sequence[Path]) -> Iterator[None]:
    """Exclusive advisory locks on ``folders`` (in sorted order; none where unsupported)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fds: list[int] = []
    try:
        for folder in sorted(set(folders)):
            try:
                fd = os.open(folder, os.O_RDONLY)
            except OSError:
                continue
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)  # closing releases the lock


class AtomicFiles:
    """A set of output files written together.

    Each target gets its own uniquely named temporary file beside it (``.NAME.XXXX.tmp``);
    :meth:`commit` renames them all into place under an exclusive lock on their folders, so
    concurrent writers of the same set never share a temporary file and the last complete
    writer wins with its whole set. :meth:`discard` (or leaving the ``with`` block by an
    exception) removes the temporary files and leaves the targets untouched.

    :raises ConfigError: a target's folder does not exist, a target is a folder, or a
        temporary file cannot be created.
    """

    def __init__(self, targets: Sequence[PathArg]) -> None:
        self.targets = [Path(t) for t in targets]
        for t in self.targets:
            if not t.parent.is_dir():
                raise ConfigError(f"{t}: output folder {str(t.parent)!r} does not exist")
            if t.is_dir():
                raise ConfigError(f"{t}: is a folder, not a file")
        self.files: list[IO[bytes]] = []
        self.temps: list[Path] = []
        try:
            for t in self.targets:
                fd, tmp = tempfile.mkstemp(dir=t.parent, prefix=f".{t.name}.", suffix=".tmp")
                self.temps.append(Path(tmp))
                self.files.append(os.fdopen(fd, "wb"))
        except OSError as exc:
            self.discard()
            raise ConfigError(f"cannot write next to {t}: {exc.strerror or exc}") from None

    def commit(self) -> None:
        """Close the temporary files and rename every one into place."""
        for f in self.files:
            f.close()
        with _locked([t.parent for t in self.targets]):
            for tmp, t in zip(self.temps, self.targets, strict=True):
                os.replace(tmp, t)
        self.temps = []

    def discard(self) -> None:
        """Remove the temporary files (the targets are left as they were)."""
        for f in self.files:
            f.close()
        for tmp in self.temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self.temps = []

    def __enter__(self) -> AtomicFiles:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None or self.temps:
            self.discard()


def atomic_write(files: Mapping[PathArg, bytes]) -> None:
    """Write each ``path → bytes`` with :class:`AtomicFiles` (all or nothing, unique
    temporary names, last complete writer wins)."""
    paths = list(files)
    with AtomicFiles(paths) as out:
        for f, p in zip(out.files, paths, strict=True):
            f.write(files[p])
        out.commit()
