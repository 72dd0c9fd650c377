"""schemathesis against the served OpenAPI: no 5xx, every response matches the schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
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
