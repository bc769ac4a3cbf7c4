"""Many sessions on any executor: same results whatever runs them."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest

from spxcc_core.errors import ConfigError, InputError
from spxcc_core.replay.cache import ingest
from spxcc_core.replay.engine import replay_session
from spxcc_core.replay.executor import out_dir_names, replay_many
from spxcc_core.sample import generate_session


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("many")
    out = []
    for seed in (1, 2):
        s = generate_session(root / "samples", seed=seed, scale=0.02)
        out.append(str(ingest(s.root, root / f"cache-{seed}").root))
    out.append(str(s.root))  # a flat-file folder as well
    return out


@pytest.fixture(scope="module")
def sequential(sessions: list[str]) -> list[dict[str, str]]:
    return [replay_session(s).digests for s in sessions]


def test_default_process_pool_matches_one_after_another(sessions: list[str],
                                                        sequential: list[dict[str, str]],
                                                        tmp_path: Path) -> None:
    results = replay_many(sessions, out_root=tmp_path)
    assert [r.digests for r in results] == sequential
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "000-cache-1", "001-cache-2", "002-2-2025-12-12-0.02"]
    assert [r.out_dir for r in results] == [str(tmp_path / n) for n in
                                            ("000-cache-1", "001-cache-2",
                                             "002-2-2025-12-12-0.02")]
    assert results[0].digests != results[1].digests  # different seeds, different sessions


def test_any_executor_gives_the_same_results(sessions: list[str],
                                             sequential: list[dict[str, str]]) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = replay_many(sessions, executor=pool, detectors=["vwap", "volume_climax",
                                                                  "orb_pullback"])
    assert [r.digests for r in results] == sequential


def test_errors_surface_with_their_message(sessions: list[str], tmp_path: Path) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool, \
            pytest.raises(InputError, match="session not found"):
        replay_many([sessions[0], str(tmp_path / "missing")], executor=pool)
    with pytest.raises(ConfigError, match="max_workers"):
        replay_many(sessions, max_workers=0)


def test_out_dir_names_are_unique_and_safe() -> None:
    assert out_dir_names(["a/b c", "x/b c", "rec.jsonl"]) == ["000-b_c", "001-b_c",
                                                              "002-rec.jsonl"]


@pytest.mark.slow
def test_dask_distributed_executor(sessions: list[str],
                                   sequential: list[dict[str, str]]) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        results = replay_many(sessions, executor=client.get_executor())
    assert [r.digests for r in results] == sequential
