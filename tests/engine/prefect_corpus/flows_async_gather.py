"""Async tasks run concurrently with ``asyncio.gather`` inside an async flow, started with
``asyncio.run``.

Prefect 3 docs, how-to run-work-concurrently, "Using asyncio"; concepts/flows, "Supported
function types" (asynchronous functions).
"""

import asyncio

from jupyter_flows import flow, task


@task
async def stop_at_floor(floor: int) -> int:
    print(f"elevator moving to floor {floor}")
    await asyncio.sleep(floor / 10)
    print(f"elevator stops on floor {floor}")
    return floor


@flow
async def elevator() -> list:
    floors = [3, 2, 1]
    return await asyncio.gather(*[stop_at_floor(floor) for floor in floors])


print(asyncio.run(elevator()))

# out: elevator moving to floor 3
# out: elevator moving to floor 2
# out: elevator moving to floor 1
# out: elevator stops on floor 1
# out: elevator stops on floor 2
# out: elevator stops on floor 3
# out: [3, 2, 1]
