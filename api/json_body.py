"""Request bodies are strict JSON, and what the API echoes back is always JSON.

Python's json module reads `NaN`, `Infinity` and `1e400` (as inf) although RFC 8259 has no
such numbers, and `"\\ud800"` as a lone surrogate although a JSON string is Unicode text.
None of them can be stored (Postgres, Prefect's parameters), and a 422 that quotes one
cannot be written out at all: the probe of issue 25 got a 500 from the error handler itself.
So routes with a body read it through `StrictJsonRoute`, which refuses them as FastAPI
refuses any malformed JSON (422, `json_invalid`, the reason in `ctx.error`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def unrepresentable(value: Any) -> str | None:
    """What in a parsed body JSON cannot carry, and where ("body.size_bytes: Infinity"), or
    None. Walked without recursion: a body nested as deep as json allows is still answered."""
    stack: list[tuple[str, Any]] = [("body", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return f"{where}: {_name(item)} is not a JSON number (or it is beyond a double's range)"
        if isinstance(item, str) and _has_surrogate(item):
            return f"{where}: a lone UTF-16 surrogate is not Unicode text"
        if isinstance(item, dict):
            for key, child in item.items():
                if _has_surrogate(key):
                    return f"{where}: a key holds a lone UTF-16 surrogate, not Unicode text"
                stack.append((f"{where}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{index}]", child) for index, child in enumerate(item))
    return None


def _name(number: float) -> str:
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float named as a string and every lone surrogate
    escaped (`\\ud800`): an error answer that quotes the caller's input can always be sent."""
    if isinstance(value, float) and not math.isfinite(value):
        return _name(value)
    if isinstance(value, str) and _has_surrogate(value):
        return value.encode("utf-8", "backslashreplace").decode()
    if isinstance(value, dict):
        return {json_safe(key): json_safe(child) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(child) for child in value]
    return value


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            parsed = json.loads(body)
            if problem := unrepresentable(parsed):
                # FastAPI answers a JSONDecodeError with its own 422; the position is the
                # body's start, the path to the value is in the message.
                raise json.JSONDecodeError(problem, body.decode("utf-8", "replace"), 0)
            self._json = parsed
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is read by `StrictJsonRequest`: `APIRouter(route_class=...)`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
