"""@flow and @task on methods: instance methods, and over @classmethod and @staticmethod."""

from __future__ import annotations

import asyncio

from jupyter_flows import flow, task
from jupyter_flows.engine.reporter import MemoryReporter


class Pipeline:
    factor = 10

    def __init__(self, offset: int) -> None:
        self.offset = offset

    @flow
    def run(self, x: int) -> int:
        return self.scale(x) + self.offset

    @task
    def scale(self, x: int) -> int:
        return x * self.factor

    @flow
    @classmethod
    def build(cls, x: int) -> int:
        return cls.twice(x) * cls.factor

    @task
    @classmethod
    def twice(cls, x: int) -> int:
        return 2 * x

    @flow
    @staticmethod
    def plain(x: int) -> int:
        return Pipeline.negate(x)

    @task
    @staticmethod
    def negate(x: int) -> int:
        return -x

    @flow
    async def run_async(self, x: int) -> int:
        return await self.scale_async(x)

    @task
    async def scale_async(self, x: int) -> int:
        return x * self.factor


def test_flows_stacked_over_classmethod_and_staticmethod_run(reporter: MemoryReporter) -> None:
    assert Pipeline.build(3) == 60
    assert Pipeline(0).build(3) == 60, "a classmethod looked up on an instance binds the class"
    assert Pipeline.plain(4) == -4
    assert Pipeline(0).plain(4) == -4
    assert [run.flow_name for run in reporter.flow_runs] == ["build", "build", "plain", "plain"]
    assert all(reporter.states_of(run.id)[-1] == "Completed" for run in reporter.flow_runs)


def test_instance_methods_get_their_instance(reporter: MemoryReporter) -> None:
    assert Pipeline(1).run(2) == 21
    assert Pipeline(2).scale.submit(3).result() == 30
    assert Pipeline(0).scale.map([1, 2]).result() == [10, 20]
    assert asyncio.run(Pipeline(0).run_async(5)) == 50


def test_the_bound_instance_is_not_a_reported_parameter(reporter: MemoryReporter) -> None:
    Pipeline(1).run(2)
    Pipeline.build(3)
    assert [run.parameters for run in reporter.flow_runs] == [{"x": 2}, {"x": 3}]


def test_the_function_looked_up_on_the_class_stays_unbound() -> None:
    assert Pipeline.run(Pipeline(5), 1) == 15
    assert Pipeline.__dict__["run"].name == "run"
