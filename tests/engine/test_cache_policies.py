"""``cache_policy=``: Prefect 3's cache policies, their sums and exclusions."""

from __future__ import annotations

import threading

import pytest

from jupyter_flows import flow, task
from jupyter_flows.cache_policies import (
    DEFAULT,
    FLOW_PARAMETERS,
    INPUTS,
    NO_CACHE,
    RUN_ID,
    TASK_SOURCE,
    CacheKeyFnPolicy,
    CompoundCachePolicy,
    Inputs,
)
from jupyter_flows.engine.reporter import MemoryReporter


def test_inputs_caches_across_runs_and_ignores_what_is_subtracted(
    reporter: MemoryReporter,
) -> None:
    calls: list[tuple[int, bool]] = []

    @task(cache_policy=INPUTS - "debug")
    def add_42(x: int, debug: bool = False) -> int:
        calls.append((x, debug))
        return x + 42

    @flow
    def pipeline(x: int) -> list[int]:
        return [add_42(x), add_42(x, debug=True)]

    assert pipeline(1) == [43, 43]
    assert pipeline(1) == [43, 43], "another flow run reads the same cache"
    assert pipeline(2) == [44, 44]
    assert calls == [(1, False), (2, False)]
    assert reporter.states_of(reporter.task_run_named("add_42-1").id) == ["Pending", "Cached"]


def test_default_is_inputs_source_and_the_flow_run(reporter: MemoryReporter) -> None:
    calls: list[int] = []

    @task(cache_policy=DEFAULT)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    @flow
    def pipeline() -> list[int]:
        return [square(3), square(3), square(4)]

    assert pipeline() == [9, 9, 16]
    assert pipeline() == [9, 9, 16]
    assert calls == [3, 4, 3, 4], "cached within a flow run, not across runs"


def test_run_id_and_flow_parameters() -> None:
    calls: list[str] = []

    @task(cache_policy=RUN_ID)
    def per_run(tag: str) -> str:
        calls.append(tag)
        return tag

    @task(cache_policy=FLOW_PARAMETERS)
    def per_parameters() -> int:
        calls.append("parameters")
        return len(calls)

    @flow
    def pipeline(day: str) -> tuple[str, str, int, int]:
        return per_run("a"), per_run("b"), per_parameters(), per_parameters()

    first = pipeline("monday")
    assert first[:2] == ("a", "a"), "RUN_ID alone: one value per flow run, whatever the inputs"
    assert first[2] == first[3]
    assert pipeline("monday")[2] == first[2], "same flow parameters, same key"
    assert pipeline("tuesday")[2] != first[2]


def test_task_source_changes_the_key_when_the_code_changes() -> None:
    calls: list[str] = []

    def version_one(x: int) -> str:
        calls.append("one")
        return "one"

    def version_two(x: int) -> str:
        calls.append("two")
        return "two"

    one = task(name="same", cache_policy=TASK_SOURCE + INPUTS)(version_one)
    two = task(name="same", cache_policy=TASK_SOURCE + INPUTS)(version_two)

    @flow
    def pipeline() -> list[str]:
        return [one(1), one(1), two(1)]

    assert pipeline() == ["one", "one", "two"]
    assert calls == ["one", "two"]


def test_no_cache_never_reads_a_cache() -> None:
    calls: list[int] = []

    @task(cache_policy=NO_CACHE, persist_result=True)
    def fresh(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def pipeline() -> list[int]:
        return [fresh(1), fresh(1)]

    assert pipeline() == [1, 1] and calls == [1, 1]


def test_unhashable_inputs_run_uncached_with_a_warning(reporter: MemoryReporter) -> None:
    @task(cache_policy=INPUTS)
    def with_lock(lock: object) -> int:
        return 1

    @flow
    def pipeline() -> int:
        return with_lock(threading.Lock())

    assert pipeline() == 1
    assert any("Not caching: UnhashableInputs" in m for m in reporter.messages())


def test_policies_combine_as_in_prefect() -> None:
    assert NO_CACHE + INPUTS == INPUTS and INPUTS + NO_CACHE == INPUTS
    combined = INPUTS + TASK_SOURCE + RUN_ID
    assert isinstance(combined, CompoundCachePolicy) and combined == DEFAULT
    assert (DEFAULT - "x" - "y").policies[-1] == Inputs(("x", "y"))
    assert TASK_SOURCE - "x" == TASK_SOURCE, "a policy without inputs has nothing to leave out"
    merged = (INPUTS - "a") + (INPUTS - "b")
    assert isinstance(merged, CompoundCachePolicy) and merged.policies == (Inputs(("a", "b")),)
    with pytest.raises(TypeError, match="parameter names"):
        INPUTS - 3  # type: ignore[operator]
    with pytest.raises(TypeError, match="cache_policy must be a policy"):
        task(cache_policy="inputs")(lambda: None)  # type: ignore[arg-type]


def test_cache_key_fn_is_a_policy_and_wins_over_cache_policy() -> None:
    calls: list[str] = []

    @task(cache_key_fn=lambda ctx, inputs: inputs["word"][0], cache_policy=NO_CACHE)
    def length(word: str) -> int:
        calls.append(word)
        return len(word)

    @flow
    def pipeline() -> list[int]:
        return [length("apple"), length("avocado")]

    assert pipeline() == [5, 5] and calls == ["apple"]
    assert isinstance(length.key_policy, CacheKeyFnPolicy)


def test_persist_result_false_turns_a_policy_off() -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS, persist_result=False)
    def f(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def pipeline() -> list[int]:
        return [f(1), f(1)]

    assert pipeline() == [1, 1] and calls == [1, 1]
