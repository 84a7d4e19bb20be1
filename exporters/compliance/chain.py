"""Tamper-evident compliance records: a hash chain over the written lines (issue 16).

Every record gets a stream id, a sequence number and a chain value::

    mac(n) = H(key?, mac(n-1) || stream "\\n" seq "\\n" canonical(n))

``mac(0)`` is 32 zero bytes; H is HMAC-SHA256 with a key, SHA-256 without one. The
canonical content of a record is exactly its formatted line (without the newline) with
the chain fields left out; they are added in each format's own way, at the end of the
line (JSON-lines, LEEF, CEF) or as the last SD element (syslog), so a verifier recovers
the canonical bytes by cutting them out again (docs/compliance-formats.md, "Chained
records"). The chain is applied to the bytes the formatter made: one hash per record,
no re-parsing on the writer's side except syslog's SD end (one anchored regex match).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .formats.common import IsoTime
from .formats.options import FormatOptions

GENESIS = bytes(32)
#: what a stream id may contain (it is written unescaped into every format)
STREAM_SAFE = re.compile(r"[^A-Za-z0-9._:@-]")

_SHA256 = hashlib.sha256


def stream_id(hostname: str, worker: int, exporter_id: str) -> str:
    """The default stream id: ``<hostname>-w<worker>-<exporter id>``, in safe characters."""
    return STREAM_SAFE.sub("_", f"{hostname or socket.gethostname()}-w{worker}-{exporter_id}")


def load_key(key_file: str = "", key_env: str = "") -> bytes | None:
    """The HMAC key from a file (bytes as they are, a trailing newline dropped) or an
    environment variable; None = a plain SHA-256 chain."""
    if key_file:
        with open(key_file, "rb") as f:
            key = f.read().rstrip(b"\r\n")
        if not key:
            raise ValueError(f"{key_file}: the chain key file is empty")
        return key
    if key_env:
        value = os.environ.get(key_env, "")
        if not value:
            raise ValueError(f"environment variable {key_env} (chain key) is not set or empty")
        return value.encode()
    return None


class Hasher:
    """H(key?, msg): HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed
    once, so a record costs two ``copy()``s instead of ``hmac.digest``'s whole setup
    (1.2 vs 3.0 us for a 400-byte line; bench/micro.py), or SHA-256 without a key."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes | None) -> None:
        self._outer: hashlib._Hash | None = None
        if key is None:
            self._inner = _SHA256()
            return
        if len(key) > 64:  # RFC 2104: a key longer than the block is hashed first
            key = _SHA256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = _SHA256(bytes(b ^ 0x36 for b in key))
        self._outer = _SHA256(bytes(b ^ 0x5C for b in key))

    def __call__(self, prev: bytes, stream: bytes, seq: int, canonical: bytes) -> bytes:
        h = self._inner.copy()
        h.update(b"%s%s\n%d\n" % (prev, stream, seq))
        h.update(canonical)
        if self._outer is None:
            return h.digest()
        o = self._outer.copy()
        o.update(h.digest())
        return o.digest()


def chain_value(key: bytes | None, prev: bytes, stream: bytes, seq: int,
                canonical: bytes) -> bytes:
    """One link: the chain value (32 bytes) of a record (the reference definition)."""
    msg = b"%s%s\n%d\n%s" % (prev, stream, seq, canonical)
    if key is None:
        return _SHA256(msg).digest()
    return hmac.digest(key, msg, "sha256")


# --------------------------------------------------------------------- per format

# the chain fields of each format, as the writer appends them and the verifier finds them
_S = rb"([A-Za-z0-9._:@-]+)"
_HEX = rb"([0-9a-f]{64})"
_SIG = rb"([0-9a-f]{128})"  # an Ed25519 signature, checkpoints only
JSON_CHAIN = re.compile(rb',"chain":\{"stream":"' + _S + rb'","seq":([0-9]+),"mac":"' + _HEX
                        + rb'"(?:,"sig":"' + _SIG + rb'")?\}\}$')
#: from ``chainStream=`` on (found with rfind: a regex search would try every position);
#: group 2 is the delimiter, which must also precede ``chainStream=``
LEEF_CHAIN = re.compile(rb"chainStream=" + _S + rb"(.{1,4}?)chainSeq=([0-9]+)\2chainMac="
                        + _HEX + rb"(?:\2chainSig=" + _SIG + rb")?$", re.S)
CEF_CHAIN = re.compile(rb" deviceExternalId=" + _S + rb" cn1=([0-9]+) cn1Label=ChainSeq "
                       rb"mcpHangarChainMac=" + _HEX + rb"(?: mcpHangarChainSig=" + _SIG + rb")?$")
#: the header (6 tokens) and the SD elements of an RFC 5424 line (values escape '"', '\', ']')
SYSLOG_SD = re.compile(rb'(?:\S+ ){6}(?:\[[^ \]"]+(?: [^= \]"]+="[^"\\]*(?:\\.[^"\\]*)*")*\])+',
                       re.S)  # the unrolled loop: no backtracking per character of a value
