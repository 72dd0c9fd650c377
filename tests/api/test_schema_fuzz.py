"""schemathesis against the served OpenAPI: no 5xx, every response matches the schema; and
every JSON body poisoned with what JSON cannot carry is a 422 that says so."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Each operation gets its own examples: a slow one cannot starve the rest. 25 derandomized
# examples per operation and mode, a fixed, repeatable sample (about 2 s an operation here).
# No time budget: on a loaded machine a budget cut the sample short (3 calls, soak run), so
# what was tested depended on the load. Every operation must have been called MIN_CALLS times.
EXAMPLES = 25
MIN_CALLS = 10


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> int | None:
    """Call one operation with its EXAMPLES generated cases; None when the mode has no case
    for it (negative cases of an operation without inputs)."""
    calls = 0

    @given(case=operation.as_strategy(mode, headers=headers))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: keeps the run bounded
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:
        return None
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_fuzz_no_server_errors(
    api_url: str, tokens: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    calls = {op.label: fuzz(op, mode, headers) for op in operations}
    print(mode, calls)
    # Every route of the API was in the schema and exercised.
    assert len(calls) >= 16, calls
    without_inputs = {
        op.label
        for op in operations
        if not op.definition.raw.get("parameters") and "requestBody" not in op.definition.raw
    }
    for label, made in calls.items():
        if made is None:  # only an operation that takes nothing has no invalid input
            assert mode == GenerationMode.NEGATIVE and label in without_inputs, label
        elif label in without_inputs:
            assert made >= 1, (label, made)  # one request is all there is to send
        else:
            assert made >= MIN_CALLS, (label, made)


# What the probe of issue 25 sent: numbers JSON has no room for and strings that are not
# Unicode text, as they go over the wire (Python's json reads every one of them). The last is
# a surrogate written as raw UTF-8 bytes rather than as an escape.
POISONS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b'"\\ud800"',
           b'"clip\\udfff.mov"', b'"\xed\xa0\x80.mov"']  # fmt: skip
SENTINEL = "\x00poison\x00"


def poison(body: Any, at: int, token: bytes) -> bytes:
    """`body` as JSON with one of its values (or a new field, when it has none) replaced by
    `token`, written as it is: json.dumps would refuse or escape it."""
    leaves: list[tuple[Any, Any]] = []
    stack = [body]
    while stack:
        item = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, value in pairs:
            if isinstance(value, dict | list) and value:
                stack.append(value)
            else:
                leaves.append((item, key))
    if leaves:
        parent, key = leaves[at % len(leaves)]
        parent[key] = SENTINEL
    else:
        body["poison"] = SENTINEL
    return json.dumps(body).encode().replace(json.dumps(SENTINEL).encode(), token)


def poisoned_calls(operation: Any, headers: dict[str, str]) -> int:
    """Send the operation's EXAMPLES valid cases, each with one value poisoned; every answer
    must be FastAPI's 422 for malformed JSON, naming what was refused. How many were sent."""
    sent = 0

    @given(
        case=operation.as_strategy(GenerationMode.POSITIVE, headers=headers),
        token=st.sampled_from(POISONS),
        at=st.integers(min_value=0, max_value=100),
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any, token: bytes, at: int) -> None:
        nonlocal sent
        if not isinstance(case.body, dict):  # every body of this API is an object
            return
        case.body = poison(case.body, at, token)
        response = case.call(headers=headers, timeout=30)
        assert response.status_code == 422, (operation.label, token, response.text)
        problem = response.json()["detail"][0]
        assert problem["type"] == "json_invalid", problem
        assert any(w in problem["ctx"]["error"] for w in REFUSALS), problem
        case.validate_response(response, checks=CHECKS)
        sent += 1

    run()
    return sent


REFUSALS = ("is not a JSON number", "surrogate")


@pytest.mark.slow
def test_openapi_fuzz_non_finite_numbers_and_lone_surrogates_are_422(
    api_url: str, tokens: dict[str, str]
) -> None:
    """Issue 25: the 422 handler could not write its own answer to these (a 500)."""
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    with_body = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if "application/json" in op.definition.raw.get("requestBody", {}).get("content", {})
    ]
    sent = {op.label: poisoned_calls(op, headers) for op in with_body}
    print(sent)
    assert len(sent) >= 6, sent  # uploads (start, parts, complete), promotions, preview, documents
    assert all(made >= MIN_CALLS for made in sent.values()), sent
