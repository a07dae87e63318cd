"""``retries`` reruns a flow whose code raised; ``retry_delay_seconds`` waits between.

Prefect 3 docs, how-to retries, "Set the number of retries" and "Wait between retries".
"""

from jupyter_flows import flow

attempts = []


@flow(retries=3, retry_delay_seconds=0.01)
def troublesome_workflow():
    attempts.append(len(attempts) + 1)
    raise Exception("oopsie daisy")


state = troublesome_workflow(return_state=True)
print(attempts, state.name, state.message)

# out: [1, 2, 3, 4] Failed Exception: oopsie daisy
# log: WARNING Flow run attempt 1 failed: Exception: oopsie daisy
