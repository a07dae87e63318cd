"""Called directly, tasks run one after the other in the caller's thread; no task runner
is involved.

Prefect 3 docs, how-to run-work-concurrently, "Calling tasks directly"; concepts
/task-runners ("Calling a task function directly executes the function in the main
thread").
"""

import threading

from jupyter_flows import flow, task

main = threading.get_ident()


@task
def stop_at_floor(floor: int):
    print(f"elevator moving to floor {floor}", threading.get_ident() == main)


@flow
def elevator():
    for floor in (1, 2, 3):
        stop_at_floor(floor)


elevator()

# out: elevator moving to floor 1 True
# out: elevator moving to floor 2 True
# out: elevator moving to floor 3 True
