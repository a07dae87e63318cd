"""A flow is called like a function: the call is a flow run, and returns the value.

Prefect 3 docs, concepts/flows, "Different ways to create a flow run"; how-to
write-and-run, "Define a workflow". Without a name, the flow is named after its function.
"""

from jupyter_flows import flow


@flow
def greet_the_world() -> str:
    return "Hello, world!"


@flow(name="My Flow")
def named() -> str:
    return "named"


print(greet_the_world())
print(greet_the_world.name)
print(named.name, named())

# out: Hello, world!
# out: greet-the-world
# out: My Flow named
# log: INFO Beginning flow run
# log: INFO Finished in state Completed
