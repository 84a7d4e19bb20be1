"""The quick-start Redis of overlays/scale-out, run here: its start script against a real
redis-server on a loopback port (the pod's paths moved under a temporary directory), the
readiness probe with and without the password, and the settings the ledger relies on
(append-only file, no eviction: deploy/kubernetes/overlays/scale-out/redis.yaml)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from hangar_otelcol.testing import free_port
from tests.deploy import kube
from tests.deploy.conftest import REDIS_PASSWORD
from tests.support.processes import terminate

CONFIG_FILE = "/run/redis/redis.conf"


def redis_pod(tmp_path: Path, secret_files: dict[str, dict[str, bytes]]
              ) -> tuple[kube.Pod, kube.Obj]:
    objects = kube.render("overlays/scale-out")
    statefulset = kube.one(objects, "StatefulSet", "hangar-otelcol-redis")
    pod = kube.build_pod(objects, tmp_path, secret_files, statefulset, "redis")
    return pod, kube.container(statefulset, "redis")


def moved(pod: kube.Pod, text: str) -> str:
    for mount in sorted(pod.mounts, key=len, reverse=True):
        text = text.replace(mount, str(pod.mounts[mount]))
    return text


def probe(ctr: kube.Obj, port: int, env: dict[str, str]) -> int:
    command = [part.replace("redis-cli", f"redis-cli -p {port}")
               for part in ctr["readinessProbe"]["exec"]["command"]]
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


def test_the_quick_start_redis_starts_with_its_password(
        tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server / redis-cli are not installed (apt-get install redis-server)")
    pod, ctr = redis_pod(tmp_path, secret_files)
    assert ctr["command"][:2] == ["sh", "-c"]
    assert f"redis-server {CONFIG_FILE}" in ctr["command"][2]
    port = free_port()
    # the pod's script, with its volumes moved here and the server on a loopback port
    script = moved(pod, ctr["command"][2].replace(
        f"redis-server {CONFIG_FILE}",
        f"redis-server {CONFIG_FILE} --port {port} --bind 127.0.0.1"))
    env = pod.process_env()
    log = tmp_path / "redis.log"
    with log.open("wb") as out:
        process = subprocess.Popen(["sh", "-c", script], env=env, stdout=out, stderr=out,
                                   cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while probe(ctr, port, env) != 0:
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        # without the password the probe command fails: the server requires it
        assert probe(ctr, port, {k: v for k, v in env.items() if k != "REDISCLI_AUTH"}) != 0
        assert env["REDISCLI_AUTH"] == REDIS_PASSWORD

        def setting(name: str) -> str:
            result = subprocess.run(["redis-cli", "-p", str(port), "config", "get", name],
                                    env=env, capture_output=True, text=True, timeout=30)
            return result.stdout.split()[1]

        assert setting("appendonly") == "yes"
        assert setting("maxmemory-policy") == "noeviction"
        assert setting("dir") == str(pod.here("/data"))
        # the generated config, which holds the password, is the server user's alone
        conf = pod.here(CONFIG_FILE)
        assert conf.stat().st_mode & 0o077 == 0
    finally:
        terminate(process, 30)


def test_the_quick_start_redis_refuses_a_password_it_would_misread(
        tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    pod, ctr = redis_pod(tmp_path, secret_files)
    script = moved(pod, ctr["command"][2].replace(f"redis-server {CONFIG_FILE}", "true"))
    for password, code in (("a\"b", 1), ("a\\b", 1), ("two\nlines", 1), ("", 1),
                           (REDIS_PASSWORD, 0)):
        result = subprocess.run(["sh", "-c", script],
                                env=pod.process_env(REDIS_PASSWORD=password),
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == code, (password, result.stderr)
