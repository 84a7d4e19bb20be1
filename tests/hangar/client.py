"""Drive mcp-hangar (HTTP mode) through its MCP endpoint: tool calls via ``hangar_call``.

Runs in the client venv (mcp<2). usage: client.py URL [header=value ...]
Calls (the same as the hangar captures, with a shorter timeout case):
  add(2,3) (cold start) | multiply(4,5) + add(1.5,2.25) in one batch | divide(1,0) (tool
  error) | slow(1.5) with a 0.5 s timeout (hangar-side TimeoutError) | add(10,20)
Prints one JSON line per hangar_call with each call's success flag.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

URL = sys.argv[1]
HEADERS = dict(kv.split("=", 1) for kv in sys.argv[2:])


async def call(session, calls, **kw):
    res = await session.call_tool("hangar_call", {"calls": calls, **kw})
    results = (res.structuredContent or {}).get("results", [])
    print(json.dumps({"tools": [c["tool"] for c in calls],
                      "success": [r.get("success") for r in results],
                      "error_type": [r.get("error_type") for r in results]}), flush=True)


async def main():
    async with streamablehttp_client(URL, headers=HEADERS) as (r, w, _), \
            ClientSession(r, w) as s:
        await s.initialize()
        # a single call first: two concurrent calls to a cold server stall in 1.1.0
        await call(s, [{"mcp_server": "math", "tool": "add", "arguments": {"a": 2, "b": 3}}])
        await call(s, [
            {"mcp_server": "math", "tool": "multiply", "arguments": {"a": 4, "b": 5}},
            {"mcp_server": "math", "tool": "add", "arguments": {"a": 1.5, "b": 2.25}},
        ])
        await call(s, [{"mcp_server": "math", "tool": "divide", "arguments": {"a": 1, "b": 0}}])
        await call(s, [{"mcp_server": "math", "tool": "slow", "arguments": {"seconds": 1.5},
                        "timeout": 0.5}])
        await asyncio.sleep(1.2)  # the stdio server is still busy with slow()
        await call(s, [{"mcp_server": "math", "tool": "add", "arguments": {"a": 10, "b": 20}}])


asyncio.run(main())
