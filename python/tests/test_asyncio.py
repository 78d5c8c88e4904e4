"""The asyncio API: await send, async for over messages, async listeners."""

from __future__ import annotations

import asyncio

import qmq
from conftest import APP


def test_await_send_and_async_for(server, subject):
    async def main() -> None:
        async with qmq.aio.Producer(server.meta_url, APP) as producer, qmq.aio.Consumer(
            server.meta_url, APP
        ) as consumer:
            receipt = await producer.send(qmq.Message(subject, {"body": "first"}))
            assert isinstance(receipt, qmq.SendReceipt)
            batch = await producer.send_batch([qmq.Message(subject, {"body": "b"})] * 10)
            assert len(batch) == 10

            seen: set = set()

            async def consume() -> None:
                async for msg in consumer.messages(subject, "g", batch=16, poll=0.2):
                    seen.add(msg.message_id)
                    msg.ack()

            task = asyncio.ensure_future(consume())
            # A new group may start at the log's end: send until the consumer gets one.
            for _ in range(100):
                if seen:
                    break
                await producer.send(qmq.Message(subject, {"warmup": "1"}))
                await asyncio.sleep(0.2)
            receipts = await asyncio.gather(
                *(producer.send(qmq.Message(subject, {"body": str(i)})) for i in range(50))
            )
            wanted = {r.message_id for r in receipts}
            assert len(wanted) == 50
            for _ in range(300):
                if wanted <= seen:
                    break
                await asyncio.sleep(0.1)
            assert wanted <= seen
            task.cancel()  # leaving the async for closes its pull consumer
            try:
                await task
            except asyncio.CancelledError:
                pass

    asyncio.run(main())


def test_async_send_error_on_closed_producer(server, subject):
    async def main() -> None:
        producer = qmq.aio.Producer(server.meta_url, APP)
        await producer.close()
        try:
            await producer.send(qmq.Message(subject))
        except qmq.ClosedError:
            return
        raise AssertionError("expected ClosedError")

    asyncio.run(main())


def test_async_listener_runs_coroutines_on_the_loop(server, subject):
    async def main() -> None:
        async with qmq.aio.Producer(server.meta_url, APP) as producer, qmq.aio.Consumer(
            server.meta_url, APP
        ) as consumer:
            loop = asyncio.get_running_loop()
            seen = asyncio.Queue()

            @consumer.subscribe(subject, group="g")
            async def handle(msg: qmq.ReceivedMessage) -> None:
                assert asyncio.get_running_loop() is loop
                await seen.put(msg.get("body"))

            for _ in range(60):
                await producer.send(qmq.Message(subject, {"body": "hi"}))
                try:
                    assert await asyncio.wait_for(seen.get(), 0.5) == "hi"
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise AssertionError("the async handler never ran")

    asyncio.run(main())
