"""The on-disk sample session: Massive flat files in a cache folder, generated once.

Layout of ``<root>/<seed>-<date>-<scale>/`` mirrors the Massive bucket:
``{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz`` per dataset, the option-chain snapshot
``us_options_opra/chain_snapshot/{YYYY-MM-DD}.json`` (open interest at the previous close), plus
``manifest.json`` (seed, date, scale, generator version, rows, bytes and SHA-256 per file). A folder is built under a temporary
name and renamed into place, so a folder with a manifest is complete; a present, complete
folder is reused as is. An incomplete or stale folder is replaced only when it is provably a
sample session (:func:`spxcc_core.outputs.check_replaceable`: the marker file, or a sample
manifest from before folders were marked, and nothing else at its top level).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import attrs
import msgspec

from spxcc_core.errors import ConfigError
from spxcc_core.hashing import sha256_file
from spxcc_core.outputs import MARKER, check_replaceable, mark_owned
from spxcc_core.sample.chain import CHAIN_DATASET
from spxcc_core.sample.clock import DEFAULT_DATE
from spxcc_core.sample.flatfile import write_flat_file
from spxcc_core.sample.generate import (
    DATASETS,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    check_scale,
    generate_columns,
)
from spxcc_core.userdirs import user_cache_dir

__all__ = ["Manifest", "ManifestFile", "SampleSession", "default_cache_root",
           "generate_session", "session_folder_name"]

MANIFEST = "manifest.json"
#: Top-level names of a session folder: the only ones a folder that is replaced may hold.
_OWNED = frozenset({MANIFEST, *(d.split("/", 1)[0] for d in (*DATASETS, CHAIN_DATASET))})


class ManifestFile(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """One file of a sample session: path relative to the folder, rows, bytes, SHA-256 (hex)."""

    dataset: str
    path: str
    rows: int
    bytes: int
    sha256: str


class Manifest(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """``manifest.json`` of a sample session folder (``chain``: the chain snapshot, rows =
    contracts; a folder without one is rebuilt)."""

    seed: int
    date: str
    scale: float
    generator_version: int
    files: list[ManifestFile]
    chain: ManifestFile | None = None


_manifest_encoder = msgspec.json.Encoder(order="deterministic")
_manifest_decoder = msgspec.json.Decoder(Manifest)


@attrs.frozen
class SampleSession:
    """A sample session on disk: ``paths`` and ``counts`` (rows) by Massive dataset name;
    ``chain`` the option-chain snapshot file."""

    root: Path
    seed: int
    date: dt.date
    scale: float
    paths: dict[str, Path]
    counts: dict[str, int]
    sha256: dict[str, str]
    reused: bool
    chain: Path | None = None

    @property
    def manifest_path(self) -> Path:
        """The folder's ``manifest.json``."""
        return self.root / MANIFEST

    @property
    def total_events(self) -> int:
        """Rows over all datasets."""
        return sum(self.counts.values())


def default_cache_root() -> Path:
    """``platformdirs.user_cache_dir("spxcc")/sample`` (``SPXCC_CACHE_DIR`` overrides the
    ``spxcc`` cache folder, see :func:`spxcc_core.userdirs.user_cache_dir`)."""
    return user_cache_dir() / "sample"


def session_folder_name(seed: int, date: dt.date, scale: float) -> str:
    """``<seed>-<YYYY-MM-DD>-<scale>`` with the scale in shortest form (``1``, ``0.05``)."""
    return f"{seed}-{date.isoformat()}-{scale:g}"


def _relpath(dataset: str, date: dt.date) -> str:
    return f"{dataset}/{date:%Y}/{date:%m}/{date.isoformat()}.csv.gz"


