"""A task that returns a Failed state is marked Failed; a flow returning such states fails.
``return_state=True`` gives the state instead of the result.

Prefect 3 docs, concepts/states, "Task return values".
"""

from jupyter_flows import flow, task
from jupyter_flows.states import Completed, Failed


@task
def toggle_task(fail: bool):
    if fail:
        return Failed(message="I was instructed to fail.")
    return Completed(message="I was instructed to succeed.")


@flow
def example():
    state_one = toggle_task(fail=True)
    state_two = toggle_task(fail=False)
    print(state_one.name, state_two.name)
    return state_one, state_two


@task
def add_one(x):
    return x + 1


@flow
def my_flow():
    result = add_one(1)
    state = add_one(1, return_state=True)
    return result, state.is_completed(), state.result()


print(example(return_state=True).name)
print(my_flow())

# out: Failed Completed
# out: Failed
# out: (2, True, 2)
