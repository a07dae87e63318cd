"""A task's ``timeout_seconds``: past it the task run is TimedOut, which counts as failed.

Prefect 3 docs, how-to write-and-run, "Task configuration" (``timeout_seconds``: "If the
task exceeds this runtime, it will be marked as failed"); concepts/states, the table.
"""

import time

from jupyter_flows import flow, task


@task(timeout_seconds=0.2)
def slow():
    time.sleep(2)
    print("never printed")


@flow
def my_flow():
    state = slow(return_state=True)
    return state.name, state.is_failed(), type(state.exception).__name__


print(my_flow())

# out: ('TimedOut', True, 'TaskRunTimeoutError')
# log: ERROR exceeded its timeout of 0.2 seconds
