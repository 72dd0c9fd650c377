"""What the operator code raises: the local stack, the edge runner, bootstrap's deploy step
and the demo. Defined here, not in dailies.errors: the library knows nothing of the stack
that runs it. They stay DailiesErrors, so the CLI reports them as it reports the library's
(one line and a non-zero exit, no traceback)."""

from __future__ import annotations

from pathlib import Path

from dailies.errors import DailiesError


class StackError(DailiesError):
    """The stack cannot start here; the message says what to do."""


class ImageNotConfigured(StackError):
    """A container environment builds and pushes an image: it needs a repository to push to."""

    def __init__(self, deploy_env: str) -> None:
        super().__init__(
            f"DAILIES_DEPLOY_ENV={deploy_env} builds and pushes the worker image: set "
            "DAILIES_IMAGE to its repository, registry included (e.g. ghcr.io/acme/dailies)"
        )


class EdgeError(DailiesError):
    """The edge cache cannot start."""


class NginxMissing(EdgeError):
    def __init__(self) -> None:
        super().__init__(
            "nginx not found (looked at /usr/sbin/nginx and on PATH); "
            "install it with `apt-get install nginx-light` (Debian/Ubuntu)"
        )


class PlayerIncomplete(EdgeError):
    def __init__(self, missing: Path) -> None:
        super().__init__(
            f"the player's {missing.name} is missing ({missing}): reviewers would get a page "
            "that cannot play; run `make sync` (or `bash scripts/vendor-hlsjs.sh`) here"
        )


class EdgeConfigInvalid(EdgeError):
    def __init__(self, config: Path, output: str) -> None:
        super().__init__(f"nginx -t rejected {config}:\n{output.strip()}")


class DemoFailure(DailiesError):
    """A stage of the demo did not succeed; the message says which and why."""
