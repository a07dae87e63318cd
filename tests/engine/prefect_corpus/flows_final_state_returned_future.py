"""A flow that returns a future ends in the state of what the future ran: here the task
that succeeds, so the flow completes though another task failed.

Prefect 3 docs, concepts/flows, "Final state determination" / "Return a future".
"""

from jupyter_flows import flow, task


@task
def always_fails_task():
    raise ValueError("I fail successfully")


@task
def always_succeeds_task():
    print("I'm fail safe!")
    return "success"


@flow
def always_succeeds_flow():
    x = always_fails_task.submit().result(raise_on_failure=False)
    y = always_succeeds_task.submit(wait_for=[x])
    return y


state = always_succeeds_flow(return_state=True)
print(state.name, state.result())

# out: I'm fail safe!
# out: Completed success
