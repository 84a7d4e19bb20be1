"""basicauth: htpasswd users (bcrypt $2y$/$2b$/$2a$ and {SHA}) -> principals, the same answer
for an unknown user and a wrong password, bcrypt off the event loop and paid once per
credential, the file reloaded on change (a bad version keeps the users before it), and
config errors that name the line and user and never a hash or a password."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from hangar_otelcol.auth import Authenticator
from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.extensions.basicauth.extension import BasicAuth
from hangar_otelcol.extensions.basicauth.factory import FACTORY
from hangar_otelcol.pdata import Principal
from hangar_otelcol.registry import default_registry
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.support.auth import config_errors as support_config_errors
from tests.support.auth import creds, refused
from tests.support.auth import replace_file as write

PASSWORD = "correct horse battery staple"


def bcrypt_hash(password: str, prefix: str = "$2y$", rounds: int = 4) -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()
    return prefix + hashed[4:]


def sha_hash(password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def started(raw: dict[str, Any], telemetry: Telemetry | None = None) -> BasicAuth:
    config = build(FACTORY.config_class, raw)
    ext = FACTORY.create(make_settings(Kind.EXTENSION, "basicauth", telemetry), config)
    await ext.start(StandaloneHost())
    return ext


def config_errors(raw: dict[str, Any]) -> list[str]:
    return support_config_errors(FACTORY, raw, "extensions.basicauth")


class CountingCheckpw:
    """bcrypt.checkpw, counted (the real one runs)."""

    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        self._real = bcrypt.checkpw
        monkeypatch.setattr(bcrypt, "checkpw", self)

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.calls += 1
        return self._real(password, hashed)


def test_the_factory_provides_an_authenticator() -> None:
    assert default_registry().get(Kind.EXTENSION, "basicauth") is FACTORY
    assert "authenticator" in FACTORY.provides


@pytest.mark.parametrize("prefix", ["$2y$", "$2b$", "$2a$"])
async def test_bcrypt_users_are_verified(prefix: str) -> None:
    ext = await started({"htpasswd": {"inline": f"alice:{bcrypt_hash(PASSWORD, prefix)}\n"}})
    assert isinstance(ext, Authenticator)
    assert ext.challenge == 'Basic realm="hangar-otelcol"'
    principal = await ext.authenticate(creds(basic("alice", PASSWORD)))
    assert principal == Principal("basicauth", "alice", "service")
    assert (await refused(ext, basic("alice", PASSWORD + "!"))).reason == "unknown"


async def test_sha_users_and_principals() -> None:
    ext = await started({
        "htpasswd": {"inline": f"# comment\n\nbob:{sha_hash('pw:with:colons')}\n"
                               f"carol:{bcrypt_hash('c')}\n"},
        "principals": {"bob": {"type": "human", "roles": ["oncall", "admin"]}}})
    bob = await ext.authenticate(creds(basic("bob", "pw:with:colons")))
    assert bob == Principal("basicauth", "bob", "human", ("oncall", "admin"))
    assert bob.name == "basicauth:bob"
    assert (await ext.authenticate(creds(basic("carol", "c")))).type == "service"
    assert (await refused(ext, basic("bob", "pw"))).reason == "unknown"


async def test_an_unknown_user_and_a_wrong_password_look_the_same(monkeypatch) -> None:
    ext = await started({"htpasswd": {"inline": f"alice:{bcrypt_hash(PASSWORD)}\n"}})
    checkpw = CountingCheckpw(monkeypatch)
    wrong = await refused(ext, basic("alice", "guess-one"))
    unknown = await refused(ext, basic("mallory", "guess-one"))
    assert (wrong.reason, str(wrong)) == (unknown.reason, str(unknown)) == (
        "unknown", "unknown user or wrong password")
    assert "mallory" not in str(unknown) and "guess-one" not in str(unknown)
    # the unknown user also cost a bcrypt verification (against a dummy hash)
    assert checkpw.calls == 2


@pytest.mark.parametrize("value,reason", [
    (None, "missing"), ("", "missing"),
    ("Bearer abc", "malformed"), ("Basic", "malformed"), ("Basic !!!not-base64", "malformed"),
    ("Basic " + base64.b64encode(b"no-colon").decode(), "malformed"),
    ("Basic " + base64.b64encode(b":nouser").decode(), "malformed"),
    ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "malformed"),
])
async def test_missing_and_malformed(value: str | None, reason: str) -> None:
    ext = await started({"htpasswd": {"inline": f"alice:{sha_hash(PASSWORD)}\n"}})
    error = await refused(ext, value)
    assert error.reason == reason
    if value and " " in value:
        assert value.split()[-1] not in str(error)


async def test_bcrypt_is_paid_once_and_off_the_event_loop(monkeypatch) -> None:
    """Cost 10 (~50 ms here): ten concurrent requests of one sender share one verification,
    the loop keeps running meanwhile, and later requests hit the cache."""
    ext = await started({"htpasswd": {"inline": f"alice:{bcrypt_hash(PASSWORD, rounds=10)}"}})
    checkpw = CountingCheckpw(monkeypatch)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.002)

    task = asyncio.create_task(ticker())
    started_at = time.perf_counter()
    results = await asyncio.gather(*(ext.authenticate(creds(basic("alice", PASSWORD)))
                                     for _ in range(10)))
    took = time.perf_counter() - started_at
    stop.set()
    await task
    assert {p.subject for p in results} == {"alice"}
    assert checkpw.calls == 1
    assert ticks >= 3, f"the loop ran {ticks} times in {took * 1000:.0f} ms of bcrypt"
    for _ in range(5):
        await ext.authenticate(creds(basic("alice", PASSWORD)))
    assert checkpw.calls == 1
    # a wrong password is never cached
    await refused(ext, basic("alice", "nope"))
    await refused(ext, basic("alice", "nope"))
    assert checkpw.calls == 3


async def test_the_cache_is_bounded(monkeypatch) -> None:
    users = "\n".join(f"u{i}:{bcrypt_hash(f'p{i}')}" for i in range(3))
    ext = await started({"htpasswd": {"inline": users}, "cache_size": 2})
    checkpw = CountingCheckpw(monkeypatch)
    for i in (0, 1, 2, 0):  # u0 was pushed out by u2
        await ext.authenticate(creds(basic(f"u{i}", f"p{i}")))
    assert checkpw.calls == 4
    await ext.authenticate(creds(basic("u2", "p2")))
    assert checkpw.calls == 4


async def test_passwords_longer_than_bcrypts_72_bytes() -> None:
    """bcrypt (and htpasswd -B) use the first 72 bytes; bcrypt>=5 refuses more."""
    long = "x" * 100
    hashed = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    ext = await started({"htpasswd": {"inline": f"alice:{hashed}"}})
    assert (await ext.authenticate(creds(basic("alice", long)))).subject == "alice"


async def test_the_file_is_reloaded_when_it_changes(tmp_path: Path, caplog,
                                                    monkeypatch) -> None:
    path = tmp_path / "htpasswd"
    write(path, f"alice:{bcrypt_hash('old-pw')}\n")
    telemetry = Telemetry()
    ext = await started({"htpasswd": {"file": str(path)}, "reload_interval": 0}, telemetry)
    reloads = telemetry.counter("otelcol_extension_auth_reloads_total", "",
                                ("extension", "result"))
    assert (await ext.authenticate(creds(basic("alice", "old-pw")))).subject == "alice"

    # a new password: the cached old one no longer works
    write(path, f"alice:{bcrypt_hash('new-pw')}\nbob:{sha_hash('bob-pw')}\n")
    assert (await refused(ext, basic("alice", "old-pw"))).reason == "unknown"
    assert (await ext.authenticate(creds(basic("alice", "new-pw")))).subject == "alice"
    assert (await ext.authenticate(creds(basic("bob", "bob-pw")))).subject == "bob"
    assert reloads.get(("basicauth", "ok")) == 1

    # an unsupported hash: the users before it stay
    caplog.set_level(logging.WARNING)
    apr1 = "$apr1$Gv1dTS8k$yOtmrL4vBeg6oQz7ZWaoH0"
    write(path, f"alice:{bcrypt_hash('other')}\ncarol:{apr1}\n")
    assert (await ext.authenticate(creds(basic("alice", "new-pw")))).subject == "alice"
    assert (await ext.authenticate(creds(basic("bob", "bob-pw")))).subject == "bob"
    assert reloads.get(("basicauth", "failed")) == 1
    assert ('htpasswd.file: line 2: user "carol": unsupported hash (use bcrypt: htpasswd -B)'
            in caplog.text)
    assert "keeping the 2 users" in caplog.text
    assert apr1 not in caplog.text and "$2" not in caplog.text

    # removed: the same; fixed: loaded
    path.unlink()
    assert (await ext.authenticate(creds(basic("bob", "bob-pw")))).subject == "bob"
    write(path, f"dave:{sha_hash('d')}\n")
    assert (await ext.authenticate(creds(basic("dave", "d")))).subject == "dave"
    assert (await refused(ext, basic("bob", "bob-pw"))).reason == "unknown"


async def test_inline_users_win_over_the_files(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(f"alice:{sha_hash('from-file')}\nbob:{sha_hash('b')}\n")
    ext = await started({"htpasswd": {"file": str(path),
                                      "inline": f"alice:{sha_hash('inline')}"}})
    assert (await ext.authenticate(creds(basic("alice", "inline")))).subject == "alice"
    assert (await refused(ext, basic("alice", "from-file"))).reason == "unknown"
    assert (await ext.authenticate(creds(basic("bob", "b")))).subject == "bob"


@pytest.mark.parametrize("hashed", [
    "$apr1$Gv1dTS8k$yOtmrL4vBeg6oQz7ZWaoH0",  # htpasswd -m (Apache MD5)
    "rqXexS6ZhobKA",  # htpasswd -d (crypt)
    "$6$saltsalt$" + "a" * 86,  # SHA-512 crypt
    "plaintext-password",  # htpasswd -p
    "{SHA}not-base64!",
    "{SHA}" + base64.b64encode(b"short").decode(),
    "$2y$04$tooshort",
])
def test_unsupported_hashes_are_config_errors_naming_the_line(tmp_path: Path,
                                                             hashed: str) -> None:
    path = tmp_path / "htpasswd"
    path.write_text(f"alice:{bcrypt_hash('a')}\n# a comment\nbob:{hashed}\n")
    errors = config_errors({"htpasswd": {"file": str(path)}})
    assert errors == ['extensions.basicauth.htpasswd.file: line 3: user "bob": unsupported '
                      'hash (use bcrypt: htpasswd -B)']
    errors = config_errors({"htpasswd": {"inline": f"bob:{hashed}"}})
    assert errors == ['extensions.basicauth.htpasswd.inline: line 1: user "bob": unsupported '
                      'hash (use bcrypt: htpasswd -B)']
    assert hashed not in "\n".join(errors)


def test_other_config_errors(tmp_path: Path) -> None:
    assert config_errors({}) == ["extensions.basicauth.htpasswd: set file or inline "
                                 "(user:hash lines)"]
    assert config_errors({"htpasswd": {"file": str(tmp_path / "nope")}}) == [
        f"extensions.basicauth.htpasswd.file: {tmp_path / 'nope'} does not exist or is not "
        "a file"]
    good = sha_hash("x")
    assert config_errors({"htpasswd": {"inline": f"a:{good}\nno-colon-{good}\na:{good}\n"}}) \
        == ["extensions.basicauth.htpasswd.inline: line 2: expected user:hash",
            'extensions.basicauth.htpasswd.inline: line 3: user "a": duplicate of line 1']
    assert config_errors({"htpasswd": {"inline": "# only a comment\n"}}) == [
        "extensions.basicauth.htpasswd: holds no user"]
    path = tmp_path / "empty"
    path.write_text("\n")
    assert config_errors({"htpasswd": {"file": str(path)}}) == [
        "extensions.basicauth.htpasswd: holds no user"]
    errors = config_errors({"htpasswd": {"inline": f"a:{good}"},
                            "principals": {"a": {"type": "robot"}}})
    assert errors[0].startswith("extensions.basicauth.principals.a.type: must be one of "
                                "human, agent, service")
    assert good not in "\n".join(errors)
