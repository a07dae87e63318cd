"""The plugin registry: names registered in code or found through entry points, loaded on
first use; broken plugins logged and skipped; unknown names listing the known ones."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from jupyter_flows import flow, task
from jupyter_flows.engine import runners
from jupyter_flows.engine.errors import PluginLoadError, UnknownPluginError
from jupyter_flows.engine.registry import Registry
from jupyter_flows.engine.runners import (
    SequentialTaskRunner,
    TaskRunner,
    ThreadPoolTaskRunner,
    task_runner_from_name,
)
from tests.plugins import PACKAGE, install_plugins

GROUP = "jupyter_flows.task_runners"


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo plugins installed, and the task runners' registry a copy for this test."""
    monkeypatch.setattr(runners, "TASK_RUNNERS", runners.TASK_RUNNERS.copy())
    return install_plugins(tmp_path, monkeypatch)


def registry() -> Registry[TaskRunner]:
    return Registry("task runner", TaskRunner, GROUP, builtins={"sequential": SequentialTaskRunner})


def test_a_class_or_an_import_path_imported_on_first_use(plugins: Path) -> None:
    runners_ = registry()
    runners_.register("threads", ThreadPoolTaskRunner)
    runners_.register("by-path", f"{PACKAGE}.runner:RecordingRunner")
    assert f"{PACKAGE}.runner" not in sys.modules
    assert "by-path" in runners_ and "threads" in runners_
    assert f"{PACKAGE}.runner" not in sys.modules, "listing names imports nothing"
    assert runners_.get("threads") is ThreadPoolTaskRunner
    assert runners_.get("by-path").__name__ == "RecordingRunner"
    assert f"{PACKAGE}.runner" in sys.modules


def test_names_list_code_and_entry_points(plugins: Path) -> None:
    names = registry().names()
    assert {"sequential", "recording", "twice"} <= set(names)
    assert names == sorted(names)
    assert list(registry()) == names


def test_an_unknown_name_lists_the_known_ones(plugins: Path) -> None:
    with pytest.raises(
        UnknownPluginError, match=r"unknown task runner 'spark'; known: .*recording"
    ):
        registry().get("spark")
    assert issubclass(UnknownPluginError, ValueError)
    assert "spark" not in registry() and None not in registry()


def test_each_floor_raises_its_own_error_too() -> None:
    class UnknownThing(UnknownPluginError, LookupError):
        pass

    class BrokenThing(PluginLoadError, ImportError):
        pass

    things = Registry(
        "thing",
        TaskRunner,
        "jupyter_flows.tests.things",
        builtins={"gone": "no_such_module_for_things:Thing"},
        unknown_error=UnknownThing,
        load_error=BrokenThing,
    )
    with pytest.raises(UnknownThing, match="unknown thing 'x'; known: gone"):
        things.get("x")
    with pytest.raises(BrokenThing, match="thing 'gone' .* cannot be loaded: ModuleNotFoundError"):
        things.get("gone")


def test_a_broken_plugin_is_logged_and_skipped(
    plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runners_ = registry()
    with caplog.at_level(logging.WARNING, logger="jupyter_flows.plugins"):
        with pytest.raises(PluginLoadError, match="'broken' .*cannot be loaded: ModuleNotFound"):
            runners_.get("broken")
        with pytest.raises(PluginLoadError, match="'wrong' .*flows_demo_plugins 1.0.* is not a Ta"):
            runners_.get("wrong")
    warned = [r.getMessage() for r in caplog.records]
    assert any("'broken'" in m and m.endswith("skipped") for m in warned), warned
    assert any("'wrong'" in m for m in warned), warned
    # Skipped: no longer offered, the others still work, and asking again still says why.
    assert "broken" not in runners_.names() and "wrong" not in runners_.names()
    assert "broken" not in runners_ and "wrong" not in runners_
    assert runners_.get("recording").__name__ == "RecordingRunner"
    caplog.clear()
    with pytest.raises(PluginLoadError, match="cannot be loaded"):
        runners_.get("broken")
    assert not caplog.records, "a broken plugin is imported (and logged) once"


def test_a_broken_entry_point_gives_way_to_a_working_one_of_the_same_name(
    plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="jupyter_flows.plugins"):
        assert registry().get("twice").__name__ == "RecordingRunner"
    assert any("flows_demo_other" in r.getMessage() for r in caplog.records)


def test_code_wins_over_an_entry_point_and_aliases_resolve(plugins: Path) -> None:
    runners_ = Registry(
        "task runner",
        TaskRunner,
        GROUP,
        builtins={"recording": ThreadPoolTaskRunner},
        aliases={"rec": "recording"},
    )
    assert runners_.get("recording") is ThreadPoolTaskRunner
    assert runners_.get("rec") is ThreadPoolTaskRunner
    assert "rec" in runners_


def test_a_copy_is_independent() -> None:
    original = registry()
    twin = original.copy()
    twin.register("threads", ThreadPoolTaskRunner)
    assert "threads" in twin and "threads" not in original
    twin.unregister("sequential")
    assert original.get("sequential") is SequentialTaskRunner


def test_only_a_class_or_an_import_path_can_be_registered() -> None:
    with pytest.raises(TypeError, match="register a class or 'module:Class'"):
        registry().register("instance", SequentialTaskRunner())  # type: ignore[arg-type]


def test_a_flow_runs_its_tasks_on_a_third_party_runner(plugins: Path) -> None:
    runner = task_runner_from_name("recording")
    assert type(runner).__module__ == f"{PACKAGE}.runner"

    @task
    def square(x: int) -> int:
        return x * x

    @flow(task_runner=runner)
    def squares(n: int) -> int:
        return sum(square.map(range(n)).result())

    assert squares(4) == 14
    submitted = sys.modules[f"{PACKAGE}.runner"].SUBMITTED
    assert sorted(submitted) == [f"square-{i}" for i in range(4)]


def test_built_in_runners_are_found_without_reading_entry_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Built-ins are registered in code: no scan of the installed packages, and they work
    from a source tree whose package metadata is stale or missing."""

    def no_scan(self: Registry[TaskRunner]) -> list[object]:
        raise AssertionError("entry points read for a built-in name")

    monkeypatch.setattr(Registry, "_entry_points", no_scan)
    assert isinstance(task_runner_from_name("sequential"), SequentialTaskRunner)
    assert task_runner_from_name("threads", max_workers=2).max_workers == 2  # type: ignore[attr-defined]
    assert runners.TASK_RUNNERS.get("dask").__name__ == "DaskTaskRunner"
