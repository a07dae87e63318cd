"""``INPUTS - 'debug'`` leaves a parameter out of the cache key.

Prefect 3 docs, how-to cache-workflow-steps, "Cache based on a subset of inputs";
concepts/caching, "Cache policies".
"""

from jupyter_flows import task
from jupyter_flows.cache_policies import INPUTS


@task(cache_policy=INPUTS - "debug")
def my_stateful_task(x: int, debug: bool = False):
    print("sleeping")
    return x + 1


print(my_stateful_task(x=1))
print(my_stateful_task(x=1, debug=True))
print(my_stateful_task(x=1, debug=False))

# out: sleeping
# out: 2
# out: 2
# out: 2
