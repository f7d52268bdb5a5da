"""The seed's micro-batching client (day007 batch_client.py), adapted for
bench/compare.sh: URL, N, model and max_tokens come from arguments, and the
concurrent phase (asyncio.gather of N non-streaming requests, as in the seed)
is repeated until --seconds have passed so its rate can be measured.

Prints the seed's two lines, then one JSON line for the script.
"""
import argparse
import asyncio
import json
import time

import aiohttp


async def one_call(session, url, payload):
    async with session.post(url, json=payload) as r:
        await r.text()


async def run_sequential(url, payload, n):
    async with aiohttp.ClientSession() as s:
        start = time.time()
        for _ in range(n):
            await one_call(s, url, payload)
        return time.time() - start


async def run_concurrent(url, payload, n, seconds):
    async with aiohttp.ClientSession() as s:
        start = time.time()
        rounds = 0
        while True:
            await asyncio.gather(*[one_call(s, url, payload) for _ in range(n)])
            rounds += 1
            if time.time() - start >= seconds:
                return time.time() - start, rounds


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://localhost:8000/v1/completions")
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("--model", default="microsoft/Phi-3-mini-4k-instruct")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=0, help="repeat the concurrent batch for this long")
    a = ap.parse_args()
    payload = {
        "model": a.model,
        "prompt": "Explain memory fragmentation in one short sentence.",
        "max_tokens": a.max_tokens,
    }
    seq = await run_sequential(a.url, payload, a.n)
    conc, rounds = await run_concurrent(a.url, payload, a.n, a.seconds)
    print("sequential_s", seq)
    print("concurrent_s", conc / rounds)
    print(json.dumps({"requests": rounds * a.n, "seconds": conc, "req_per_s": rounds * a.n / conc,
                      "sequential_req_per_s": a.n / seq}))


if __name__ == "__main__":
    asyncio.run(main())
