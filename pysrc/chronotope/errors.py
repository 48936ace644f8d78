"""Exceptions raised by chronotope, and the one place where C status codes become them.

Every error chronotope raises derives from :class:`ChronotopeError`. Errors about
bad input data also derive from :class:`ValueError`, so code that already
catches ``ValueError`` keeps working.

>>> from chronotope import codec
>>> try:
...     codec.decode(b"not a block at all")
... except CorruptDataError as exc:
...     print(type(exc).__name__)
CorruptDataError
"""

from __future__ import annotations

__all__ = [
    "ChronotopeError",
    "CorruptDataError",
    "ChecksumError",
    "TruncatedDataError",
    "UnsupportedFormatError",
    "InvalidArgumentError",
    "ParseError",
    "CodecError",
    "from_status",
]


class ChronotopeError(Exception):
    """Base class of every chronotope error."""


class CorruptDataError(ChronotopeError, ValueError):
    """Stored or received bytes are damaged, truncated or not chronotope data.

    The message names what is wrong and, where known, the file and block.
    """


class ChecksumError(CorruptDataError):
    """A checksum did not match: the bytes changed after they were written."""


class TruncatedDataError(CorruptDataError):
    """The data ends before the structure it announces."""


class UnsupportedFormatError(CorruptDataError):
    """A format version, codec or dtype that this build cannot read."""


class InvalidArgumentError(ChronotopeError, ValueError):
    """An argument is invalid: wrong dtype, layout, name or option."""


class ParseError(ChronotopeError, ValueError):
    """A text input file (``.traj``, AIS CSV) does not follow its format.

    The message names the file and the line.
    """


class CodecError(ChronotopeError):
    """A compression library reported an internal failure."""


# C status code (csrc/ct_error.h) -> exception class. The message text comes
# from ct_strerror() so that C and Python describe a failure the same way.
_STATUS_CLASSES: dict[int, type[BaseException]] = {
    -1: MemoryError,
    -2: InvalidArgumentError,
    -3: ChronotopeError,  # output buffer too small: a bug in the caller, not in the data
    -4: TruncatedDataError,
    -5: CorruptDataError,
    -6: UnsupportedFormatError,
    -7: ChecksumError,
    -8: CorruptDataError,
    -9: UnsupportedFormatError,
    -10: CodecError,
    -11: InvalidArgumentError,
    -12: CorruptDataError,
}


def from_status(code: int, message: str, context: str | None = None) -> BaseException:
    """Build the exception for a negative C status code.

    Parameters
    ----------
    code : int
        A ``ct_status`` value (negative).
    message : str
        The C library's description of the code (``ct_strerror``).
    context : str, optional
        Where it happened, e.g. ``"segment 000042.cts, block 7"``.

    >>> from_status(-7, "checksum mismatch", "block 3")
    ChecksumError('block 3: checksum mismatch')
    >>> from_status(-99, "unknown error code")
    ChronotopeError('unknown error code (C status -99)')
    """
    cls = _STATUS_CLASSES.get(code)
    if cls is None:
        cls, message = ChronotopeError, f"{message} (C status {code})"
    return cls(f"{context}: {message}" if context else message)
