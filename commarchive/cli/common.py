"""What every command module shares: the context object, the user-error wrapper, and
the options and output helpers of the audited (privacy and legal) commands.

Command modules import this module and never each other, and none imports the
group in ``commarchive.cli``: the group imports them.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from pydantic import ValidationError

import keys
from archive.errors import ArchiveError, InvalidRequest
from archive.service import Archive
from commarchive import runtime
from commarchive.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class Ctx:
    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir

    def settings(self, **overrides: Any) -> Settings:
        if self.data_dir is not None:
            overrides["data_dir"] = self.data_dir
        return Settings(**overrides)

    @contextmanager
    def archive(self, **overrides: Any) -> Iterator[Archive]:
        arc = runtime.open_archive(self.settings(**overrides))
        try:
            yield arc
        finally:
            arc.close()


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into one clear line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            _fail(f"invalid settings{f' ({where})' if where else ''}: {first.get('msg')}")
        except (ArchiveError, keys.KeysError, ValueError, OSError) as exc:
            _fail(str(exc))
        raise AssertionError("unreachable")

    return wrapper


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


pass_ctx = click.make_pass_decorator(Ctx)


def now_option(value: str | None) -> datetime | None:
    """An ISO-8601 time from the command line; a time without offset is taken as UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when_option(value: str | None) -> datetime | None:
    """Like :func:`now_option`, but a malformed time is a user error, not a traceback."""
    try:
        return now_option(value)
    except ValueError:
        raise InvalidRequest(f"not an ISO-8601 time: {value!r}") from None


def actor_option(fn: F) -> F:
    return click.option("--actor", envvar="COMMARCHIVE_ACTOR", default="cli", show_default=True,
                        help="Who is acting (recorded in the audit log).")(fn)


def also_option(fn: F) -> F:
    return click.option("--also", "also", multiple=True, metavar="IDENTIFIER",
                        help="Further identifiers of the same person (repeatable).")(fn)


def request_option(fn: F) -> F:
    return click.option("--request", "request_id", type=int, default=None,
                        help="Data-subject request number this answers.")(fn)


def echo_json(value: Any) -> None:
    """Print one JSON document, indented, for the audited commands' results."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))
