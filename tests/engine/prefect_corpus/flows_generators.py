"""A generator flow yields its values as it runs; a generator a flow *returns* is consumed
into a list, because a flow's result must be serializable.

Prefect 3 docs, how-to write-and-run, "Define a workflow"; concepts/flows, "Supported
function types" (the warning on generators).
"""

from jupyter_flows import flow


@flow
def counting():
    yield from range(3)


for value in counting():
    print(value)


def gen():
    yield from [1, 2, 3]
    print("Generator consumed!")


@flow
def returns_a_generator():
    return gen()


print(returns_a_generator())


@flow
def yields_a_generator():
    yield gen()


generator = next(yields_a_generator())
print(list(generator))

# out: 0
# out: 1
# out: 2
# out: Generator consumed!
# out: [1, 2, 3]
# out: Generator consumed!
# out: [1, 2, 3]
