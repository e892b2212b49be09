"""CSV downloads: cells a spreadsheet cannot run, streamed a page at a time.

Both exports (the inbox's messages and the rules' decision log) read their rows in pages from the
database thread and yield them from an async generator: under ASGI a plain generator would be read
whole into memory before the first byte goes out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeVar

from channels.db import database_sync_to_async

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cursor = TypeVar("Cursor")


def safe_cell(value: object) -> str:
    """The cell as text a spreadsheet shows as is: a leading ' turns a would-be formula into text."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([safe_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


async def stream_csv(
    header: Sequence[str], page: Callable[[Cursor | None], tuple[list[Sequence[object]], Cursor | None]]
) -> AsyncIterator[str]:
    """The header, then ``page(cursor)`` after ``page(cursor)`` until one comes back empty.

    ``page`` runs in the database thread and returns its rows and the cursor for the next page
    (a keyset, so rows arriving meanwhile cannot shift the pages).
    """
    yield csv_text([header])
    cursor: Any = None
    while True:
        rows, cursor = await database_sync_to_async(page)(cursor)
        if not rows:
            return
        yield csv_text(rows)
