"""Config of the ``compliance`` exporter (see docs/compliance-formats.md for every key).

Minimal (the default gateway config, from MCP_COMPLIANCE_FORMAT/OUTPUT)::

    compliance:
      format: leef                 # jsonlines | json-lines | leef | syslog | cef; "" = off
      output: /var/log/mcp/leef.log  # "" / stderr, stdout, a file path,
                                     # udp://host:514, tcp://host:514, tls://host:6514
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from hangar_otelcol.config.types import ByteSize, Duration, LedgerRef, excerpt
from hangar_otelcol.exporterhelper import QueueConfig, RetryConfig
from hangar_otelcol.exporterhelper.seen import DedupeConfig
from hangar_otelcol.mcp import DEFAULT_KEYS, InvocationKeys
from hangar_otelcol.net.tls import TLSClientConfig

from .chain import STREAM_SAFE
from .formats import canonical_format, unknown_format_message
from .formats.common import LINE_BREAKS, MAX_FIELD_BYTES, MAX_LINE_BYTES
from .formats.options import (
    DEFAULT_CEF_SEVERITY,
    DEFAULT_SYSLOG_SEVERITY,
    SYSLOG_FACILITIES,
    SYSLOG_SEVERITIES,
    SourceIdentity,
)

#: bounds of the size caps: below, a record's fixed parts may not fit; above, one record
#: could hold a writer's memory
MIN_FIELD_SIZE = 64
MIN_LINE_SIZE = 2048
MAX_SIZE_CAP = 16 * 1024 * 1024

EVENT_KEYS = ("completed", "failed", "denied", "state_change", "requested")
NETWORK_SCHEMES = ("udp", "tcp", "tls")


@dataclass
class FileConfig:
    #: rotate when the next write would pass this size; 0 = never rotate
    rotate_size: ByteSize = ByteSize(0)
    #: rotated files kept (path.1 ... path.N)
    keep: int = 5
    #: reopen the file on SIGHUP (logrotate); a moved/deleted file is also detected per write
    reopen_on_sighup: bool = True
    #: permission bits of a newly created file, octal
    mode: str = "0640"
    #: fsync after every write: written records also survive a power loss or an OS crash
    #: (without it they survive the gateway being killed: the OS has them)
    fsync: bool = False

    def validate(self) -> list[str]:
        errors = []
        if self.keep < 0:
            errors.append(f"keep: must not be negative, got {self.keep}")
        try:
            if not 0 <= int(self.mode, 8) <= 0o777:
                raise ValueError
        except ValueError:
            errors.append("mode: expected octal permission bits such as 0640, "
                          f"got {excerpt(self.mode)}")
        return errors


@dataclass
class NetworkConfig:
    """Settings of udp:// tcp:// tls:// outputs."""

    #: TCP only: octet_counting (RFC 6587 3.4.1, default) or lf; TLS always counts octets
    framing: str = "octet_counting"
    #: largest message; 0 = 2048 for UDP, 8192 for TCP/TLS. A longer syslog record loses its
    #: free-text MSG first; structured data and LEEF/CEF payloads are never cut
    max_message_size: ByteSize = ByteSize(0)
    connect_timeout: Duration = Duration(5.0)
    write_timeout: Duration = Duration(30.0)
    #: records sent this long before a connection broke are sent again (no loss on restart)
    resend_window: Duration = Duration(2.0)
    tls: TLSClientConfig = field(default_factory=TLSClientConfig)

    def validate(self) -> list[str]:
        errors = []
        if self.framing not in ("octet_counting", "lf"):
            errors.append(f"framing: must be octet_counting or lf, got {excerpt(self.framing)}")
        return errors


@dataclass
class LeefConfig:
    #: attribute delimiter: one character (TAB by default), or x09 / 0x5E hex notation
    delimiter: str = "\t"
    #: devTimeFormat written with devTime: MMM dd yyyy HH:mm:ss (seed), ...ss.SSS,
    #: ...ss.SSS z, or epoch_ms (13-digit epoch, no devTimeFormat)
    dev_time_format: str = "MMM dd yyyy HH:mm:ss"

    def delimiter_char(self) -> str:
        d = self.delimiter
        low = d.lower()
        if len(d) > 1 and (low.startswith("0x") or low.startswith("x")):
            return chr(int(low.lstrip("0").lstrip("x"), 16))
        return d

    def validate(self) -> list[str]:
        try:
            d = self.delimiter_char()
        except ValueError:
            return [f"delimiter: invalid hex delimiter {excerpt(self.delimiter)}"]
        if len(d) != 1:
            return ["delimiter: must be one character (or x09 / 0x5E), "
                    f"got {excerpt(self.delimiter)}"]
        if d in "|=\\\n\r" or d in LINE_BREAKS:
            return [f"delimiter: {excerpt(d)} cannot be a LEEF delimiter"]
        if self.dev_time_format not in LEEF_TIME_FORMATS:
            return [f"dev_time_format: must be one of {', '.join(LEEF_TIME_FORMATS)}"]
        return []


