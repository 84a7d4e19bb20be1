"""Start real syslog receivers (rsyslog, syslog-ng) and run liblognorm's lognormalizer.

Everything binds to 127.0.0.1, runs from a private scratch directory with its
own config, and is stopped by pid. Install the binaries with
tests/exporters/compliance/install_syslog_daemons.sh (scripts/install-test-peers.sh runs it);
tests skip with a reason when they are absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any, Self

from tests.support.processes import terminate
from tests.support.waiting import wait_for

SYSLOG_NG_ROOT = Path(os.environ.get("SYSLOG_NG_ROOT", "/opt/syslog-ng"))
RSYSLOGD = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd"
                                        if os.path.exists("/usr/sbin/rsyslogd") else None)
SYSLOG_NG = SYSLOG_NG_ROOT / "usr/sbin/syslog-ng"
LOGNORMALIZER = shutil.which("lognormalizer")


def have_rsyslog() -> bool:
    return RSYSLOGD is not None


def have_rsyslog_tls() -> bool:
    return have_rsyslog() and any(Path(p).exists() for p in (
        "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so", "/usr/lib/aarch64-linux-gnu/rsyslog/"
        "lmnsd_ossl.so", "/usr/lib/rsyslog/lmnsd_ossl.so"))


def have_syslog_ng() -> bool:
    return SYSLOG_NG.exists()


class _Daemon:
    """``with Rsyslog(...) as daemon:`` starts the daemon and stops it when the block ends,
    also after a failure; what it received can still be read afterwards."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ----------------------------------------------------------------------------- rsyslog

_RSYSLOG_TEMPLATE = r'''
template(name="dump" type="list") {
  constant(value="{")
  property(name="pri" format="jsonf" outname="pri") constant(value=",")
  property(name="timereported" dateFormat="rfc3339" format="jsonf" outname="ts")
  constant(value=",")
  property(name="hostname" format="jsonf" outname="host") constant(value=",")
  property(name="app-name" format="jsonf" outname="app") constant(value=",")
  property(name="procid" format="jsonf" outname="procid") constant(value=",")
  property(name="msgid" format="jsonf" outname="msgid") constant(value=",")
  property(name="msg" format="jsonf" outname="msg") constant(value=",")
  constant(value="\"sd\":") property(name="$!rfc5424-sd")
  constant(value="}\n")
}
'''


