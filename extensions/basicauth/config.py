"""Config of the ``basicauth`` extension, and reading htpasswd data.

``htpasswd.file`` and ``htpasswd.inline`` hold ``user:hash`` lines (blank lines and lines
starting with ``#`` are skipped), as ``htpasswd`` writes them. Accepted hashes:

- bcrypt, ``$2y$`` / ``$2b$`` / ``$2a$`` (``htpasswd -B``): the one to use;
- ``{SHA}`` + base64 of the SHA-1 of the password (``htpasswd -s``), for old files.

Anything else (Apache's MD5 ``$apr1$``, ``crypt``, SHA-crypt ``$5$``/``$6$``, plain text) is
refused when the config is loaded, naming the line: ``htpasswd.file: line 3: user "bob":
unsupported hash (use bcrypt: htpasswd -B)``. A user in both ``file`` and ``inline`` gets
the inline entry (as the Collector's basicauth does); a user twice in one of them is an
error. Messages name the user and the line, never a hash or a password.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from typing import Literal

from hangar_otelcol.config.types import Duration

_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}")
UNSUPPORTED = "unsupported hash (use bcrypt: htpasswd -B)"


@dataclass(frozen=True, slots=True)
class UserHash:
    user: str
    #: "bcrypt" or "sha"
    kind: str
    #: the bcrypt hash (bytes of the ``$2b$...`` text) or the SHA-1 digest (20 bytes)
    hash: bytes


@dataclass
class HtpasswdConfig:
    #: an htpasswd file, reloaded when it changes
    file: str = ""
    #: htpasswd lines in the config (``${env:VAR}``/``${file:PATH}`` keep them out of it)
    inline: str = ""


@dataclass
class UserPrincipalConfig:
    """What the principal of one user is, besides its name."""

    type: Literal["human", "agent", "service"] = "service"
    roles: list[str] = field(default_factory=list)


@dataclass
class BasicAuthConfig:
    htpasswd: HtpasswdConfig = field(default_factory=HtpasswdConfig)
    #: per user: the principal's type and roles (default: type service, no roles)
    principals: dict[str, UserPrincipalConfig] = field(default_factory=dict)
    #: how often ``htpasswd.file`` is checked for a change, on a request; 0: on every request
    reload_interval: Duration = Duration(1.0)
    #: successful bcrypt verifications remembered (least recently used first out), so a
    #: sender that keeps its password pays bcrypt once; cleared when the file is reloaded
    cache_size: int = 1024
    #: bcrypt verifications running or waiting at once (each costs 50-250 ms of a core);
    #: beyond it a request is refused as busy (RESOURCE_EXHAUSTED / 429 with a retry hint),
    #: so a flood of wrong passwords cannot queue up minutes of work ahead of real senders
    max_pending_verifications: int = 32

    def validate(self) -> list[str]:
        errors: list[str] = []
        if not self.htpasswd.file and not self.htpasswd.inline.strip():
            errors.append("htpasswd: set file or inline (user:hash lines)")
        elif self.htpasswd.file and not os.path.isfile(self.htpasswd.file):
            errors.append(f"htpasswd.file: {self.htpasswd.file} does not exist or is not a "
                          "file")
        else:
            users = load_users(self.htpasswd, errors)
            if not users and not errors:
                errors.append("htpasswd: holds no user")
        if self.cache_size < 0:
            errors.append(f"cache_size: must not be negative, got {self.cache_size}")
        if self.max_pending_verifications < 1:
            errors.append("max_pending_verifications: must be at least 1, got "
                          f"{self.max_pending_verifications}")
        return errors


def parse_htpasswd(text: str, where: str, errors: list[str]) -> dict[str, UserHash]:
    """``user:hash`` lines -> users; problems go to ``errors`` as ``<where>: line N: ...``."""
    users: dict[str, UserHash] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user:
            errors.append(f"{where}: line {number}: expected user:hash")
            continue
        if user in lines:
            errors.append(f'{where}: line {number}: user "{user}": duplicate of line '
                          f"{lines[user]}")
            continue
        lines[user] = number
        entry = _hash(user, hashed.strip())
        if entry is None:
            errors.append(f'{where}: line {number}: user "{user}": {UNSUPPORTED}')
            continue
        users[user] = entry
    return users


def _hash(user: str, hashed: str) -> UserHash | None:
    if _BCRYPT.fullmatch(hashed):
        return UserHash(user, "bcrypt", hashed.encode("ascii"))
    if hashed.startswith("{SHA}"):
        try:
            digest = base64.b64decode(hashed[5:], validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(digest) == 20:
            return UserHash(user, "sha", digest)
    return None


def load_users(config: HtpasswdConfig, errors: list[str]) -> dict[str, UserHash]:
    """The users of ``file`` then ``inline`` (inline wins); blocking (reads the file)."""
    users: dict[str, UserHash] = {}
    if config.file:
        try:
            with open(config.file, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"htpasswd.file: cannot read {config.file}: "
                          f"{getattr(exc, 'strerror', None) or type(exc).__name__}")
        else:
            users.update(parse_htpasswd(text, "htpasswd.file", errors))
    if config.inline:
        users.update(parse_htpasswd(config.inline, "htpasswd.inline", errors))
    return users
