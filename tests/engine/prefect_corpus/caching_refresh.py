"""``refresh_cache=True`` runs the task every time, whatever its cache policy.

Prefect 3 docs, how-to cache-workflow-steps, "Ignore the cache".
"""

import itertools

from jupyter_flows import task
from jupyter_flows.cache_policies import TASK_SOURCE

counter = itertools.count()


@task(cache_policy=TASK_SOURCE, refresh_cache=True)
def never_caching_task():
    return next(counter)


@task(cache_policy=TASK_SOURCE)
def caching_task():
    return next(counter)


print(never_caching_task(), never_caching_task())
print(caching_task(), caching_task())

# out: 0 1
# out: 2 2