LEEF_TIME_FORMATS = ("MMM dd yyyy HH:mm:ss", "MMM dd yyyy HH:mm:ss.SSS",
                     "MMM dd yyyy HH:mm:ss z", "MMM dd yyyy HH:mm:ss.SSS z", "epoch_ms")


@dataclass
class ChainConfig:
    """``chain``: tamper-evident records (stream id, sequence number, chain value;
    docs/compliance-formats.md, "Chained records")."""

    enabled: bool = False
    #: HMAC-SHA256 key from this file; neither key_file nor key_env: a plain SHA-256 chain
    key_file: str = ""
    #: ... or from this environment variable
    key_env: str = ""
    #: empty = ``<hostname>-w<worker>-<exporter id>``
    stream: str = ""
    #: a checkpoint record (the chain's state) at most this often while records are
    #: written, and a final one at shutdown; 0 = only at shutdown
    checkpoint_interval: Duration = Duration(60.0)
    #: an Ed25519 private key (PEM) that signs every checkpoint: a verifier needs only the
    #: public key to check them (``verify --public-key``)
    signing_key_file: str = ""

    def validate(self) -> list[str]:
        errors = []
        if self.key_file and self.key_env:
            errors.append("key_file and key_env: give one of them")
        if self.stream and STREAM_SAFE.search(self.stream):
            errors.append("stream: only letters, digits and . _ : @ - (it is written "
                          f"unescaped in every format), got {excerpt(self.stream)}")
        if self.enabled and self.key_file and not os.path.isfile(self.key_file):
            errors.append(f"key_file: {excerpt(self.key_file)} is not a readable file")
        if self.enabled and self.key_env and not os.environ.get(self.key_env):
            errors.append(f"key_env: the environment variable {excerpt(self.key_env)} is not "
                          "set or empty")
        if self.enabled and self.signing_key_file:
            from .chain import load_signing_key
            try:
                load_signing_key(self.signing_key_file)
            except (OSError, ValueError, TypeError) as exc:
                errors.append(f"signing_key_file: {exc}")
        return errors


@dataclass
class ComplianceQueueConfig(QueueConfig):
    """``sending_queue`` with the compliance defaults: one sender keeps the records in
    order; the size is in records."""

    num_consumers: int = 1
    queue_size: int = 100_000
    sizer: Literal["requests", "items", "bytes"] = "items"


@dataclass
class ComplianceRetryConfig(RetryConfig):
    """``retry_on_failure``: evidence is never given up on, it is retried until written."""

    initial_interval: Duration = Duration(0.1)
    max_interval: Duration = Duration(30.0)
    max_elapsed_time: Duration = Duration(0)


