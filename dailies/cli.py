"""The `dailies` command line."""

from __future__ import annotations

import json
from typing import Any

import typer

app = typer.Typer(help="dailies: masters in, previews out.", no_args_is_help=True)


def _print(result: Any) -> None:
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command()
def bootstrap() -> None:
    """Create buckets (masters with Object Lock + versioning) and run migrations. Idempotent."""
    from dailies.bootstrap import bootstrap as run_bootstrap
    from dailies.settings import get_settings

    _print(run_bootstrap(get_settings()))


@app.command()
def promote(
    staging_key: str = typer.Argument(..., help="key in the staging bucket, under uploads/"),
    sha256: str = typer.Argument(..., help="the master's sha256 (64 hex characters)"),
    asset_id: str | None = typer.Option(None, help="link this asset id to the master"),
) -> None:
    """Run the promotion flow now and print its result."""
    from flows.promote import promote_master

    asset = {"asset_id": asset_id} if asset_id else None
    try:
        result = promote_master(staging_key, sha256, asset)
    except Exception as exc:  # the flow run already recorded why; say it plainly
        typer.secho(f"promotion failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    _print(result)


if __name__ == "__main__":
    app()
