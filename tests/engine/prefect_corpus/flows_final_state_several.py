"""A flow that returns several states fails when any of them is not completed.

Prefect 3 docs, concepts/flows, "Return multiple states or futures"; the final state
snippet: "If a flow returns an iterable of states, the presence of any FAILED state will
cause the run to be marked as FAILED."
"""

from jupyter_flows import flow, task


@task
def always_fails_task():
    raise ValueError("I am bad task")


@task
def always_succeeds_task():
    return "foo"


@flow
def always_succeeds_flow():
    return "bar"


@flow
def always_fails_flow():
    x = always_fails_task(return_state=True)
    y = always_succeeds_task(return_state=True)
    z = always_succeeds_flow(return_state=True)
    return x, y, z


state = always_fails_flow(return_state=True)
print(state.name, state.message)

# out: Failed 1/3 states failed.
