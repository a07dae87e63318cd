"""``cache_policy=INPUTS`` keys the cache on the inputs alone: a call with inputs seen
before is not run again, in or out of a flow.

Prefect 3 docs, how-to cache-workflow-steps, "Cache based on inputs"; concepts/caching.
"""

from jupyter_flows import task
from jupyter_flows.cache_policies import INPUTS


@task(cache_policy=INPUTS)
def my_stateful_task(x: int):
    print("sleeping")
    return x + 1


print(my_stateful_task(x=1))
print(my_stateful_task(x=1))
print(my_stateful_task(x=2))

# out: sleeping
# out: 2
# out: 2
# out: sleeping
# out: 3
