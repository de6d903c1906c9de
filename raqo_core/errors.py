"""Exception types shared by every RAQO module."""


class RAQOError(ValueError):
    """Bad input or configuration; the message names the bad value and what was expected."""


class ManifestError(RAQOError):
    """A dataset manifest record is invalid (the message names the record and the field)."""
