"""Fixtures of the deployment tests: the files of the Secrets a user creates
(docs/deploy.md, "Secrets"), made for the test, never real credentials."""

from __future__ import annotations

import pytest

from tests.support.paths import REPO
from tests.support.tls import self_signed

#: a sender's token as a test writes it (tests/deploy/test_gateway_config.py sends it)
HANGAR_TOKEN = "test-token-hangar-prod-0123456789abcdef"
REDIS_PASSWORD = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="session")
def secret_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """Secret name -> {key: content}, as `kubectl create secret` in docs/deploy.md makes
    them. The optional hangar-otelcol-oidc is left out, as a user who verifies no JWT does."""
    directory = tmp_path_factory.mktemp("secrets")
    cert, key, _, _ = self_signed(directory, "tls")
    tokens = (f"- {{token: {HANGAR_TOKEN}, principal: hangar-prod, type: service}}\n"
              "- {token: test-token-ci-bot-0123456789abcdef, principal: ci-bot, type: agent}\n")
    return {
        "hangar-otelcol-tokens": {"tokens.yaml": tokens.encode()},
        "hangar-otelcol-tls": {"tls.crt": cert.read_bytes(), "tls.key": key.read_bytes()},
        "hangar-otelcol-pricing": {
            "pricing.yaml": (REPO / "config" / "pricing.example.yaml").read_bytes()},
        "hangar-otelcol-redis": {"password": REDIS_PASSWORD.encode()},
    }
