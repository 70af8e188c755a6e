"""Synthetic production logs for benchmarks: N records of about 1.6 KB, tool-calling heavy, ~10% duplicates."""

from __future__ import annotations

import json
import random
import sys

TOOLS = ["lookup_order_status", "start_return", "product_qa", "track_shipment", "update_shipping_address", "escalate_to_human"]
TOOL_SPECS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": name.replace("_", " "),
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "description": "Order number"}, "note": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
    for name in TOOLS
]
SYSTEM = (
    "You are the routing assistant of an online hardware store. Read the customer's message and call exactly one "
    "tool that handles it. Never answer questions yourself when a tool can."
)


def record(i: int, rng: random.Random) -> dict:
    tool = rng.choice(TOOLS)
    query = f"Hi, about order {rng.randint(10**6, 10**7)} ({i}): " + " ".join(
        rng.choice(["please", "check", "my", "package", "return", "broken", "late", "address", "help", "thanks"]) for _ in range(8)
    )
    tool_calls = [{"id": f"call_{i}", "type": "function", "function": {"name": tool, "arguments": json.dumps({"order_id": str(i), "note": query[:40]})}}]
    return {
        "timestamp": 1_780_000_000 + i,
        "workload_id": "bench_router" if i % 10 else "bench_chat",
        "client_id": "bench",
        "request": {"model": "meta/llama-3.3-70b-instruct", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": query}], "tools": TOOL_SPECS[:3], "temperature": 0.2},
        "response": {"id": f"chatcmpl-{i}", "object": "chat.completion", "created": 1_780_000_000 + i, "model": "meta/llama-3.3-70b-instruct",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": tool_calls}, "finish_reason": "tool_calls"}],
                     "usage": {"prompt_tokens": 412, "completion_tokens": 31, "total_tokens": 443}},
    }


def write(path: str, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    lines: list[str] = []
    with open(path, "w") as fh:
        for i in range(n):
            if lines and rng.random() < 0.10:
                fh.write(rng.choice(lines[-1000:]))  # an exact duplicate of a recent line
                continue
            line = json.dumps(record(i, rng), separators=(",", ":")) + "\n"
            lines.append(line)
            fh.write(line)


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]))
