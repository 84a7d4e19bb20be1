"""Secret values out of what the gateway prints: ``print-config``, ``validate`` messages, its
logs and the debug exporter.

A secret is replaced by ``<redacted: N chars, ends ...abcd>`` (the last 4 characters only
when the value has at least 12, otherwise ``<redacted: N chars>``), so that two secrets can
still be told apart without either being shown.

What counts as a secret:

- the value of a key named like a credential (``is_secret_key``: an explicit list of names
  and suffixes, case-insensitive, ``-`` and ``_`` alike; names of files, claims, counts and
  budgets are not secrets: ``key_file``, ``secret_env``, ``tokens_claim``, ``max_tokens``,
  ``input_tokens``);
- every value of a ``headers:`` mapping (an exporter's headers carry API keys under any name),
  and every string of a ``tokens:`` (``passwords:``, ``secrets:``, ``api_keys:``) list;
- the password in a URL's userinfo (``scheme://user:PASS@host``), anywhere in a string;
- the value of a URL query parameter named like a credential (``?api_key=...``,
  ``&access_token=...``: ``is_secret_key``), anywhere in a string after a ``://``;
- the credential after ``Bearer`` / ``Basic`` in a string;
- in free text (``redact_text``), also every secret of the loaded config (``secrets_in``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: keys whose value is a secret (normalized: lower case, ``-`` and spaces as ``_``)
SECRET_NAMES = frozenset({
    "password", "passwd", "passphrase", "secret", "client_secret", "secret_key",
    "secret_access_key", "token", "access_token", "refresh_token", "id_token", "auth_token",
    "bearer_token", "api_token", "session_token", "x_auth_token", "x_access_token",
    "api_key", "apikey", "x_api_key", "authorization", "proxy_authorization", "bearer",
    "private_key", "key_pem", "private_key_pem", "credential", "credentials", "cookie",
    "set_cookie",
})
#: ... and keys ending in one of these (``db_password``, ``github_token``, ``tls_key_pem``)
SECRET_SUFFIXES = ("_password", "_passwd", "_passphrase", "_secret", "_token", "_api_key",
                   "_apikey", "_private_key", "_key_pem", "_credential", "_credentials",
                   "_cookie")
#: the key of a mapping whose every value is a secret (header values carry credentials)
HEADERS_KEYS = frozenset({"headers"})
#: secret keys that are harmless elsewhere: basicauth's ``htpasswd.inline`` holds password
#: hashes, which an offline attack can crack (``htpasswd.file`` is a path)
SECRET_CHILDREN = {"htpasswd": frozenset({"inline"})}
#: ... except these keys of it: ``mcp_caller``'s ``headers:`` holds the *names* of its
#: identity headers and the senders trusted to set them, not header values (kept equal to
#: ``processors/caller/config.py`` HeadersConfig by a test)
HEADER_NAME_KEYS = frozenset({"trusted_senders", "user_id", "agent_id", "principal_type",
                              "roles"})
#: keys of a list whose strings are secrets (the Collector's ``bearertokenauth``
#: ``tokens: [tok1, tok2]``); their mappings (``tokens: [{token, principal}]``) and numbers
#: (a ``tokens`` count) are walked like any other value
SECRET_LIST_KEYS = frozenset({"tokens", "passwords", "secrets", "api_keys", "apikeys",
                              "credentials"})

_MIN_TAIL = 12
_MIN_SECRET = 4
_URL_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*:)"
                           r"(?P<password>[^\s/?#]*)(?=@)")
#: ``?name=value`` / ``&name=value`` of a URL: the value is a secret when ``name`` is
_URL_QUERY_PARAM = re.compile(r"(?P<head>[?&;](?P<name>[A-Za-z0-9_.\-]+)=)"
                              r"(?P<value>[^\s&#;\"'<>]+)")
_AUTH_SCHEME = re.compile(r"\b(?P<scheme>[Bb]earer|BEARER|[Bb]asic|BASIC)(?P<space>[ \t]+)"
                          r"(?P<credential>[A-Za-z0-9\-._~+/]+=*)")
_CREDENTIAL_HINT = re.compile(r"[0-9\-._~+/=]")


def normalize_key(key: object) -> str:
    """``key`` as compared with the lists: lower case, ``-`` and spaces as ``_``, and for a
    dotted attribute name (``http.request.header.authorization``) its last part."""
    text = str(key).strip().lower().replace("-", "_").replace(" ", "_")
    return text.rsplit(".", 1)[-1]


def is_secret_key(key: object) -> bool:
    """Whether the value under ``key`` is a secret (``authorization``, ``api_key``,
    ``X-Api-Key``, ``db_password``, ``http.request.header.cookie``; not ``key_file``,
    ``tokens_claim``, ``max_tokens``, ``mcp.cost.input_tokens``, ``token_budget``)."""
    name = normalize_key(key)
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def redact_value(value: object) -> str:
    """``<redacted: N chars, ends ...abcd>`` (the tail only for 12 characters or more)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) >= _MIN_TAIL:
        return f"<redacted: {len(text)} chars, ends ...{text[-4:]}>"
    return f"<redacted: {len(text)} chars>"


def _looks_like_credential(text: str) -> bool:
    """After ``Bearer``/``Basic``: a token, not a word of prose (``Basic authentication``)."""
    return len(text) >= 6 and (bool(_CREDENTIAL_HINT.search(text))
                               or any(c.isupper() for c in text[1:]))


