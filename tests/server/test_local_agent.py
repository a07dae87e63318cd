"""The Jupyter server's own agent: started with the server, runs a deployment's run, stopped
with the server (and not started when turned off)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config, Configurable

from jupyter_flows.server.app import FlowsApp
from jupyter_flows.server.local_agent import (
    LAB_SETTINGS_FILE,
    LocalAgentConfig,
    read_lab_local_agent,
)
from jupyter_flows.spec.python_flows import registration

GUARD = 90.0  # a hang guard, not a timing assertion

FLOW = """
from jupyter_flows import flow


@flow
def greet(name: str = "world") -> str:
    return f"hello {name}"
"""


@pytest.fixture
def flows_config() -> dict[str, Any]:
    return {"start_local_agent": True, "local_agent_queue": "default"}


def flows_app(serverapp: Any) -> FlowsApp:
    points = serverapp.extension_manager.extensions["jupyter_flows"].extension_points
    return next(p.app for p in points.values() if isinstance(p.app, FlowsApp))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_server_runs_a_local_agent(jp_serverapp: Any, api, tmp_path: Path) -> None:
    path = tmp_path / "greet.py"
    path.write_text(FLOW)
    body = registration(path)
    version = (await api("POST", "flows", body)).body
    deployment = {"flow_id": version["flow_id"], "name": "d", "work_queue": "default"}
    dep = (await api("POST", "deployments", deployment, expect=201)).body
    app = flows_app(jp_serverapp)
    await app._start_jupyter_server_extension(jp_serverapp)
    try:
        agent = app._local_agent
        assert agent is not None and agent.poll() is None
        run = (await api("POST", f"deployments/{dep['id']}/runs", {}, expect=201)).body

        async def ended() -> dict[str, Any]:
            while True:
                got = (await api("GET", f"flow-runs/{run['id']}")).body
                if got["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED"):
                    return got  # type: ignore[no-any-return]
                await asyncio.sleep(0.1)

        done = await asyncio.wait_for(ended(), GUARD)
        assert done["state"]["type"] == "COMPLETED"
        agents = (await api("GET", "agents")).body["items"]
        assert [a["name"].startswith("local-") for a in agents] == [True]
    finally:
        await asyncio.wait_for(app.stop_extension(), GUARD)
    assert agent.poll() == 0  # a warm shutdown, on SIGTERM


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("flows_config", [{"start_local_agent": False}])
async def test_the_local_agent_can_be_turned_off(jp_serverapp: Any) -> None:
    app = flows_app(jp_serverapp)
    await app._start_jupyter_server_extension(jp_serverapp)
    try:
        assert app._local_agent is None
    finally:
        await app.stop_extension()


# ------------------------------------------------------------------ the lab setting


class _App(LocalAgentConfig, Configurable):
    """LocalAgentConfig as FlowsApp mixes it in, configured from the section ``_App``."""


def _settings(tmp_path: Path, text: str) -> Path:
    (tmp_path / LAB_SETTINGS_FILE).parent.mkdir(parents=True)
    (tmp_path / LAB_SETTINGS_FILE).write_text(text)
    return tmp_path


def test_the_lab_setting_is_read_from_the_user_settings(tmp_path: Path) -> None:
    # JupyterLab writes JSON5: comments are allowed.
    off = _settings(tmp_path / "off", '{\n  // set in Settings\n  "localAgent": false\n}')
    assert read_lab_local_agent(off) is False
    assert read_lab_local_agent(_settings(tmp_path / "on", '{"localAgent": true}')) is True
    assert read_lab_local_agent(_settings(tmp_path / "other", '{"apiKey": ""}')) is None
    assert read_lab_local_agent(_settings(tmp_path / "bad", '{"localAgent": ')) is None
    assert read_lab_local_agent(_settings(tmp_path / "odd", '{"localAgent": "no"}')) is None
    assert read_lab_local_agent(tmp_path / "none") is None


def test_the_server_configuration_wins_over_the_lab_setting() -> None:
    app = _App()
    assert app.wants_local_agent() is True  # neither set: on
    app.lab_local_agent = False
    assert app.wants_local_agent() is False  # the lab setting
    configured = _App(config=Config({"_App": {"start_local_agent": True}}))
    configured.lab_local_agent = False
    assert configured.wants_local_agent() is True  # the server's configuration


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_lab_setting_turns_the_local_agent_off_at_start(
    jp_serverapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(_settings(tmp_path, '{"localAgent": false}')))
    app = flows_app(jp_serverapp)
    del app.config["FlowsApp"]["start_local_agent"]  # as a user's server: not configured
    app.start_local_agent = True
    await app._start_jupyter_server_extension(jp_serverapp)
    try:
        assert app.lab_local_agent is False and app._local_agent is None
    finally:
        await app.stop_extension()