@dataclass
class ComplianceConfig(SourceIdentity):
    #: jsonlines | json-lines | leef | syslog | cef; empty = exporter off (accepts, writes nothing)
    format: str = ""
    #: "" or stderr, stdout, a file path, udp://host:port, tcp://host:port, tls://host:port
    output: str = ""
    #: the exporter helper's queue: records waiting for the output (``queue_size`` in
    #: records); with ``storage`` they are kept on disk. When full, new data is refused
    #: with a retryable answer.
    sending_queue: ComplianceQueueConfig = field(default_factory=ComplianceQueueConfig)
    retry_on_failure: ComplianceRetryConfig = field(default_factory=ComplianceRetryConfig)
    #: per write attempt (0: none; network outputs have their own timeouts)
    timeout: Duration = Duration(0)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    file: FileConfig = field(default_factory=FileConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    leef: LeefConfig = field(default_factory=LeefConfig)
    chain: ChainConfig = field(default_factory=ChainConfig)
    #: a text field longer than this (UTF-8 bytes, before escaping) is cut and ends with
    #: ``…[truncated N bytes]`` (docs/compliance-formats.md, "Size caps")
    max_field_size: ByteSize = ByteSize(MAX_FIELD_BYTES)
    #: a record's line longer than this (UTF-8 bytes, without the newline) has its longest
    #: fields cut until it fits; ids, times and numbers are never cut
    max_line_size: ByteSize = ByteSize(MAX_LINE_BYTES)

    #: RFC 5424 PROCID; empty = the gateway's process id
    procid: str = ""
    facility: str = "local0"
    #: record type -> syslog severity name or number
    severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SYSLOG_SEVERITY))
    #: record type -> CEF severity 0-10
    cef_severity: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CEF_SEVERITY))
    #: RFC 5424 BOM before a free-text MSG: auto (only when not ASCII), always, never
    bom: str = "auto"
    invocations: InvocationKeys = field(default_factory=lambda: DEFAULT_KEYS)
    #: write a record for tool-invocation spans too: real audit records are noted in
    #: ``ledger`` and a span is written only if none covers its call. The default gateway
    #: config feeds this exporter audit records only (tool_audit connector) and turns it off.
    count_spans: bool = True
    #: the count-once ledger (an extension id); empty: the service's in-process one
    ledger: LedgerRef = LedgerRef("")

    # ------------------------------------------------------------------ derived

    @property
    def enabled(self) -> bool:
        return bool(self.format.strip())

    @property
    def canonical_format(self) -> str | None:
        return canonical_format(self.format) if self.enabled else None

    def output_kind(self) -> tuple[str, str, int]:
        """(kind, path-or-host, port): kind is stderr, stdout, file, udp, tcp or tls."""
        out = self.output.strip()
        if out in ("", "stderr", "-"):
            return "stderr", "", 0
        if out == "stdout":
            return "stdout", "", 0
        if "://" in out:
            parts = urlsplit(out)
            scheme = parts.scheme.lower()
            if scheme == "file":
                return "file", parts.path, 0
            try:
                port = parts.port or 0
            except ValueError:  # not a number, or out of range: validate says so
                port = -1
            return scheme, parts.hostname or "", port
        return "file", out, 0

    def facility_number(self) -> int:
        f = self.facility.strip().lower()
        return int(f) if f.isdigit() else SYSLOG_FACILITIES.get(f, -1)

    def severity_numbers(self) -> dict[str, int]:
        out = {}
        for key in EVENT_KEYS:
            raw = str(self.severity.get(key, DEFAULT_SYSLOG_SEVERITY[key])).strip().lower()
            out[key] = int(raw) if raw.isdigit() else SYSLOG_SEVERITIES.get(raw, -1)
        return out

    def cef_severities(self) -> dict[str, int]:
        return {k: int(self.cef_severity.get(k, DEFAULT_CEF_SEVERITY[k])) for k in EVENT_KEYS}

    # ------------------------------------------------------------------ validation

    def validate(self) -> list[str]:
        errors: list[str] = []
        if self.enabled and canonical_format(self.format) is None:
            errors.append(f"format: {unknown_format_message(self.format.strip())}")
        kind, where, port = self.output_kind()
        if kind not in ("stderr", "stdout", "file", *NETWORK_SCHEMES):
            errors.append(f"output: unknown scheme {excerpt(kind)} (expected a file path, stderr, "
                          f"stdout, udp://host:port, tcp://host:port or tls://host:port)")
        elif kind in NETWORK_SCHEMES and port < 0:
            errors.append(f"output: {excerpt(self.output)}: the port is not a number from 1 "
                          "to 65535")
        elif kind in NETWORK_SCHEMES and (not where or not port):
            errors.append(f"output: {excerpt(self.output)} needs a host and a port "
                          f"(e.g. {kind}://siem.example.com:{6514 if kind == 'tls' else 514})")
        elif kind == "file":
            errors += [f"output: {problem}" for problem in file_output_problems(where)]
        for key in ("vendor", "product", "version"):
            value = getattr(self, key)
            bad = [c for c in value if c in "|\\\u2028\u2029" or ord(c) < 0x20
                   or 0x7F <= ord(c) < 0xA0]
            if bad:
                errors.append(f"{key}: must not contain '|', '\\\\' or control characters "
                              f"(LEEF and CEF headers cannot escape them)")
        if not self.vendor.strip():
            errors.append("vendor: must not be empty")
        if not self.product.strip():
            errors.append("product: must not be empty")
        for key, limit in (("hostname", 255), ("app_name", 48), ("procid", 128)):
            value = getattr(self, key)
            if any(not 33 <= ord(c) <= 126 for c in value):
                errors.append(f"{key}: must be printable ASCII without spaces (RFC 5424)")
            elif len(value) > limit:
                errors.append(f"{key}: at most {limit} characters (RFC 5424), got {len(value)}")
        errors += _check_sd_id(self.sd_id)
        fac = self.facility_number()
        if not 0 <= fac <= 23:
            errors.append(f"facility: unknown facility {excerpt(self.facility)} "
                          f"(expected a name such as local0 or a number 0-23)")
        for key in self.severity:
            if key not in EVENT_KEYS:
                errors.append(f"severity.{key}: unknown record type "
                              f"(expected {', '.join(EVENT_KEYS)})")
        for key, sev in self.severity_numbers().items():
            if not 0 <= sev <= 7:
                errors.append(f"severity.{key}: unknown syslog severity "
                              f"{excerpt(self.severity.get(key))} (expected e.g. info, "
                              "warning, err "
                              f"or 0-7)")
        for key, value in self.cef_severity.items():
            if key not in EVENT_KEYS:
                errors.append(f"cef_severity.{key}: unknown record type "
                              f"(expected {', '.join(EVENT_KEYS)})")
            elif not 0 <= int(value) <= 10:
                errors.append(f"cef_severity.{key}: must be 0-10, got {value}")
        if not MIN_FIELD_SIZE <= self.max_field_size <= MAX_SIZE_CAP:
            errors.append(f"max_field_size: must be between {MIN_FIELD_SIZE} and "
                          f"{MAX_SIZE_CAP} bytes, got {self.max_field_size}")
        if not MIN_LINE_SIZE <= self.max_line_size <= MAX_SIZE_CAP:
            errors.append(f"max_line_size: must be between {MIN_LINE_SIZE} and "
                          f"{MAX_SIZE_CAP} bytes, got {self.max_line_size}")
        elif self.max_field_size > self.max_line_size:
            errors.append(f"max_field_size: must not be larger than max_line_size "
                          f"({self.max_line_size}), got {self.max_field_size}")
        if self.bom not in ("auto", "always", "never"):
            errors.append(f"bom: must be auto, always or never, got {excerpt(self.bom)}")
        return errors


