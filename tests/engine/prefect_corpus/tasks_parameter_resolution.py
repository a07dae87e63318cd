"""Futures nested inside a task's arguments (here a dataclass field) are resolved before
the task runs.

Prefect 3 docs, concepts/tasks, "Parameter resolution".
"""

from dataclasses import dataclass

from jupyter_flows import flow, task

init_count = 0


@dataclass
class Pipeline:
    base_rate: float
    adjusted_rate: float = None

    def __post_init__(self):
        global init_count
        init_count += 1
        if self.adjusted_rate is None:
            self.adjusted_rate = self.base_rate * 1.5


@task
def get_rate() -> float:
    return 100.0


@task
def run_pipeline(pipeline: Pipeline):
    print(f"init_count inside task = {init_count}")
    print(f"adjusted_rate = {pipeline.adjusted_rate}")


@flow
def my_flow():
    rate_future = get_rate.submit()
    pipeline = Pipeline(base_rate=42.0, adjusted_rate=rate_future)
    print(f"init_count before task = {init_count}")
    run_pipeline(pipeline)


my_flow()

# differs: Prefect rebuilds the dataclass with dataclasses.replace(), which runs
# differs: __init__ and __post_init__ again (its docs show init_count 2 inside the task and
# differs: call that a pitfall); this engine copies it and sets the resolved field, so
# differs: __post_init__ runs once. The resolved value is the same.
# out: init_count before task = 1
# out: init_count inside task = 1
# out: adjusted_rate = 100.0
