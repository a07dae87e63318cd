"""``.submit()`` runs tasks concurrently on the flow's task runner, a thread pool by default;
``wait()`` waits for all of them.

Prefect 3 docs, how-to run-work-concurrently, "Using .submit"; concepts/task-runners.
"""

import threading
import time

from jupyter_flows import flow, get_run_context, task
from jupyter_flows.futures import wait

visited = []
running_at_once = set()


@task
def stop_at_floor(floor: int):
    running_at_once.add(threading.get_ident())
    time.sleep(floor / 50)
    visited.append(floor)


@flow
def elevator():
    floors = [stop_at_floor.submit(floor) for floor in range(5, 0, -1)]
    wait(floors)
    return type(get_run_context().task_runner).__name__


print(elevator())
print(sorted(visited), len(running_at_once) > 1)

# out: ThreadPoolTaskRunner
# out: [1, 2, 3, 4, 5] True
