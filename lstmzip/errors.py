"""The one error type the CLI turns into `lstmzip: <message>` and exit code 1."""


class LstmzipError(Exception):
    """Anything wrong with the user's input, archive, model or output path."""


class ArchiveError(LstmzipError):
    """The archive is not an lstmzip archive, is truncated, damaged or unsupported."""


class BlockDamaged(ArchiveError):
    """One block's payload does not decode to its checksummed bytes (its header was intact)."""
