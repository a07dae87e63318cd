"""``.map()`` submits one task run per item, on the flow's task runner; ``unmapped``
passes an argument whole to every run.

Prefect 3 docs, how-to run-work-concurrently, "Using .map"; concepts/task-runners.
"""

from jupyter_flows import flow, task, unmapped
from jupyter_flows.futures import wait


@task
def stop_at_floor(floor: int, building: str) -> str:
    return f"{building}:{floor}"


@flow
def elevator():
    floors = stop_at_floor.map(list(range(3, 0, -1)), unmapped("tower"))
    wait(floors)
    return [future.result() for future in floors]


print(elevator())

# out: ['tower:3', 'tower:2', 'tower:1']
