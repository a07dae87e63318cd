"""Artifacts through the reporters: kept in memory, replayed, sent in ingest batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jupyter_flows.engine.http_reporter import HttpReporter
from jupyter_flows.engine.reporter import (
    ArtifactRecord,
    MemoryReporter,
    NullReporter,
    report_artifact,
)
from tests.engine.test_http_reporter import IngestServer, flow_run, state


def _artifact(run_id: str = "run-1") -> ArtifactRecord:
    return ArtifactRecord(
        id="art-1",
        flow_run_id=run_id,
        type="notebook",
        data={"uri": "file:///tmp/out.ipynb"},
        key="output",
    )


@pytest.fixture
def server() -> Iterator[IngestServer]:
    srv = IngestServer()
    yield srv
    srv.stop()


@pytest.fixture
def make_reporter() -> Iterator[Callable[..., HttpReporter]]:
    made: list[HttpReporter] = []

    def make(url: str, **options: Any) -> HttpReporter:
        rep = HttpReporter(url, **{"flush_timeout": 30.0, "max_backoff": 0.2, **options})
        made.append(rep)
        return rep

    yield make
    for rep in made:
        rep.close(timeout=0)


def test_memory_reporter_keeps_and_replays_artifacts() -> None:
    first, second = MemoryReporter(), MemoryReporter()
    first.flow_run_created(flow_run())
    report_artifact(first, _artifact())
    first.replay_into(second)
    assert [a.id for a in second.artifacts] == ["art-1"]
    assert second.artifacts[0].to_dict()["data"] == {"uri": "file:///tmp/out.ipynb"}


def test_reporters_without_an_artifact_channel_are_skipped() -> None:
    class Old:  # a reporter written before artifacts existed
        pass

    report_artifact(Old(), _artifact())  # type: ignore[arg-type]
    NullReporter().artifact_created(_artifact())


def test_artifacts_are_sent_after_their_run(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    rep = make_reporter(server.url)
    rep.flow_run_created(flow_run())
    rep.state_changed(state())
    rep.artifact_created(_artifact())
    assert rep.drain()
    sent = [a for batch in server.batches for a in batch.get("artifacts", [])]
    assert sent == [_artifact().to_dict()]
    assert server.records("flow_runs")[0]["id"] == "run-1"


def test_batches_without_artifacts_leave_the_field_out(
    server: IngestServer, make_reporter: Callable[..., HttpReporter]
) -> None:
    rep = make_reporter(server.url)
    rep.flow_run_created(flow_run())
    assert rep.drain()
    assert all("artifacts" not in batch for batch in server.batches)
