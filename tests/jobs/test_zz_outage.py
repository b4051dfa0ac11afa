from tests.jobs.test_processes import *  # noqa
from tests.jobs.test_processes import _pinging, _unique, _done


async def test_outage(api: Jobs, redis_server: RedisProcess, site: Site, processes: Processes) -> None:
    worker, health = await processes.worker("survivor", redis_server.url)
    await processes.ready(worker, health)
    path = _unique("outage")
    record, _ = await api.submit(JobOptions(kind="render"), _pinging(site, path, 1_000))
    await asyncio.to_thread(site.wait_for_hits, path, 1, 30)
    redis_server.kill()
    await asyncio.sleep(4)
    redis_server.start()
    done = await _done(api, record["id"], processes, 40)
    print(done)
    print(processes.log(worker))
    assert done["status"] == "completed", done
    path = _unique("cancel-after-outage")
    record, _ = await api.submit(JobOptions(kind="render"), _pinging(site, path, 20_000))
    await asyncio.to_thread(site.wait_for_hits, path, 1, 30)
    await api.cancel(record["id"])
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 5
        while (await client.get(health)).json()["capacity"]["jobsRunning"]:
            assert time.monotonic() < deadline, "the cancelled job still holds its slot"
            await asyncio.sleep(0.05)
