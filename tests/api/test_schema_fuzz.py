"""schemathesis against the served OpenAPI: no 5xx, every response matches the schema."""

from __future__ import annotations

import time
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
BUDGET_S = 45.0


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], deadline: float) -> int:
    """Call one operation with generated cases until max_examples or the deadline."""
    calls = 0

    @given(case=operation.as_strategy(mode, headers=headers))
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: keeps the run bounded
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal calls
        if time.monotonic() > deadline:
            return
        calls += 1
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:  # negative cases of an operation with no inputs cannot exist
        assert mode == GenerationMode.NEGATIVE
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_fuzz_no_server_errors(
    api_url: str, tokens: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    deadline = time.monotonic() + BUDGET_S / 2
    calls = {
        f"{op.method.upper()} {op.path}": fuzz(op, mode, headers, deadline)
        for op in (result.ok() for result in schema.get_all_operations())
    }
    print(mode, calls)
    assert sum(calls.values()) > 50
