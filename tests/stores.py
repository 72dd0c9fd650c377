"""The two S3 stores the storage-facing tests run on: moto (the session's) and a throw-away
Ceph RGW, a real S3 implementation (tests/conftest.py `store`). What each enforces is in
tests/README.md, "Two stores"."""

from __future__ import annotations

import pytest

STORES = ["moto", pytest.param("rgw", marks=pytest.mark.rgw)]
# On a test: run it once per store; its `settings` and `s3` fixtures follow the store.
both_stores = pytest.mark.parametrize("store", STORES, indirect=True)
