"""What the credential-checking authenticators share: reading a credential out of a request's
metadata (``authorization: <scheme> <credential>``) and noticing that a file they load
(tokens, htpasswd) changed.

Nothing here puts a credential into a message: errors name the header, never its value.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from hangar_otelcol.auth import CAPABILITY, AuthError
from hangar_otelcol.component import Factory, Stability, extension_factory

if TYPE_CHECKING:
    from hangar_otelcol.component import ExtensionCreate
    from hangar_otelcol.telemetry import BoundCounter, ComponentTelemetry

C = TypeVar("C")

#: the realm every challenge names
REALM = "hangar-otelcol"


def authenticator_factory(type_name: str, config_class: type[C], create: ExtensionCreate[C],
                          stability: Stability, description: str, **more: Any) -> Factory:
    """The factory of an authenticator extension: it ``provides`` ``CAPABILITY``."""
    return extension_factory(type_name, config_class, create, stability,
                             provides=frozenset({CAPABILITY}), description=description, **more)


def reload_metrics(telemetry: ComponentTelemetry, credentials: Callable[[], float]
                   ) -> BoundCounter:
    """The self-metrics of an authenticator that loads a credential file: the gauge of the
    credentials it accepts (``credentials()``), and the counter of reloads by result
    (``ok``, ``failed``), which it returns."""
    reloads = telemetry.counter(
        "otelcol_extension_auth_reloads_total",
        "Reloads of an authenticator's credential file, by result (ok, failed)",
        ("result",))
    telemetry.gauge("otelcol_extension_auth_credentials",
                    "Credentials (tokens, users) an authenticator accepts", credentials)
    return reloads


def challenge(scheme: str) -> str:
    """The ``WWW-Authenticate`` value for ``scheme`` (``Bearer realm="hangar-otelcol"``)."""
    return f'{scheme or "Bearer"} realm="{REALM}"'


def credential(metadata: Mapping[str, str], header: str, scheme: str) -> str:
    """The credential in ``header`` after ``scheme`` (matched case-insensitively, as RFC 9110
    says); with an empty ``scheme`` the whole value. Raises AuthError ``missing`` (no or an
    empty header) or ``malformed`` (another scheme, nothing after it, or white space inside,
    which includes a header sent twice)."""
    value = (metadata.get(header) or "").strip()
    if not value:
        return _raise("missing", f"no credential: send {header}: "
                      f"{scheme + ' ' if scheme else ''}<credential>")
    if scheme:
        parts = value.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != scheme.lower():
            return _raise("malformed", f"{header}: expected {scheme} <credential>")
        value = parts[1].strip()
    if not value or any(c.isspace() for c in value):
        return _raise("malformed", f"{header}: expected "
                      f"{scheme + ' ' if scheme else ''}<credential> (one, without spaces)")
    return value


def _raise(reason: str, message: str) -> str:
    raise AuthError(message, reason=reason)


class WatchedFile:
    """A file that is reloaded when it changes: ``changed()`` stats it at most once per
    ``interval`` seconds (0: every call) and says whether its inode, size or modification
    time differ from the version ``loaded(...)`` last recorded. A file that cannot be read
    counts as unchanged (the caller keeps what it has and may warn)."""

    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self._signature: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        #: the error of the last stat, if it failed
        self.error: OSError | None = None

    def signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            self.error = exc
            return None
        self.error = None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def changed(self) -> tuple[int, int, int] | None:
        """The new signature if the file changed since it was last loaded (or tried),
        else None."""
        if not self.path:
            return None
        now = time.monotonic()
        if now - self._checked < self.interval:
            return None
        self._checked = now
        sig = self.signature()
        if sig is None or sig == self._signature:
            return None
        return sig

    def loaded(self, signature: tuple[int, int, int] | None) -> None:
        """Record the version just loaded (or just refused: it is not tried again until it
        changes)."""
        self._signature = signature
