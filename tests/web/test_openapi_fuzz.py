"""schemathesis against the OpenAPI document `serve` publishes: no 5xx, no answer off-schema."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import Served, create_token

CALLS: list[str] = []  # operations called: the fuzz must reach every one
OPERATIONS: set[str] = set()  # every operation the document names
MAX_EXAMPLES = 20  # per operation: bounded, so the whole fuzz takes some seconds
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(url: str, token: str) -> dict[str, str]:
    """Every operation with generated requests; the first failure of each, by operation."""
    # A loaded machine builds the document slowly the first time: not a failure of the API.
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json", timeout=60)
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # Err raises: the document is ours
        OPERATIONS.add(operation.label)

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        def check(case: schemathesis.Case[Any]) -> None:
            CALLS.append(case.operation.label)
            case.call_and_validate(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
            )

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a library's deprecations are not our failure
                check()
        except Exception as failure:
            failures[operation.label] = str(failure)[:2000]
    return failures


@pytest.mark.timeout(300)
async def test_openapi__fuzzed_requests__no_server_error_no_schema_violation(
    served: Served, cli_env: dict[str, str]
) -> None:
    token = await create_token(cli_env, "admin", "fuzz")
    failures = await asyncio.to_thread(fuzz, served.url, token)
    assert failures == {}
    assert len(OPERATIONS) >= 27, sorted(OPERATIONS)
    assert set(CALLS) == OPERATIONS, sorted(OPERATIONS - set(CALLS))
