"""A flow that returns a state it made ends in that state, with its message; any other
return value completes the run.

Prefect 3 docs, concepts/flows, "Return a manual state".
"""

from jupyter_flows import flow, task
from jupyter_flows.states import Completed, Failed


@task
def always_fails_task():
    raise ValueError("I fail successfully")


@task
def always_succeeds_task():
    return "success"


@flow
def always_succeeds_flow():
    always_fails_task.submit()
    y = always_succeeds_task.submit()
    if y.result() == "success":
        return Completed(message="I am happy with this result")
    return Failed(message="How did this happen!?")


state = always_succeeds_flow(return_state=True)
print(state.name, state.message)

# out: Completed I am happy with this result