def _redact_patterns(text: str, found: set[str] | None = None) -> str:
    """URL userinfo passwords, secret-named URL query parameters and Bearer/Basic
    credentials in ``text``."""
    if "://" in text:
        def password(m: re.Match[str]) -> str:
            secret = m.group("password")
            if not secret or secret.startswith("<redacted"):
                return m.group(0)
            if found is not None:
                found.add(secret)
            return m.group("head") + redact_value(secret)

        text = _URL_USERINFO.sub(password, text)

        def query_value(m: re.Match[str]) -> str:
            secret = m.group("value")
            if not is_secret_key(m.group("name")) or secret.startswith("<redacted"):
                return m.group(0)
            if found is not None:
                found.add(secret)
            return m.group("head") + redact_value(secret)

        text = _URL_QUERY_PARAM.sub(query_value, text)
    if "earer" in text or "asic" in text or "EARER" in text or "ASIC" in text:
        def credential(m: re.Match[str]) -> str:
            secret = m.group("credential")
            if not _looks_like_credential(secret):
                return m.group(0)
            if found is not None:
                found.add(secret)
            return m.group("scheme") + m.group("space") + redact_value(secret)

        text = _AUTH_SCHEME.sub(credential, text)
    return text


def _is_marker(value: Any) -> bool:
    """Already redacted (redacting twice changes nothing)."""
    return isinstance(value, str) and value.startswith("<redacted: ") and value.endswith(">")


def _secret_leaf(value: Any, found: set[str] | None) -> Any:
    """A value under a secret key: every scalar in it redacted (mapping keys kept)."""
    if isinstance(value, dict):
        return {k: _secret_leaf(v, found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_secret_leaf(v, found) for v in value]
    if value is None or isinstance(value, bool) or value == "" or _is_marker(value):
        return value
    text = str(value)
    if found is not None:
        found.add(text)
        _redact_patterns(text, found)  # "Bearer xyz": "xyz" alone is a secret too
    return redact_value(text)


def _walk(value: Any, found: set[str] | None) -> Any:
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if is_secret_key(key):
                out[key] = _secret_leaf(item, found)
            elif normalize_key(key) in SECRET_LIST_KEYS and isinstance(item, list):
                out[key] = [_secret_leaf(v, found) if isinstance(v, str) else _walk(v, found)
                            for v in item]
            elif normalize_key(key) in HEADERS_KEYS and isinstance(item, dict):
                out[key] = {k: _walk(v, found) if str(k) in HEADER_NAME_KEYS
                            else _secret_leaf(v, found) for k, v in item.items()}
            elif normalize_key(key) in SECRET_CHILDREN and isinstance(item, dict):
                children = SECRET_CHILDREN[normalize_key(key)]
                out[key] = {k: _secret_leaf(v, found) if str(k) in children
                            else _walk(v, found) for k, v in item.items()}
            else:
                out[key] = _walk(item, found)
        return out
    if isinstance(value, (list, tuple)):
        return [_walk(v, found) for v in value]
    if isinstance(value, str):
        return _redact_patterns(value, found)
    return value


def redact_all(value: Any) -> Any:
    """A copy of a value known to be secret with every scalar in it redacted (mapping keys,
    booleans and None kept)."""
    return _secret_leaf(value, None)


def redact_config(tree: Any) -> Any:
    """A copy of a config tree (mappings, lists, scalars) with every secret redacted: values
    under secret keys, every value of a ``headers:`` mapping (but ``HEADER_NAME_KEYS``), URL
    userinfo passwords and Bearer/Basic credentials inside any string."""
    return _walk(tree, None)


def secrets_in(tree: Any) -> set[str]:
    """The secret values of a loaded config (at least 4 characters), for ``redact_text``
    and the log filter: what ``redact_config`` hides, and the credential part of each
    ``Bearer xyz`` among them."""
    found: set[str] = set()
    _walk(tree, found)
    return {s for s in found if len(s) >= _MIN_SECRET}


class Redactor:
    """``redact_text`` with its secrets compiled once (the log filter keeps one)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if isinstance(s, str)
                                 and len(s) >= _MIN_SECRET)
        ordered = sorted(self.secrets, key=len, reverse=True)  # longest first
        self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(lambda m: redact_value(m.group(0)), text)
        return _redact_patterns(text)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets`` (4 characters or more) replaced, and URL userinfo
    passwords and Bearer/Basic credentials redacted."""
    return Redactor(secrets).text(text)


def path_is_secret(path: str) -> bool:
    """Whether a config path (``exporters.otlp.headers.authorization``, ``a.tokens[0].token``)
    names a secret: one of its keys is secret-like, or it is or is inside a ``headers:``
    mapping (but ``HEADER_NAME_KEYS``)."""
    keys = [part for part in re.sub(r"\[\d+\]", "", path).split(".") if part]
    for i, key in enumerate(keys):
        if is_secret_key(key):
            return True
        if keys[i + 1:i + 2] and keys[i + 1] in SECRET_CHILDREN.get(normalize_key(key), ()):
            return True
        if normalize_key(key) in HEADERS_KEYS and keys[i + 1:i + 2] != [] \
                and keys[i + 1] in HEADER_NAME_KEYS:
            continue  # mcp_caller's header names
        if normalize_key(key) in HEADERS_KEYS:
            return True
    return False
