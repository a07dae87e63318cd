"""``log_prints=True`` turns a flow's ``print`` calls into INFO log lines of the run.

Prefect 3 docs, concepts/flows (the opening example) and how-to add-logging, "Log with
print statements".
"""

from jupyter_flows import flow


@flow(log_prints=True)
def explain() -> None:
    print("any python code runs here")
    print("and every print is a log line")


explain()
print("outside the flow, print prints")

# out: outside the flow, print prints
# log: INFO any python code runs here
# log: INFO and every print is a log line