class Rsyslog(_Daemon):
    """rsyslogd with imudp + imtcp (plain), or imtcp with TLS (ossl driver)."""

    def __init__(self, folder: Path, port: int, *, tls: tuple[Path, Path] | None = None) -> None:
        self.folder = folder
        self.port = port
        self.tls = tls
        self.out = folder / "out.jsonl"
        self.pidfile = folder / "rsyslogd.pid"
        (folder / "work").mkdir(parents=True, exist_ok=True)
        self.conf = folder / "rsyslog.conf"
        if tls:
            cert, key = tls
            head = (f'global(workDirectory="{folder}/work" maxMessageSize="64k" '
                    f'parser.escapeControlCharactersOnReceive="off" '
                    f'DefaultNetstreamDriverCAFile="{cert}" '
                    f'DefaultNetstreamDriverCertFile="{cert}" '
                    f'DefaultNetstreamDriverKeyFile="{key}")\n'
                    'module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" '
                    'StreamDriver.AuthMode="anon")\n'
                    f'input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="r")\n')
        else:
            head = (f'global(workDirectory="{folder}/work" maxMessageSize="64k" '
                    'parser.escapeControlCharactersOnReceive="off")\n'
                    'module(load="imtcp")\nmodule(load="imudp")\n'
                    f'input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="r")\n'
                    f'input(type="imudp" address="127.0.0.1" port="{port}" ruleset="r")\n')
        self.conf.write_text(
            head + 'module(load="mmpstrucdata")\n' + _RSYSLOG_TEMPLATE +
            'ruleset(name="r") {\n  action(type="mmpstrucdata" sd_name.lowercase="off")\n'
            f'  action(type="omfile" file="{self.out}" template="dump")\n}}\n')
        self.pid: int | None = None

    def start(self) -> None:
        self.pidfile.unlink(missing_ok=True)
        subprocess.run([RSYSLOGD or "rsyslogd", "-f", str(self.conf), "-i", str(self.pidfile)],
                       check=True, timeout=30, capture_output=True)
        wait_for(lambda: self.pidfile.exists() and self.pidfile.read_text().strip(),
                 what="rsyslogd pid file")
        self.pid = int(self.pidfile.read_text())
        wait_for(self._listening, what=f"rsyslogd listening on {self.port}")

    def _listening(self) -> bool:

        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False
        try:
            wait_for(gone, timeout=15, what="rsyslogd to exit")
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)

    def records(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        out = []
        for line in _complete_lines(self.out):
            line = line.replace('"sd":}', '"sd":null}')
            out.append(json.loads(line))
        return out


# ----------------------------------------------------------------------------- syslog-ng

def _complete_lines(path: Path) -> list[str]:
    """The lines a daemon has finished writing (a test may read while it writes the next)."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    return [line for line in lines[:-1] if line]  # the last piece is "" or being written


class SyslogNg(_Daemon):
    """syslog-ng 3.38 unpacked from the Debian package: RFC 5424 over udp/tcp/lf/tls."""

    def __init__(self, folder: Path, ports: dict[str, int],
                 tls: tuple[Path, Path] | None = None) -> None:
        self.folder = folder
        self.ports = ports
        self.out = folder / "out.jsonl"
        self.pidfile = folder / "sng.pid"
        (folder / "persist").mkdir(parents=True, exist_ok=True)
        sources = [
            f'source s_tcp {{ syslog(ip("127.0.0.1") port({ports["tcp"]}) transport("tcp")); }};',
            f'source s_udp {{ syslog(ip("127.0.0.1") port({ports["udp"]}) transport("udp")); }};',
            f'source s_lf {{ network(ip("127.0.0.1") port({ports["lf"]}) transport("tcp") '
            'flags(syslog-protocol)); };',
        ]
        names = ["s_tcp", "s_udp", "s_lf"]
        if tls:
            cert, key = tls
            sources.append(f'source s_tls {{ syslog(ip("127.0.0.1") port({ports["tls"]}) '
                           f'transport("tls") tls(key-file("{key}") cert-file("{cert}") '
                           'peer-verify(optional-untrusted))); };')
            names.append("s_tls")
        conf = "\n".join([
            "@version: 3.38",
            "options { keep-hostname(yes); chain-hostnames(no); stats-freq(0); frac-digits(6);"
            " log-msg-size(65536); };",
            *sources,
            f'destination d {{ file("{self.out}" template("$(format-json --scope none '
            '--key .SDATA.* --pair pri=$PRI --pair host=$HOST --pair app=$PROGRAM '
            '--pair procid=$PID --pair msgid=$MSGID --pair ts=$ISODATE --pair msg=$MSG)\\n")); };',
            "log { " + " ".join(f"source({n});" for n in names) + " destination(d); };",
        ])
        self.conf = folder / "sng.conf"
        self.conf.write_text(conf + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "LD_LIBRARY_PATH": str(SYSLOG_NG_ROOT / "usr/lib/syslog-ng")}
        with open(self.folder / "sng.err", "wb") as err:
            self.proc = subprocess.Popen(
                [str(SYSLOG_NG), "-F", f"--module-path={SYSLOG_NG_ROOT}/usr/lib/syslog-ng/3.38",
                 "-f", str(self.conf), "-R", str(self.folder / "persist/state"),
                 "-p", str(self.pidfile), "-c", str(self.folder / "sng.ctl")],
                env=env, stdout=subprocess.DEVNULL, stderr=err)


        def listening() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("syslog-ng exited: " +
                                   (self.folder / "sng.err").read_text(errors="replace"))
            with socket.socket() as s:
                s.settimeout(0.2)
                return s.connect_ex(("127.0.0.1", self.ports["tcp"])) == 0
        wait_for(listening, what="syslog-ng listening")

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):  # killed by then
            terminate(self.proc, 15)
        self.proc = None

    def records(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(x) for x in _complete_lines(self.out)]


# ----------------------------------------------------------------------------- lognormalizer

def lognormalize_cef(lines: list[str], folder: Path) -> list[dict[str, Any]]:
    """Parse CEF lines with liblognorm 2.0.6 (`rule=:%cefmsg:cef%`)."""
    rb = folder / "cef.rb"
    rb.write_text("version=2\nrule=:%cefmsg:cef%\n")
    fed = [_space_after_header(x) for x in lines]
    proc = subprocess.run([LOGNORMALIZER or "lognormalizer", "-r", str(rb), "-e", "json"],
                          input=("\n".join(fed) + "\n").encode(), capture_output=True,
                          timeout=60, check=True)
    return [json.loads(x) for x in proc.stdout.decode().splitlines() if x.strip()]


def _space_after_header(line: str) -> str:
    # liblognorm 2.0.6 drops the first character of the first extension key unless a
    # space follows the 7th header pipe (liblognorm issue #363, formats.md §6.3)
    pipes = 0
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == "|":
            pipes += 1
            if pipes == 7:
                return line[:i + 1] + " " + line[i + 1:]
        i += 1
    return line
