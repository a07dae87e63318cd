"""A ``cache_key_fn(context, parameters)`` computes the key itself; a constant key makes
every call share one cached result.

Prefect 3 docs, concepts/caching, "Cache key functions".
"""

from jupyter_flows import task


def static_cache_key(context, parameters):
    return "static cache key"


@task(cache_key_fn=static_cache_key)
def my_cached_task(x: int):
    return x + 1


print(my_cached_task(1), my_cached_task(41))

# out: 2 2
