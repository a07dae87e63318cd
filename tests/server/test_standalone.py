"""The team server's process: what start-up leaves behind is kept out of the collector."""

from __future__ import annotations

import gc

import pytest
from jupyter_server.serverapp import ServerApp

from jupyter_flows.server.standalone import FlowsServerApp


def test_start_freezes_what_start_up_made(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr(ServerApp, "start", lambda self: started.append(True))
    gc.unfreeze()
    try:
        FlowsServerApp.start(FlowsServerApp.__new__(FlowsServerApp))
        assert started == [True]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
