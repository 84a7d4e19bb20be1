"""The bearertokenauth extension: a request's bearer token -> the principal configured for it.

The presented token is hashed (SHA-256) and compared with the digest of *every* configured
token by ``hmac.compare_digest``, without stopping at a match: how long a request takes
says neither whether nor which token matched. ``filename`` is checked for a change at most
every ``reload_interval`` on a request; a file that no longer loads keeps the tokens loaded
before (a warning says why), and is tried again when it changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass

from hangar_otelcol.auth import AuthError, Credentials
from hangar_otelcol.auth.support import WatchedFile, challenge, credential, reload_metrics
from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.config.types import ConfigError
from hangar_otelcol.extensions.bearertokenauth.config import (
    BearerTokenAuthConfig,
    TokenSpec,
    duplicates,
    read_token_file,
)
from hangar_otelcol.pdata import Principal


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    principal: Principal


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class BearerTokenAuth:
    """An ``Authenticator`` (hangar_otelcol.auth) for bearer tokens."""

    needs_client_certificate = False

    def __init__(self, settings: CreateSettings, config: BearerTokenAuthConfig) -> None:
        self.settings = settings
        self.config = config
        self.id = str(settings.id)
        self.challenge = challenge(config.scheme)
        self._header = config.header.strip().lower()
        self._default_principal = config.principal or settings.id.name or settings.id.type
        errors: list[str] = []
        self._static = config.specs(errors)
        if errors:
            raise ConfigError(errors)
        self._file = WatchedFile(config.filename, float(config.reload_interval))
        self._entries: tuple[_Entry, ...] = ()
        self._file_tokens = 0
        if not config.filename:
            self._entries = self._table(self._static, errors)
            if errors:
                raise ConfigError(errors)
        self._reloads = reload_metrics(settings.telemetry,
                                       lambda: float(len(self._entries)))

    def _table(self, specs: list[TokenSpec], errors: list[str]) -> tuple[_Entry, ...]:
        duplicates(specs, errors)
        return tuple(_Entry(_digest(s.token), Principal(
            authenticator=self.id, subject=s.principal or self._default_principal,
            type=s.type, roles=s.roles)) for s in specs)

    def _load(self) -> tuple[tuple[_Entry, ...], list[str]]:
        """The table of the static tokens plus the file's (blocking: in a thread on reload)."""
        errors: list[str] = []
        specs = self._static + read_token_file(self.config.filename, self.config, errors)
        table = self._table(specs, errors)
        return table, errors

    async def start(self, host: Host) -> None:
        if self.config.filename:
            signature = self._file.signature()
            table, errors = await asyncio.to_thread(self._load)
            if errors:
                raise ConfigError(errors)
            self._entries = table
            self._file.loaded(signature)

    async def shutdown(self) -> None:
        pass

    async def _reload(self) -> None:
        signature = self._file.changed()
        if signature is None:
            return
        self._file.loaded(signature)  # a bad version is not tried again until it changes
        table, errors = await asyncio.to_thread(self._load)
        if errors:
            self._reloads.inc("failed")
            self.settings.problems.warn(
                "reload", "bearertokenauth %s: %s no longer loads, keeping the %d tokens "
                "loaded before: %s", self.id, self.config.filename, len(self._entries),
                "; ".join(errors), detail="reload")
            return
        self._entries = table
        self._reloads.inc("ok")
        self.settings.logger.info("bearertokenauth %s: reloaded %s (%d tokens)", self.id,
                                  self.config.filename, len(table))

    async def authenticate(self, credentials: Credentials) -> Principal:
        if self._file.path:
            await self._reload()
        token = credential(credentials.metadata, self._header, self.config.scheme)
        digest = _digest(token)
        found: Principal | None = None
        for entry in self._entries:  # every entry, whatever matched: constant time
            if hmac.compare_digest(entry.digest, digest) and found is None:
                found = entry.principal
        if found is None:
            raise AuthError("unknown bearer token", reason="unknown")
        return found
