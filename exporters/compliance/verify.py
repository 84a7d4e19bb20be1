"""``hangar-otelcol verify FILE...``: check chained compliance files (chain.py).

Files are read in the order given (a rotated set oldest first: out.log.2 out.log.1 out.log),
gzip allowed; each line's format is recognised by itself. A stream must start at sequence
number 1 and end with a final checkpoint (``--open``: a file still written may end
without one); the first bad record is named with its reason.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .chain import CHECKPOINT, FINAL, GENESIS, Hasher, Link, parse_link, signed_text


@dataclass
class _Stream:
    seq: int = 0
    last: bytes = GENESIS
    final: bool = False
    where: str = ""


@dataclass
class Result:
    records: int = 0
    checkpoints: int = 0
    resent: int = 0
    streams: dict[str, int] = field(default_factory=dict)
    #: "<file>:<line>: <reason>" of the first bad record, or of the cut-off end
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def _lines(path: str) -> Iterator[bytes]:
    """The lines of ``path`` (gzip or not) without their newlines, read as a stream (a
    day of records need not fit in memory); a last line without its newline is marked."""
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else open(path, "rb", buffering=1 << 20)) as f:
        for line in f:
            if line.endswith(b"\n"):
                yield line[:-1]
            else:
                yield line + b"\x00torn"


def verify(paths: list[str], key: bytes | None, *, allow_open_end: bool = False,
           public_key: Any = None, allow_resent: bool = False) -> Result:
    """Check ``paths`` in order; with ``public_key`` (Ed25519) every checkpoint must carry
    a valid signature; with ``allow_resent`` a record identical to one verified already
    (a network output's resend after a broken connection,
    exporters/compliance/outputs/syslog_net.py) is counted in ``resent``, not an error."""
    result = Result()
    chain_value = Hasher(key)
    streams: dict[str, _Stream] = {}
    macs: set[bytes] = set()
    sent: set[bytes] = set()  # digests of the lines verified (with allow_resent)
    for i, path in enumerate(paths):
        for n, line in enumerate(_lines(path), 1):
            where = f"{path}:{n}"
            if line.endswith(b"\x00torn"):
                if allow_open_end and i == len(paths) - 1:
                    break  # the line being written right now
                result.problem = f"{where}: truncated (a last line without its newline)"
                return result
            if not line:
                continue
            link = parse_link(line)
            if link is None:
                result.problem = f"{where}: edited (no chain fields, or they are damaged)"
                return result
            st = streams.get(link.stream)
            if st is None:
                if link.seq != 1 and not streams:
                    last = f"-{link.seq - 1}" if link.seq > 2 else ""
                    result.problem = (f"{where}: missing sequence numbers 1{last} in stream "
                                      f"{link.stream} (it does not start at 1)")
                    return result
                if link.seq != 1:
                    result.problem = (f"{where}: unknown stream {link.stream} (its first record "
                                      f"has sequence number {link.seq}, not 1)")
                    return result
                st = streams[link.stream] = _Stream()
            expected = st.seq + 1
            if link.seq != expected:
                if allow_resent and link.seq < expected and \
                        hashlib.sha256(line).digest() in sent:  # the very same bytes
                    result.resent += 1
                    continue
                if link.mac in macs:
                    reason = f"duplicated (sequence number {link.seq} again)"
                elif link.seq < expected:
                    reason = f"reordered (sequence number {link.seq} after {st.seq})"
                elif _comes_later(paths, path, n, link.stream, expected):
                    reason = f"reordered (sequence number {link.seq} where {expected} belongs)"
                else:
                    last = f"-{link.seq - 1}" if link.seq - 1 > expected else ""
                    reason = f"missing sequence numbers {expected}{last}"
                result.problem = f"{where}: {reason} in stream {link.stream}"
                return result
            mac = chain_value(st.last, link.stream.encode(), link.seq, link.canonical)
            if mac != link.mac:
                result.problem = (f"{where}: edited (the chain value of sequence number "
                                  f"{link.seq} in stream {link.stream} does not match"
                                  f"{'' if key else '; a keyed chain needs --key-file/--key-env'})")
                return result
            macs.add(mac)
            if allow_resent:
                sent.add(hashlib.sha256(line).digest())
            st.seq, st.last, st.where = link.seq, mac, where
            if CHECKPOINT.match(link.canonical):
                if public_key is not None:
                    problem = _signature_problem(public_key, link)
                    if problem:
                        result.problem = f"{where}: {problem}"
                        return result
                result.checkpoints += 1
                st.final = FINAL.search(link.canonical) is not None
            else:
                result.records += 1
                st.final = False
    for name, st in streams.items():
        result.streams[name] = st.seq
        if not st.final and not allow_open_end and not result.problem:
            result.problem = (f"{st.where}: truncated after the last checkpoint (stream {name} "
                              f"does not end with a final checkpoint at sequence number "
                              f"{st.seq}; --open for a file still being written)")
    return result


def _signature_problem(public_key: Any, link: Link) -> str:
    from cryptography.exceptions import InvalidSignature

    if link.sig is None:
        return f"edited (checkpoint {link.seq} of stream {link.stream} is not signed)"
    try:
        public_key.verify(link.sig, signed_text(link.stream.encode(), link.seq, link.mac))
    except InvalidSignature:
        return (f"edited (the signature of checkpoint {link.seq} of stream {link.stream} "
                "does not verify with the public key)")
    return ""


def _comes_later(paths: list[str], path: str, after: int, stream: str, seq: int) -> bool:
    """Whether ``seq`` of ``stream`` appears after line ``after`` of ``path`` (only asked
    once, for the first gap, to tell a swap from a loss)."""
    started = False
    for p in paths:
        if p == path:
            started = True
        if not started:
            continue
        for n, line in enumerate(_lines(p), 1):
            if p == path and n <= after:
                continue
            link = parse_link(line)
            if link is not None and link.stream == stream and link.seq == seq:
                return True
    return False
