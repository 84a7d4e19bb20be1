"""The basicauth extension: ``authorization: Basic base64(user:password)`` -> the user.

bcrypt costs 50-250 ms of CPU by design, so: it runs in a thread (``asyncio.to_thread``;
the event loop keeps serving), requests with the same credentials that arrive while it runs
wait for that one verification, and a success is remembered (a bounded LRU keyed by an HMAC,
with a key of this process, of user and password: the cache holds no password and nothing
a stolen memory dump could brute-force faster than the bcrypt hashes themselves). A
steady sender pays bcrypt once; the cache is emptied when the file is reloaded.

An unknown user and a wrong password get the same reason (``unknown``) and the same
message, and an unknown user costs a bcrypt verification against a dummy hash of the same
cost, so neither the answer nor its time says which user names exist.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
from collections import OrderedDict

import bcrypt

from hangar_otelcol.auth import AuthError, Credentials
from hangar_otelcol.auth.support import WatchedFile, challenge, credential, reload_metrics
from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.config.types import ConfigError
from hangar_otelcol.extensions.basicauth.config import (
    BasicAuthConfig,
    UserHash,
    UserPrincipalConfig,
    load_users,
)
from hangar_otelcol.pdata import Principal

_UNKNOWN = "unknown user or wrong password"
#: bcrypt uses the first 72 bytes of a password (htpasswd -B too); bcrypt>=5 refuses more
_BCRYPT_MAX = 72


class _Table:
    """The users of one load of the htpasswd data, and a dummy hash for unknown users."""

    def __init__(self, users: dict[str, UserHash]) -> None:
        self.users = users
        costs = [int(u.hash[4:6]) for u in users.values() if u.kind == "bcrypt"]
        self.dummy = (bcrypt.hashpw(os.urandom(16), bcrypt.gensalt(max(costs)))
                      if costs else None)


class BasicAuth:
    """An ``Authenticator`` (hangar_otelcol.auth) for htpasswd users."""

    needs_client_certificate = False
    challenge = challenge("Basic")

    def __init__(self, settings: CreateSettings, config: BasicAuthConfig) -> None:
        self.settings = settings
        self.config = config
        self.id = str(settings.id)
        self._principals: dict[str, Principal] = {}
        self._cache: OrderedDict[bytes, Principal] = OrderedDict()
        self._pending: dict[bytes, asyncio.Future[bool]] = {}
        self._verifying = 0  # bcrypt verifications running or waiting for a thread
        self._cache_key = os.urandom(32)
        self._file = WatchedFile(config.htpasswd.file, float(config.reload_interval))
        self._table = _Table({})
        self._reloads = reload_metrics(settings.telemetry,
                                       lambda: float(len(self._table.users)))

    def _load(self) -> _Table:
        """Blocking (reads the file, makes the dummy hash): in a thread after the start."""
        errors: list[str] = []
        users = load_users(self.config.htpasswd, errors)
        if not users and not errors:
            errors.append("htpasswd: holds no user")
        if errors:
            raise ConfigError(errors)
        return _Table(users)

    async def start(self, host: Host) -> None:
        signature = self._file.signature() if self._file.path else None
        self._table = await asyncio.to_thread(self._load)
        self._file.loaded(signature)

    async def shutdown(self) -> None:
        self._cache.clear()

    async def _reload(self) -> None:
        signature = self._file.changed()
        if signature is None:
            return
        self._file.loaded(signature)  # a bad version is not tried again until it changes
        try:
            table = await asyncio.to_thread(self._load)
        except ConfigError as exc:
            self._reloads.inc("failed")
            self.settings.problems.warn(
                "reload", "basicauth %s: %s no longer loads, keeping the %d users loaded "
                "before: %s", self.id, self.config.htpasswd.file, len(self._table.users),
                "; ".join(exc.errors), detail="reload")
            return
        self._table = table
        self._cache.clear()
        self._pending.clear()
        self._principals.clear()
        self._reloads.inc("ok")
        self.settings.logger.info("basicauth %s: reloaded %s (%d users)", self.id,
                                  self.config.htpasswd.file, len(table.users))

    async def _checkpw(self, secret: bytes, hashed: bytes) -> bool:
        if self._verifying >= self.config.max_pending_verifications:
            raise AuthError("too many password verifications in progress; retry later",
                            reason="busy", busy=True)
        self._verifying += 1
        try:
            return await asyncio.to_thread(bcrypt.checkpw, secret[:_BCRYPT_MAX], hashed)
        finally:
            self._verifying -= 1

    def _principal(self, user: str) -> Principal:
        principal = self._principals.get(user)
        if principal is None:
            spec = self.config.principals.get(user) or UserPrincipalConfig()
            principal = Principal(authenticator=self.id, subject=user, type=spec.type,
                                  roles=tuple(spec.roles))
            self._principals[user] = principal
        return principal

    async def authenticate(self, credentials: Credentials) -> Principal:
        if self._file.path:
            await self._reload()
        encoded = credential(credentials.metadata, "authorization", "Basic")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise AuthError("authorization: Basic needs base64 of user:password",
                            reason="malformed") from None
        user, sep, password = decoded.partition(":")
        if not sep or not user:
            raise AuthError("authorization: Basic needs base64 of user:password",
                            reason="malformed")
        secret = password.encode("utf-8")
        key = hmac.new(self._cache_key, user.encode("utf-8") + b"\0" + secret,
                       hashlib.sha256).digest()
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        table = self._table
        entry = table.users.get(user)
        if entry is None:
            if table.dummy is not None:  # as long as a wrong password takes
                await self._checkpw(secret, table.dummy)
            raise AuthError(_UNKNOWN, reason="unknown")
        if entry.kind == "sha":
            if not hmac.compare_digest(hashlib.sha1(secret).digest(), entry.hash):
                raise AuthError(_UNKNOWN, reason="unknown")
            return self._principal(user)
        if not await self._bcrypt(key, entry, secret):
            raise AuthError(_UNKNOWN, reason="unknown")
        principal = self._principal(user)
        if self._table is table and self.config.cache_size > 0:  # not reloaded meanwhile
            self._cache[key] = principal
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)
        return principal

    async def _bcrypt(self, key: bytes, entry: UserHash, secret: bytes) -> bool:
        """One verification in a thread, shared by the requests that wait for it; at most
        ``max_pending_verifications`` at once (the dummy ones for unknown users count)."""
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._checkpw(secret, entry.hash))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._drop_pending(key, pending))
        return await asyncio.shield(pending)

    def _drop_pending(self, key: bytes, future: asyncio.Future[bool]) -> None:
        if self._pending.get(key) is future:
            del self._pending[key]