def file_output_problems(path: str) -> list[str]:
    """Why ``path`` cannot be a compliance file: it exists and is not a regular file (a
    directory, FIFO, device, socket, or a symbolic link: the file is opened with
    O_NOFOLLOW), or its directory does not exist."""
    if not path:
        return ["a file output needs a path"]
    shown = excerpt(path, quote=False)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        return [f"{shown}: cannot check the output file: {exc.strerror or exc}"]
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            return [f"{shown} is a symbolic link; a compliance file is never written through "
                    "one (give the real path; stdout/stderr for the streams)"]
        if stat.S_ISDIR(st.st_mode):
            return [f"{shown} is a directory"]
        if not stat.S_ISREG(st.st_mode):
            what = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else
                    "a socket" if stat.S_ISSOCK(st.st_mode) else "a device")
            return [f"{shown} is {what}, not a regular file"]
        return []
    parent = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(parent):
        return [f"directory {excerpt(parent)} of the output file does not exist"]
    return []


def _check_sd_id(sd_id: str) -> list[str]:
    # RFC 5424 §6.3.2: SD-NAME is 1-32 PRINTUSASCII except '=', SP, ']', '"';
    # an id without '@' is reserved for IANA-registered ids
    if not sd_id or len(sd_id) > 32:
        return [f"sd_id: must be 1-32 characters (RFC 5424), got {len(sd_id)}"]
    if any(not 33 <= ord(c) <= 126 or c in '=]"' for c in sd_id):
        return ["sd_id: must be printable ASCII without '=', ']', '\"' or spaces (RFC 5424)"]
    name, at, pen = sd_id.partition("@")
    if not at or not name or not pen.isdigit() or "@" in pen:
        return [f"sd_id: expected name@<private enterprise number>, e.g. mcp@49152; "
                f"got {excerpt(sd_id)}"]
    return []
