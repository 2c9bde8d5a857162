"""Checks shared by the files users edit (client profiles, ``--config`` TOML): pydantic errors
as one line naming the field, and limits on any JSON value (nesting, sizes, finite numbers).

Nothing here raises on its own: callers turn the text into an
:class:`~wot_biofeedback.errors.InputError` that names their file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError


def show(value: Any, width: int = 40) -> str:
    """``repr`` of a bad value, cut to ``width`` characters (a 10 MB string stays one line)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def loc_text(loc: Iterable[Any]) -> str:
    """``("sessions", 1, "baseline")`` as ``sessions[1].baseline``. A key that is empty, long
    or not printable (a line break in a quoted TOML or JSON key) is shown quoted and cut by
    :func:`show`, so the message stays one line."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not text or len(text) > 40 or not text.isprintable():
                text = show(text)
            out += ("." if out else "") + text
    return out


_BOUND = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def describe(
    err: Mapping[str, Any],
    nouns: Mapping[str, str] | None = None,
    known: Mapping[str, Iterable[str]] | None = None,
) -> tuple[str, str]:
    """``(field, problem)`` of one pydantic error, in the project's words.

    ``nouns`` names a class for "not a ..." (``{"Session": "a session record"}``); ``known``
    lists the keys of a table by its field path, for "unknown key" errors.
    """
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    loc = tuple(err["loc"])
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        names = list((known or {}).get(loc_text(loc[:-1]), ()))
        return loc_text(loc), "unknown key" + (f" (known: {', '.join(names)})" if names else "")
    if kind in _BOUND:
        key, sign = _BOUND[kind]
        return loc_text(loc), f"must be {sign} {ctx[key]:g} (got {show(got)})"
    if kind in ("dataclass_type", "dataclass_exact_type", "model_type", "model_attributes_type"):
        noun = (nouns or {}).get(str(ctx.get("class_name")), "a table")
        return loc_text(loc), f"not {noun} (got {show(got)})"
    problem = {
        "dict_type": "not a table",
        "list_type": "not a list",
        "finite_number": "must be a finite number",
        "float_type": "must be a number",
        "int_type": "must be a whole number",
        "bool_type": "must be true or false",
        "string_type": "must be text",
        "literal_error": f"must be {ctx.get('expected')}",
        "missing": "missing",
    }.get(kind)
    if kind == "string_too_long":
        return loc_text(loc), f"text longer than {ctx['max_length']} characters"
    if kind == "too_long":
        return loc_text(loc), f"more than {ctx['max_length']} entries"
    if kind == "missing":
        return loc_text(loc), "missing"
    if problem is not None:
        return loc_text(loc), f"{problem} (got {show(got)})"
    msg = str(err.get("msg", kind)).removeprefix("Value error, ")
    return loc_text(loc), msg


def one_line(
    where: str,
    exc: ValidationError,
    nouns: Mapping[str, str] | None = None,
    known: Mapping[str, Iterable[str]] | None = None,
) -> str:
    """The first problem of ``exc`` as ``WHERE: FIELD: PROBLEM`` (and how many more there are)."""
    errors = exc.errors()
    field, problem = describe(errors[0], nouns, known)
    more = f"; {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""
    return f"{where}: {field + ': ' if field else ''}{problem}{more}"


def check_limits(
    value: Any,
    *,
    max_depth: int,
    max_items: int,
    max_chars: int,
    max_abs: float,
) -> str | None:
    """The first value in a parsed JSON document over a limit, as ``FIELD: PROBLEM``; None when
    every value is within them: nesting of at most ``max_depth`` lists/objects, at most
    ``max_items`` entries in each, strings (and keys) of at most ``max_chars`` characters, and
    numbers finite and within ``±max_abs``. Walks without recursion (any depth is safe)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        v, loc = stack.pop()
        if isinstance(v, dict | list):
            if len(loc) >= max_depth:
                return f"{loc_text(loc) or 'top level'}: nested deeper than {max_depth} levels"
            if len(v) > max_items:
                return f"{loc_text(loc) or 'top level'}: more than {max_items} entries"
            if isinstance(v, dict):
                if any(len(k) > max_chars for k in v):
                    return f"{loc_text(loc) or 'top level'}: a key over {max_chars} characters"
                items: list[tuple[Any, Any]] = list(v.items())
            else:
                items = list(enumerate(v))
            # reversed onto the stack: the first problem in the file's order is the one told
            stack.extend((item, (*loc, k)) for k, item in reversed(items))
        elif isinstance(v, str):
            if len(v) > max_chars:
                return f"{loc_text(loc)}: text longer than {max_chars} characters"
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, float) and not math.isfinite(v):
            return f"{loc_text(loc)}: must be a finite number (got {show(v)})"
        # an int is compared exactly (a float of a 400-digit int would overflow)
        elif isinstance(v, int | float) and not abs(v) <= max_abs:
            return f"{loc_text(loc)}: number out of range (got {show(v)}; limit ±{max_abs:g})"
    return None
