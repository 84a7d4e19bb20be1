"""How one send attempt fails, and how a queue refuses."""

from __future__ import annotations


class ExportError(Exception):
    """One failed attempt of ``send``.

    ``retryable`` false means the data is bad or refused for good (drop it);
    ``retry_after`` is the server's hint in seconds (Retry-After, RetryInfo).
    """

    def __init__(self, message: str, *, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class QueueFullError(Exception):
    """The queue cannot take the item now (or, ``never_fits``, ever: it is bigger than the
    whole queue, so retrying cannot help)."""

    def __init__(self, message: str, *, never_fits: bool = False) -> None:
        super().__init__(message)
        self.never_fits = never_fits
