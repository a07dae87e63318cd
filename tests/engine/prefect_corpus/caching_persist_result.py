"""``persist_result=True`` caches a task: the same inputs in the same flow run are read
from the cache (the run ends Cached) instead of running again.

Prefect 3 docs, how-to cache-workflow-steps (the first example and its output).
"""

from jupyter_flows import flow, task


@task(persist_result=True)
def add_one(x: int):
    print(f"computing {x} + 1")
    return x + 1


@flow
def my_flow():
    return [add_one(1), add_one(1), add_one(2)]


print(my_flow())

# out: computing 1 + 1
# out: computing 2 + 1
# out: [2, 2, 3]
# log: INFO Finished in state Cached
