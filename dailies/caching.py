"""Prefect cache policies keyed on content, serialised by lease locks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext

from dailies.locking import lock_manager
from dailies.settings import get_settings


@dataclass
class ContentKey(CachePolicy):
    """Cache key = a namespace + the sha256 of the task's `request` input: not the task's
    inputs or source, so the same bytes reached from another staging key, another encoder
    choice or edited code share one cached result. Bump the namespace to invalidate."""

    namespace: str = "dailies"

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        sha256 = getattr(inputs.get("request"), "sha256", None)
        return f"{self.namespace}-{sha256}" if isinstance(sha256, str) else None


def content_cache_policy(namespace: str) -> CachePolicy:
    """SERIALIZABLE with a lease lock (Redis when configured): concurrent runs for one sha
    wait for the first and read its result; a killed worker's lock lapses."""
    return ContentKey(namespace=namespace).configure(
        isolation_level="SERIALIZABLE", lock_manager=lock_manager(get_settings())
    )
