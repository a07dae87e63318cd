"""``cache_expiration`` bounds how long a cached result is used.

Prefect 3 docs, how-to cache-workflow-steps, "Cache with an expiration".
"""

import time
from datetime import timedelta

from jupyter_flows import task
from jupyter_flows.cache_policies import INPUTS


@task(cache_policy=INPUTS, cache_expiration=timedelta(seconds=0.5))
def my_stateful_task(x: int):
    print("sleeping")
    return x + 1


my_stateful_task(x=1)
my_stateful_task(x=1)
time.sleep(0.7)
my_stateful_task(x=1)

# out: sleeping
# out: sleeping