SYSLOG_CHAIN = re.compile(rb'\[chain@[0-9]+ stream="' + _S + rb'" seq="([0-9]+)" mac="' + _HEX
                          + rb'"(?: sig="' + _SIG + rb'")?\]')
SYSLOG_CHAIN_LAST = re.compile(SYSLOG_CHAIN.pattern + rb"$")


class Chain:
    """The writer's side: ``seal(line)`` returns the line with its chain fields."""

    __slots__ = ("_d", "_fmt", "_hash", "_pen", "_stream", "committed", "last", "seq",
                 "signer")

    def __init__(self, fmt: str, stream: str, key: bytes | None = None, *,
                 leef_delimiter: str = "\t", sd_id: str = "mcp@49152") -> None:
        self._fmt = fmt
        self._stream = stream.encode()
        self._hash = Hasher(key)
        self._d = leef_delimiter.encode()
        self._pen = sd_id.partition("@")[2].encode() or b"49152"
        self.seq = 0
        self.last = GENESIS
        #: (seq, last) of the newest record known written (saved in checkpoints)
        self.committed = (0, GENESIS)
        #: an Ed25519 private key (cryptography) that signs checkpoints, or None
        self.signer: Any = None

    @property
    def stream(self) -> str:
        return self._stream.decode()

    def restore(self, seq: int, last: bytes) -> None:
        self.seq, self.last = seq, last
        self.committed = (seq, last)

    def seal(self, line: bytes, sign: bool = False) -> bytes:
        """``line`` (without its newline) with the chain fields of the next record; with
        ``sign`` (checkpoints) and a signing key, also an Ed25519 signature of
        ``signed_text(stream, seq, mac)``."""
        seq = self.seq + 1
        stream = self._stream
        mac = self._hash(self.last, stream, seq, line)
        self.seq, self.last = seq, mac
        h = mac.hex().encode()
        sig = b""
        if sign and self.signer is not None:
            sig = self.signer.sign(signed_text(stream, seq, mac)).hex().encode()
        fmt = self._fmt
        if fmt == "jsonlines":
            if sig:
                h += b'","sig":"' + sig
            return b'%s,"chain":{"stream":"%s","seq":%d,"mac":"%s"}}' % (line[:-1], stream,
                                                                         seq, h)
        if fmt == "leef":
            d = self._d
            if sig:
                h += d + b"chainSig=" + sig
            return b"%s%schainStream=%s%schainSeq=%d%schainMac=%s" % (line, d, stream, d, seq,
                                                                      d, h)
        if fmt == "cef":
            if sig:
                h += b" mcpHangarChainSig=" + sig
            return b"%s deviceExternalId=%s cn1=%d cn1Label=ChainSeq mcpHangarChainMac=%s" % (
                line, stream, seq, h)
        if sig:
            h += b'" sig="' + sig
        end = _sd_end(line)
        return b'%s[chain@%s stream="%s" seq="%d" mac="%s"]%s' % (
            line[:end], self._pen, stream, seq, h, line[end:])


def _first_sd_end(line: bytes) -> int:
    """Where the first SD element of an RFC 5424 line ends, or -1 if it is not one with
    parameters.

    Inside a PARAM-VALUE '"' and ']' are always escaped (formats/syslog.py), so the first
    '"]' after the header closes the formatter's one SD element: two find()s instead of
    the regex's walk through every value (bench/micro.py).
    """
    start = 0
    for _ in range(6):
        start = line.find(b" ", start) + 1
        if not start:
            return -1
    space = line.find(b" ", start)
    if b"]" in line[start:space if space > 0 else len(line)]:
        return -1  # [sd-id] without parameters
    end = line.find(b'"]', start)
    return end + 2 if end > 0 else -1


def _sd_end(line: bytes) -> int:
    """Where the SD elements of an RFC 5424 line end (the chain element goes there)."""
    end = _first_sd_end(line)
    if end < 0 or line.startswith(b"[", end):
        m = SYSLOG_SD.match(line)
        return m.end() if m else len(line)
    return end


@dataclass
class Link:
    """What a verifier reads from one chained line."""

    fmt: str
    stream: str
    seq: int
    mac: bytes
    canonical: bytes
    sig: bytes | None = None


def _sig(group: bytes | None) -> bytes | None:
    return bytes.fromhex(group.decode()) if group else None


def signed_text(stream: bytes, seq: int, mac: bytes) -> bytes:
    """What a checkpoint's Ed25519 signature signs: its stream, sequence number and chain
    value (which covers every record before it)."""
    return b"hangar-otelcol chain checkpoint\n%s\n%d\n%s" % (stream, seq, mac.hex().encode())


