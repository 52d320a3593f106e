"""Errors raised by the coder glue."""


class CodecError(ValueError):
    """The frequency table or the coded stream cannot be used (corruption or a caller bug)."""
