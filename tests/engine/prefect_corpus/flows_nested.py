"""Flows call tasks and other flows; a nested flow's run is a child of its parent's and
gets futures it is passed as data.

Prefect 3 docs, how-to write-and-run, "Create tasks and child workflows"; concepts/flows,
"Considerations when nesting flows".
"""

from jupyter_flows import flow, task


@task
def generate_a_number() -> int:
    return 42


@flow
def is_number_even(number: int) -> bool:
    return number % 2 == 0


@flow
def describe(number: int) -> str:
    return f"got {number!r} as {type(number).__name__}"


@flow
def even_or_odd() -> str:
    number = generate_a_number()
    if is_number_even(number):
        print("The number is even")
    else:
        print("The number is odd")
    return describe(generate_a_number.submit())


print(even_or_odd())

# out: The number is even
# out: got 42 as int
# log: INFO Beginning flow run