def load_signing_key(path: str) -> Any:
    """An Ed25519 private key from a PEM file (``openssl genpkey -algorithm ed25519``)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    with open(path, "rb") as f:
        key = load_pem_private_key(f.read(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    with open(path, "rb") as f:
        key = load_pem_public_key(f.read())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def _json_link(line: bytes) -> Link | None:
    m = JSON_CHAIN.search(line)
    if m is None:
        return None
    return Link("jsonlines", m.group(1).decode(), int(m.group(2)), bytes.fromhex(
        m.group(3).decode()), line[:m.start()] + b"}", _sig(m.group(4)))


def _leef_link(line: bytes) -> Link | None:
    at = line.rfind(b"chainStream=")
    m = LEEF_CHAIN.match(line, at) if at > 0 else None
    if m is None:
        return None
    d = m.group(2)
    start = at - len(d)
    if line[start:at] != d:
        return None
    return Link("leef", m.group(1).decode(), int(m.group(3)),
                bytes.fromhex(m.group(4).decode()), line[:start], _sig(m.group(5)))


def _cef_link(line: bytes) -> Link | None:
    m = CEF_CHAIN.search(line)
    if m is None:
        return None
    return Link("cef", m.group(1).decode(), int(m.group(2)),
                bytes.fromhex(m.group(3).decode()), line[:m.start()], _sig(m.group(4)))


def _syslog_link(line: bytes) -> Link | None:
    end = _first_sd_end(line)
    m = SYSLOG_CHAIN.match(line, end) if end > 0 else None
    if m is None or not (m.end() == len(line) or line.startswith(b" ", m.end())):
        sd = SYSLOG_SD.match(line)  # not the formatter's one element: parse the SD
        if sd is None:
            return None
        m = SYSLOG_CHAIN_LAST.search(line, 0, sd.end())
        if m is None:
            return None
    return Link("syslog", m.group(1).decode(), int(m.group(2)),
                bytes.fromhex(m.group(3).decode()), line[:m.start()] + line[m.end():],
                _sig(m.group(4)))


_ENVELOPED = re.compile(rb"<[0-9]{1,3}>1 (?:\S+ ){5}- (?:\xef\xbb\xbf)?")


def parse_link(line: bytes) -> Link | None:
    """The chain fields and canonical bytes of a line of any of the four formats (also a
    LEEF/CEF/JSON line inside an RFC 5424 envelope), or None if it carries no chain."""
    parser: Callable[[bytes], Link | None]
    if line.startswith(b"{"):
        parser = _json_link
    elif line.startswith(b"LEEF:"):
        parser = _leef_link
    elif line.startswith(b"CEF:"):
        parser = _cef_link
    elif line.startswith(b"<"):
        env = _ENVELOPED.match(line)
        if env is not None:  # another format as MSG: the chain covers the payload only
            return parse_link(line[env.end():])
        parser = _syslog_link
    else:
        return None
    return parser(line)


# --------------------------------------------------------------------- checkpoints

#: how a verifier tells a checkpoint (its canonical bytes) and a final one (at shutdown)
#: (anchored on the header: a record's own values may contain these words)
CHECKPOINT = re.compile(rb'^\{"timestamp":"[^"]*","event_type":"ChainCheckpoint"|'
                        rb'^LEEF:2\.0\|(?:[^|]*\|){3}ChainCheckpoint\||'
                        rb'^CEF:0\|(?:(?:[^|\\]|\\.)*\|){3}ChainCheckpoint\||'
                        rb'^<[0-9]+>1 (?:\S+ ){4}ChainCheckpoint ')
FINAL = re.compile(rb'"final":true|final=1|final="1"')


def checkpoint_maker(fmt: str, o: FormatOptions) -> Callable[[int, bool], bytes]:
    """``make(time_unix_nano, final)``: the canonical line of a checkpoint record in
    ``fmt`` (chained like a record, so its chain value is the stream's state at that
    point; a stream must end with a final one, else its end may have been cut off)."""
    from .formats.cef import escape_header
    from .formats.leef import delimiter_field
    from .formats.syslog import header_token

    version = o.version or o.fallback_version
    if fmt == "jsonlines":
        iso = IsoTime("+00:00")
        return lambda t, final: b'{"timestamp":"%s","event_type":"ChainCheckpoint","final":%s}' % (
            iso(t).encode(), b"true" if final else b"false")
    if fmt == "leef":
        d = o.leef_delimiter
        head = (f"LEEF:2.0|{o.vendor}|{o.product}|{version}|ChainCheckpoint|"
                f"{delimiter_field(d)}|").encode()
        bd = d.encode()
        return lambda t, final: b"%sdevTime=%d%scat=chain%sfinal=%d" % (
            head, t // 1_000_000, bd, bd, int(final))
    if fmt == "cef":
        head = (f"CEF:0|{escape_header(o.vendor, 63)}|{escape_header(o.product, 63)}|"
                f"{escape_header(version, 31)}|ChainCheckpoint|Chain Checkpoint|0|").encode()
        return lambda t, final: b"%srt=%d act=checkpoint final=%d" % (
            head, t // 1_000_000, int(final))
    iso_z = IsoTime("Z")
    fixed = (f"{header_token(o.hostname, 255)} {header_token(o.app_name, 48)} "
             f"{header_token(o.procid, 128)}").encode()
    pri = o.facility * 8 + 6
    sd_id = o.sd_id.encode()
    return lambda t, final: b'<%d>1 %s %s ChainCheckpoint [%s final="%d"]' % (
        pri, iso_z(t).encode(), fixed, sd_id, int(final))
