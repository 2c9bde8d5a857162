"""Project exception and warning types.

Library and device errors are translated into these so that the CLI can print one clear line.
"""


class WotError(Exception):
    """Base class of every error the engine raises on purpose."""


class InputError(WotError, ValueError):
    """Bad user input: a missing file, an unknown channel, unreadable data, a bad option."""


class StreamNotFoundError(WotError):
    """No LSL stream of the requested type/name was found before the timeout."""


class SignalQualityWarning(UserWarning):
    """A data-quality problem the engine worked around (NaNs, gaps, flatline, wrong units)."""


class MissingExtraError(WotError, ImportError):
    """An optional part is not installed; the message names the extra that brings it."""
