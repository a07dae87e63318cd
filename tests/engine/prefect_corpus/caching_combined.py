"""Cache policies add up: ``INPUTS + TASK_SOURCE`` reuses a result only for the same
inputs *and* the same code; keys can be shared by different tasks with one policy.

Prefect 3 docs, how-to cache-workflow-steps, "Cache on multiple criteria"; concepts
/caching, "Cache keys" and "Cache policies".
"""

from jupyter_flows import task
from jupyter_flows.cache_policies import INPUTS, TASK_SOURCE


@task(cache_policy=INPUTS + TASK_SOURCE)
def my_task(x: int):
    print("running my_task")
    return x + 1


@task(cache_policy=INPUTS + TASK_SOURCE)
def another_task(x: int):
    print("running another_task")
    return x + 100


@task(cache_policy=INPUTS)
def shares_by_inputs(x: int):
    return "first"


@task(cache_policy=INPUTS)
def also_by_inputs(x: int):
    return "second"


print(my_task(1), my_task(1), another_task(1))
print(shares_by_inputs(7), also_by_inputs(7))

# out: running my_task
# out: running another_task
# out: 2 2 101
# out: first first
