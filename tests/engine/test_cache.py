"""Caching and persisted results, in this process and across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from jupyter_flows import flow, task
from jupyter_flows.engine.cache import ResultStore, hash_objects
from jupyter_flows.engine.errors import ResultPersistenceError
from jupyter_flows.engine.reporter import MemoryReporter
from jupyter_flows.tasks import task_input_hash


def test_an_unpicklable_result_with_persist_result_fails_naming_the_task(
    reporter: MemoryReporter,
) -> None:
    @task(persist_result=True)
    def make_lock():
        return threading.Lock()

    @flow
    def pipeline():
        return make_lock(return_state=True)

    state = pipeline(return_state=True).data
    assert state.is_failed()
    assert "task 'make_lock' returned a value of type lock that cannot be pickled" in (
        state.message
    )
    assert isinstance(state.exception, ResultPersistenceError)
    assert "persist_result=False" in state.message


def test_the_default_policy_caches_on_code_and_inputs(reporter: MemoryReporter) -> None:
    calls: list[int] = []

    @task(persist_result=True)
    def expensive(x: int) -> int:
        calls.append(x)
        return x * 10

    @flow
    def pipeline():
        return [expensive(1), expensive(1), expensive(2)]

    assert pipeline() == [10, 10, 20]
    assert calls == [1, 2]
    assert reporter.states_of(reporter.task_run_named("expensive-1").id) == ["Pending", "Cached"]


def test_cache_key_fn_and_refresh_cache() -> None:
    calls: list[str] = []

    def by_first_letter(context, arguments) -> str:
        return arguments["word"][0]

    @task(cache_key_fn=by_first_letter)
    def length(word: str) -> int:
        calls.append(word)
        return len(word)

    @flow
    def pipeline():
        return (
            length("apple"),
            length("avocado"),
            length.with_options(refresh_cache=True)("avocado"),
            length("abc"),
        )

    assert pipeline() == (5, 5, 7, 7)
    assert calls == ["apple", "avocado"]


def test_a_cache_key_fn_returning_none_does_not_cache() -> None:
    calls: list[int] = []

    @task(cache_key_fn=lambda ctx, args: None)
    def f(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def pipeline():
        return f(1), f(1)

    pipeline()
    assert calls == [1, 1]


def test_a_failing_cache_key_fn_runs_the_task_uncached(reporter: MemoryReporter) -> None:
    def broken(ctx, args) -> str:
        raise KeyError("nope")

    @task(cache_key_fn=broken)
    def f() -> int:
        return 3

    @flow
    def pipeline() -> int:
        return f()

    assert pipeline() == 3
    assert any("Not caching: cache_key_fn raised KeyError" in m for m in reporter.messages())


def test_cache_expiration(tmp_path: Path) -> None:
    calls: list[int] = []

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(seconds=0.2))
    def f(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def pipeline() -> int:
        return f(1)

    pipeline()
    pipeline()
    assert calls == [1]
    time.sleep(0.3)
    pipeline()
    assert calls == [1, 1]


def test_changing_the_code_misses_the_cache() -> None:
    @task(persist_result=True)
    def version_one(x: int) -> int:
        return x + 1

    @task(persist_result=True, name="version_one")
    def version_two(x: int) -> int:
        return x + 2

    @flow
    def pipeline():
        return version_one(1), version_two(1)

    assert pipeline() == (2, 3)


CROSS_PROCESS = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from jupyter_flows import flow, task
    from jupyter_flows.tasks import task_input_hash

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(seconds=float(sys.argv[1])))
    def compute(x):
        print("COMPUTED", flush=True)
        return {"x": x, "squares": [i * i for i in range(x)]}

    @flow
    def pipeline(x: int):
        return compute(x)

    print("RESULT", pipeline(4), flush=True)
    """
)


def _run_script(script: Path, expiration: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, str(script), expiration],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cached_results_survive_the_process(tmp_path: Path, result_storage: Path) -> None:
    script = tmp_path / "cached.py"
    script.write_text(CROSS_PROCESS)
    env = {**os.environ, "JUPYTER_FLOWS_CONSOLE_LOGS": "0"}
    short_lived = _run_script(script, "0.000001", env)  # written already expired
    first = _run_script(script, "3600", env)
    second = _run_script(script, "3600", env)
    assert "COMPUTED" in short_lived
    assert "COMPUTED" in first, "an expired result is computed again, in a new process too"
    assert "COMPUTED" not in second
    assert "RESULT {'x': 4, 'squares': [0, 1, 4, 9]}" in second


def test_results_go_to_any_fsspec_url() -> None:
    store = ResultStore("memory://jupyter-flows-test/results")
    store.write("k", {"a": 1}, expiration=None, owner="test")
    assert store.read("k") == (True, {"a": 1})
    assert store.read("other") == (False, None)

    calls: list[int] = []

    @task(persist_result=True, result_storage="memory://jupyter-flows-test/tasks")
    def f(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def pipeline():
        return f(7), f(7)

    assert pipeline() == (7, 7) and calls == [7]


def test_a_corrupt_result_is_a_cache_miss(result_storage: Path) -> None:
    store = ResultStore(result_storage)
    store.write("key", 1, expiration=None, owner="test")
    (only,) = [p for p in result_storage.iterdir()]
    only.write_bytes(b"not a pickle")
    assert store.read("key") == (False, None)


def test_flows_inherit_result_storage_and_persist_result(tmp_path: Path) -> None:
    calls: list[int] = []

    @task
    def f(x: int) -> int:
        calls.append(x)
        return x

    @flow(persist_result=True, result_storage=str(tmp_path / "flow-store"))
    def pipeline():
        return f(1), f(1)

    assert pipeline() == (1, 1) and calls == [1]
    assert len(list((tmp_path / "flow-store").iterdir())) == 2  # task result + flow result


def test_hash_objects_is_stable_and_handles_unjsonable_values() -> None:
    assert hash_objects({"b": 1, "a": 2}) == hash_objects({"a": 2, "b": 1})
    assert hash_objects({1, 2, 3}) == hash_objects({3, 2, 1})
    assert hash_objects(object) is not None
    assert hash_objects(threading.Lock()) is None


@pytest.mark.parametrize("bad", [threading.Lock()])
def test_unhashable_inputs_run_uncached(bad: object) -> None:
    calls: list[int] = []

    @task(persist_result=True)
    def f(lock) -> int:
        calls.append(1)
        return 1

    @flow
    def pipeline():
        return f(bad), f(bad)

    assert pipeline() == (1, 1) and calls == [1, 1]
