"""Opening what a command-line path names, with errors that name the path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..convenience import open as open_node
from ..storage import normalize_store_arg
from ..storage.base import Store
from ..storage.n5 import N5Layout
from .options import UsageError, split_store_path


class CommandError(Exception):
    """An error that stops a command, with the path it concerns (exit code 2)."""

    def __init__(self, where: str, error: BaseException | str) -> None:
        self.where = where
        self.error = error
        super().__init__(f"{where}: {describe(error)}")


def describe(error: BaseException | str) -> str:
    """A one-line description of ``error``; foreign exception types are named."""
    if isinstance(error, str):
        text = error
    else:
        text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        if not type(error).__module__.startswith(("zarrkit", "builtins")) or not text:
            text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return " ".join(text.split())


@contextmanager
def about(where: str) -> Iterator[None]:
    """Errors inside become :class:`CommandError` naming ``where``."""
    try:
        yield
    except (CommandError, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as e:
        raise CommandError(where, e) from e


def is_url(text: str) -> bool:
    return "://" in text or "::" in text


def options_for(text: str, storage_options: dict | None) -> dict | None:
    """The storage options for one path of a command with two (local paths take none)."""
    return storage_options if is_url(split_store_path(text)[0]) else None


def open_store(
    text: str, mode: str, storage_options: dict | None, must_exist: bool = True
) -> tuple[Store, str]:
    """``(store, path inside it)`` for a command-line path or URL."""
    store_arg, inner = split_store_path(text)
    if not is_url(store_arg):
        if storage_options:
            raise CommandError(text, "--storage-option is only for URLs (s3://..., gs://...)")
        if must_exist and not os.path.exists(store_arg):
            raise CommandError(text, "no such file or directory")
    with about(text):
        return normalize_store_arg(store_arg, mode=mode, storage_options=storage_options), inner


def open_data(text: str, storage_options: dict | None) -> tuple[Store, Any]:
    """The store and the array or group at ``text`` (read-only)."""
    store, inner = open_store(text, "r", storage_options)
    with about(text):
        return store, open_node(store, mode="r", path=inner)


def close(store: Any) -> None:
    """Close a store the command opened (flushes a Zip archive)."""
    closer = getattr(store, "close", None)
    if closer is not None:
        closer()


def is_n5(store: Any) -> bool:
    return isinstance(store, N5Layout)


def check_usage(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)
