"""mcp_caller in enforce mode: identity the sender cannot forge.

What a forging client tries (issue 12): its own mcp.caller.* beating a valid principal,
roles=admin,superuser riding along with bob's identity, x-user-id headers from a loopback
process, a duplicated attribute key. In enforce mode none of it changes the caller: the
authenticated principal does (mapped by ``principals``), or a token mcp_caller verifies;
only principals listed as trusted (a hangar speaking for its users) keep theirs.
"""

from __future__ import annotations

import time

import jwt
import pytest

from hangar_otelcol.component import ConsumerError
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.pdata import Batch, Principal, Sender
from tests.processors.caller.test_caller_identity import HANGAR_HEADERS, caller, make, run
from tests.support import captures as hc

FORGED = {"mcp.caller.id": "admin", "mcp.caller.type": "human",
          "mcp.caller.roles": "admin,superuser", "enduser.id": "root", "user.roles": "root"}
BOB = Principal("oidc", "bob", "human", ("viewer",))


def forged_parts(version: str, sender: Sender) -> list:
    """The captured calls, each record carrying the forged identity, its id key twice."""
    parts = hc.load(version, sender)
    for part in parts:
        for inv in index(part):
            if inv.event == TOOL_EVENT:
                record = inv.record
                part.mutable_message()
                for key, value in [*FORGED.items(), ("mcp.caller.id", "admin2")]:
                    kv = record.attributes.add(key=key)
                    kv.value.string_value = value
        part.cache = None  # re-read with the forged attributes
    return parts


def keys_of(inv, key: str) -> list[str]:
    return [kv.value.string_value for kv in inv.record.attributes if kv.key == key]


@pytest.mark.parametrize("version", ["1.6.3", "2.34.4"])
async def test_the_authenticated_principal_beats_what_the_sender_wrote(version: str) -> None:
    sender = Sender("grpc", "127.0.0.1", HANGAR_HEADERS, BOB)  # mode auto: enforced
    invs = await run(make(), forged_parts(version, sender))
    assert len(invs) >= 6
    for inv in invs:
        assert caller(inv) == ("human", "bob", "viewer")  # roles from the credential
        assert keys_of(inv, "mcp.caller.id") == ["bob"]  # both forged copies are gone
        assert keys_of(inv, "enduser.id") == [] and keys_of(inv, "user.roles") == []


async def test_principals_map_to_a_caller() -> None:
    sender = Sender("grpc", "10.0.0.5", {}, Principal("bearertokenauth", "ci-token"))
    proc = make({"principals": {"ci-token": {"id": "ci-bot", "type": "service",
                                             "roles": ["billing", "deploy"]}}})
    invs = await run(proc, forged_parts("2.34.4", sender))
    assert {caller(i) for i in invs} == {("service", "ci-bot", "billing,deploy")}


async def test_a_trusted_principal_speaks_for_its_users() -> None:
    """A hangar authenticated as hangar-prod forwards its users' identity: believed; its
    records that name nobody get hangar-prod itself."""
    hangar = Principal("bearertokenauth", "hangar-prod")
    sender = Sender("grpc", "10.0.0.5", {}, hangar)
    proc = make({"trusted_principals": ["hangar-*"]})
    invs = await run(proc, forged_parts("2.34.4", sender))
    assert {caller(i)[1] for i in invs} == {"admin2"}  # the record's own (last written)
    plain = await run(make({"trusted_principals": ["hangar-*"]}), hc.load("2.34.4", sender))
    assert {caller(i) for i in plain} == {("service", "hangar-prod", None)}


async def test_enforce_without_a_principal_marks_or_refuses() -> None:
    sender = Sender("grpc", "127.0.0.1", HANGAR_HEADERS)  # loopback headers: not believed
    invs = await run(make({"mode": "enforce"}), forged_parts("2.34.4", sender))
    assert {caller(i) for i in invs} == {(None, "unauthenticated", None)}
    proc = make({"mode": "enforce", "on_missing": "refuse"})
    part = hc.load("2.34.4", sender)[0]
    with pytest.raises(ConsumerError) as err:
        await proc.consume(Batch(hc.signal_of(part), [part]))
    assert err.value.permanent and "proves no caller" in str(err.value)


async def test_enforce_believes_a_token_it_verifies(tmp_path, monkeypatch) -> None:
    """``sources: [jwt]`` without a receiver authenticator: a valid token is the caller; a
    request without one is not allowed to name its own."""
    monkeypatch.setenv("CALLER_SECRET", "s" * 32)
    config = {"mode": "enforce", "sources": ["jwt"],
              "jwt": {"secret_env": "CALLER_SECRET", "algorithms": ["HS256"]}}
    token = jwt.encode({"sub": "carol", "exp": int(time.time()) + 600, "roles": ["ops"]},
                       "s" * 32, algorithm="HS256")
    with_token = Sender("http", "127.0.0.1", {"authorization": f"Bearer {token}"})
    invs = await run(make(config), forged_parts("2.34.4", with_token))
    assert {caller(i) for i in invs} == {("human", "carol", "ops")}
    without = Sender("http", "127.0.0.1", {})
    invs = await run(make(config), forged_parts("2.34.4", without))
    assert {caller(i) for i in invs} == {(None, "unauthenticated", None)}


async def test_trust_mode_keeps_the_old_behaviour_for_unauthenticated_senders() -> None:
    sender = Sender("grpc", "127.0.0.1", {})
    invs = await run(make({"mode": "trust"}), forged_parts("2.34.4",
                                                           Sender("grpc", "127.0.0.1", {},
                                                                  BOB)))
    assert {caller(i)[1] for i in invs} == {"admin2"}  # trust: the sender's word
    invs = await run(make(), hc.load("2.34.4", sender))  # auto, no principal: trust
    assert all(caller(i) == (None, None, None) for i in invs)
