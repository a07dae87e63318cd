"""``.submit()`` returns a future at once; ``.result()`` waits for the value and
``.wait()`` (or ``wait()`` of many) for the end.

Prefect 3 docs, concepts/tasks, "Submitting a task"; how-to run-work-concurrently,
"Handling futures".
"""

from jupyter_flows import flow, task
from jupyter_flows.futures import wait


@task
def cool_task():
    return "sup"


@task
def add_integers(a: int, b: int) -> int:
    return a + b


@flow
def my_workflow():
    future = add_integers.submit(1, 2)
    print(future.result())
    single = cool_task.submit()
    single.wait()
    print(single.state.name)
    futures = [cool_task.submit() for _ in range(10)]
    done, not_done = wait(futures)
    print(len(done), len(not_done))


my_workflow()

# out: 3
# out: Completed
# out: 10 0
