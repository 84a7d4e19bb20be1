"""Config of the hangar_audit_log receiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hangar_otelcol.config.types import ByteSize, Duration

# module constants: typed defaults (a call in a dataclass default is flagged by ruff RUF009)
_200MS = Duration(0.2)
_1S = Duration(1.0)
_1MIB = ByteSize(1024 * 1024)
_1KIB = ByteSize(1024)


@dataclass
class HangarAuditLogConfig:
    #: the log file to follow, or "-" for standard input (``mcp-hangar serve ... 2>&1 | ...``)
    path: str = "-"
    #: read standard input whatever ``path`` says
    stdin: bool = False
    #: where to start in a file that has no checkpoint yet
    start_at: Literal["beginning", "end"] = "beginning"
    #: keep the position in a checkpoint file, so a restart neither loses nor repeats lines
    checkpoint: bool = True
    #: checkpoint file; default: $HANGAR_OTELCOL_STATE_DIR, else $XDG_STATE_HOME/hangar-otelcol,
    #: else ~/.local/state/hangar-otelcol, file hangar_audit_log-<id>-<hash of path>.json
    checkpoint_path: str = ""
    #: how often to look for new lines, rotation and truncation
    poll_interval: Duration = _200MS
    #: a batch is sent when it holds this many records ...
    max_batch_lines: int = 512
    #: ... or this long after its first record arrived
    batch_timeout: Duration = _200MS
    #: longer lines are counted (outcome too_long) and skipped
    max_line_size: ByteSize = _1MIB
    #: bytes at the start of the file that identify it across restarts (with device and inode)
    fingerprint_size: ByteSize = _1KIB
    #: forward lines that are not audit events as plain log records instead of skipping them
    forward_other_lines: bool = False
    #: service.name when the line has no "service" key
    service_name: str = "mcp-hangar"
    #: service.version of the resource (1.1.0 does not write it into its lines)
    service_version: str = ""
    #: extra resource attributes
    resource_attributes: dict[str, str] = field(default_factory=dict)
    #: the principal records from this input are bound to (empty: none, as an
    #: unauthenticated sender): what may write the file or the pipe is trusted as it
    principal: str = ""
    #: also write the 1.6+/2.x key (gen_ai.tool.name, gen_ai.usage.*) next to 1.1.0's
    #: mcp.tool.name / mcp.cost.*_tokens, so every hangar line looks the same downstream
    add_genai_keys: bool = True
    #: wait this long before offering a refused (retryable) batch again
    retry_interval: Duration = _1S

    @property
    def reads_stdin(self) -> bool:
        return self.stdin or self.path.strip() == "-"

    def validate(self) -> list[str]:
        errors: list[str] = []
        if not self.reads_stdin and not self.path.strip():
            errors.append('path: required: a log file to follow, or "-" for standard input')
        if self.max_batch_lines < 1:
            errors.append(f"max_batch_lines: must be at least 1; got {self.max_batch_lines}")
        if self.poll_interval <= 0:
            errors.append("poll_interval: must be greater than 0")
        if self.max_line_size < 64:
            errors.append(f"max_line_size: must be at least 64 bytes; got {self.max_line_size}")
        if self.fingerprint_size < 1:
            errors.append("fingerprint_size: must be at least 1 byte")
        if not self.service_name:
            errors.append("service_name: must not be empty")
        return errors