def _load(folder: Path, seed: int, date: dt.date, scale: float,
          verify: bool) -> SampleSession | None:
    """The session in ``folder`` if its manifest matches and its files are intact, else None."""
    try:
        manifest = _manifest_decoder.decode((folder / MANIFEST).read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    if (manifest.seed, manifest.date, manifest.scale, manifest.generator_version) != (
            seed, date.isoformat(), scale, GENERATOR_VERSION):
        return None
    if {f.dataset for f in manifest.files} != set(DATASETS) or manifest.chain is None:
        return None
    for f in [*manifest.files, manifest.chain]:
        p = folder / f.path
        try:
            if p.stat().st_size != f.bytes:
                return None
        except OSError:
            return None
        if verify and sha256_file(p) != f.sha256:
            return None
    return SampleSession(
        root=folder, seed=seed, date=date, scale=scale,
        paths={f.dataset: folder / f.path for f in manifest.files},
        counts={f.dataset: f.rows for f in manifest.files},
        sha256={f.dataset: f.sha256 for f in manifest.files}, reused=True,
        chain=folder / manifest.chain.path)


def _is_sample_manifest(path: Path) -> bool:
    try:
        _manifest_decoder.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):
        return False
    return True


def _build(tmp: Path, seed: int, date: dt.date, scale: float) -> None:
    columns = generate_columns(seed=seed, date=date, scale=scale)
    files = []
    for dataset in DATASETS:
        rel = _relpath(dataset, date)
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = write_flat_file(columns.tables[dataset], path)
        files.append(ManifestFile(dataset=dataset, path=rel, rows=rows,
                                  bytes=path.stat().st_size, sha256=sha256_file(path)))
    rel = f"{CHAIN_DATASET}/{date.isoformat()}.json"
    path = tmp / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(columns.chain)
    contracts = len(msgspec.json.decode(columns.chain)["results"])
    chain = ManifestFile(dataset=CHAIN_DATASET, path=rel, rows=contracts,
                         bytes=path.stat().st_size, sha256=sha256_file(path))
    manifest = Manifest(seed=seed, date=date.isoformat(), scale=scale,
                        generator_version=GENERATOR_VERSION, files=files, chain=chain)
    (tmp / MANIFEST).write_bytes(_manifest_encoder.encode(manifest) + b"\n")


def generate_session(dest: Path | None = None, *, seed: int = DEFAULT_SEED,
                     date: dt.date = DEFAULT_DATE, scale: float = 1.0,
                     verify: bool = False) -> SampleSession:
    """Generate (or reuse) the sample session of ``(seed, date, scale)`` as Massive flat files.

    ``dest`` is the cache root (default :func:`default_cache_root`); the files go to
    ``dest/<seed>-<date>-<scale>/``. An existing complete folder (manifest present, matching
    parameters and generator version, file sizes as recorded; with ``verify`` also SHA-256) is
    reused; an incomplete one is rebuilt. Output bytes are identical for identical parameters.
    Raises :class:`ConfigError` for a bad seed or scale, or a cache root that cannot be written.
    """
    scale = check_scale(scale)
    if seed < 0:
        raise ConfigError(f"seed: {seed} must be >= 0")
    root = Path(dest) if dest is not None else default_cache_root()
    folder = root / session_folder_name(seed, date, scale)
    found = _load(folder, seed, date, scale, verify)
    if found is not None:
        return found
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=root))
    except OSError as exc:
        raise ConfigError(f"cache dir {root}: cannot write ({exc.strerror or exc})") from None
    try:
        _build(tmp, seed, date, scale)
        mark_owned(tmp, "sample session")
        if folder.exists():  # incomplete or stale: replace it, if it is provably ours
            if not (folder / MARKER).exists() and _is_sample_manifest(folder / MANIFEST):
                mark_owned(folder, "sample session")  # made before folders were marked
            check_replaceable(folder, "sample session folder", _OWNED)
            shutil.rmtree(folder, ignore_errors=True)
        try:
            tmp.rename(folder)
        except OSError:
            # Another process finished first: use its folder if complete.
            done = _load(folder, seed, date, scale, verify=False)
            if done is None:
                raise
            return attrs.evolve(done, reused=False)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    built = _load(folder, seed, date, scale, verify=False)
    if built is None:  # pragma: no cover - the folder was just written
        raise ConfigError(f"cache dir {folder}: generated session is incomplete")
    return attrs.evolve(built, reused=False)
