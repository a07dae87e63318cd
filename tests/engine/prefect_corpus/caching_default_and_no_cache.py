"""``DEFAULT`` (inputs, code and the flow run) caches within one flow run only;
``NO_CACHE`` never caches.

Prefect 3 docs, concepts/caching, "Cache policies" (``DEFAULT``, ``NO_CACHE``).
"""

from jupyter_flows import flow, task
from jupyter_flows.cache_policies import DEFAULT, NO_CACHE

runs = []


@task(cache_policy=DEFAULT)
def scoped(x: int):
    runs.append("scoped")
    return x


@task(cache_policy=NO_CACHE, persist_result=True)
def uncached(x: int):
    runs.append("uncached")
    return x


@flow
def my_flow():
    return scoped(1), scoped(1), uncached(1), uncached(1)


my_flow()
my_flow()
print(runs)

# out: ['scoped', 'uncached', 'uncached', 'scoped', 'uncached', 'uncached']
