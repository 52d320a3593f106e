"""Errors of the model layer."""


class ModelError(Exception):
    """A model file is missing, damaged, of another format version, or not a known name."""
