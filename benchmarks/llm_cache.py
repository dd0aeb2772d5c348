"""The response cache's overhead per call (issue 16): key computation, lookup (miss and hit) and store, on a
conversation of about 6k tokens (24,000 characters at ~4 characters per token: a system prompt, 20 turns of
user, assistant with tool calls, and tool results, two tool schemas), against a cache directory on the disk
that holds this file's temporary directory (``--dir`` to measure another).

Usage: python benchmarks/llm_cache.py [--calls 300] [--tokens 6000] [--dir DIR]
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_amb.llm.cache import CacheMode, CacheRequest, ResponseCache, cache_key

WORDS = ("the table shows which rows were updated after the query ran and how many of them matched the "
         "condition on the date column while the agent checked every value twice before answering").split()  # fmt: skip
TOOLS = [
    {"type": "function", "function": {"name": "execute_sql", "description": "Run one SQL statement.",
     "parameters": {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}}},
    {"type": "function", "function": {"name": "commit_final_answer", "description": "Give the final answer.",
     "parameters": {"type": "object", "properties": {"answers": {"type": "array", "items": {"type": "string"}}},
                    "required": ["answers"]}}},
]  # fmt: skip


def text(rng: random.Random, characters: int) -> str:
    words, length = [], 0
    while length < characters:
        words.append(rng.choice(WORDS))
        length += len(words[-1]) + 1
    return " ".join(words)


def conversation(tokens: int, seed: int = 0) -> list[dict]:
    rng, budget = random.Random(seed), tokens * 4
    messages = [{"role": "system", "content": text(rng, budget // 8)}]
    turns = 20
    per_turn = (budget - len(messages[0]["content"])) // turns
    for turn in range(turns):
        messages.append({"role": "user", "content": text(rng, per_turn // 3)})
        call = {"id": f"call_{turn}", "type": "function",
                "function": {"name": "execute_sql", "arguments": json.dumps({"sql": text(rng, 60)})}}  # fmt: skip
        messages.append({"role": "assistant", "content": text(rng, per_turn // 3), "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"call_{turn}", "content": text(rng, per_turn // 3 - 80)})
    return messages


def answer(n: int) -> dict:
    return {
        "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "The answer is 42 rows, updated on 2024-05-01."}}],
        "usage": {"prompt_tokens": 6000, "completion_tokens": 14, "total_tokens": 6014},
    }  # fmt: skip


def timed(function, count: int) -> list[float]:
    seconds = []
    for n in range(count):
        started = time.perf_counter()
        function(n)
        seconds.append(time.perf_counter() - started)
    return seconds


def line(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    return f"  {name:<38} median {statistics.median(ms):7.3f} ms   p90 {p90:7.3f} ms   max {ms[-1]:7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=6000)
    parser.add_argument(
        "--dir", type=Path, default=None, help="a cache directory to measure (default: a temporary one)"
    )
    options = parser.parse_args()

    messages = conversation(options.tokens)
    characters = sum(len(m["content"]) + len(json.dumps(m.get("tool_calls", ""))) for m in messages)
    params = {"temperature": 0.0, "max_tokens": 512, "seed": 7}

    def request(n: int) -> CacheRequest:
        return CacheRequest("http://127.0.0.1:8000/v1", "gpt-4o-mini", messages, TOOLS, "auto", params,
                            {"X-AMB-Purpose": "agent"}, repeat=n)  # fmt: skip

    with tempfile.TemporaryDirectory(dir=options.dir) as directory:
        store = ResponseCache(directory, CacheMode.READWRITE)
        key = timed(lambda n: cache_key(request(n)), options.calls)
        miss = timed(lambda n: store.lookup(request(n), "agent"), options.calls)
        stored = timed(lambda n: store.store(request(n), answer(n), "agent"), options.calls)
        hit = timed(lambda n: store.lookup(request(n), "agent"), options.calls)
        assert store.counters.get("agent", "hits") == options.calls  # every stored answer was served
        size = store.path(cache_key(request(0))).stat().st_size

    print(f"{options.calls} calls, {len(messages)} messages, {characters} characters of text "
          f"(~{characters // 4} tokens), entry {size / 1024:.1f} KiB, cache in {options.dir or tempfile.gettempdir()}")  # fmt: skip
    print(line("key (canonical JSON + SHA-256)", key))
    print(line("lookup, miss (key + open)", miss))
    print(line("store (key + write + fsync + rename)", stored))
    print(line("lookup, hit (key + read + checks)", hit))
    miss_total = statistics.median(miss) + statistics.median(stored)
    print(f"  per call: a miss in readwrite mode costs {miss_total * 1000:.3f} ms (lookup + store), "
          f"a hit {statistics.median(hit) * 1000:.3f} ms instead of a request")  # fmt: skip


if __name__ == "__main__":
    main()
