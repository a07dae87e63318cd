"""A task run that failed does not fail its flow when its state is taken with
``return_state=True`` and not returned; returned, it would.

Prefect 3 docs, the final flow state snippet (the warning with ``add_one("1")``).
"""

from jupyter_flows import flow, task


@task
def add_one(x):
    return x + 1


@flow
def my_flow():
    state = add_one("1", return_state=True)
    assert state.is_failed()
    return


@flow
def returns_it():
    return add_one("1", return_state=True)


print(my_flow(return_state=True).name)
print(returns_it(return_state=True).name)

# out: Completed
# out: Failed
