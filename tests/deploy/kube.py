"""The Kubernetes artefacts of deploy/kubernetes as the tests read them: each overlay
rendered by the real ``kubectl kustomize``, and a gateway pod's view of its files and
environment rebuilt on this machine (mounts under a temporary directory, Secrets from test
fixtures), so the pod's exact ``--config`` arguments can be run through the gateway's own
loader and ``validate``."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hangar_otelcol.testing import free_port
from tests.support.paths import REPO
from tests.support.processes import terminate, wait_serving

KUBERNETES = REPO / "deploy" / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAYS = KUBERNETES / "overlays"
#: what docs/deploy.md promises (a test checks each exists)
EXPECTED_OVERLAYS = ("single", "scale-out")
#: the gateway's StatefulSet and container (deploy/kubernetes/base/statefulset.yaml)
GATEWAY = "hangar-otelcol"
GATEWAY_CONTAINER = "gateway"
#: the Kubernetes release the objects are validated against (one kubernetes-validate
#: ships; kubectl here is 1.32 too)
KUBERNETES_VERSION = "1.32.0"
DOCS = REPO / "docs" / "deploy.md"

Obj = dict[str, Any]


def targets() -> list[str]:
    """``base`` and every overlay directory, as paths relative to deploy/kubernetes."""
    overlays = sorted(p.name for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())
    return ["base", *(f"overlays/{name}" for name in overlays)]


def overlays() -> list[str]:
    """What a user applies (the base is applied through an overlay, docs/deploy.md)."""
    return [t for t in targets() if t != "base"]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed: cannot render deploy/kubernetes with "
                    "`kubectl kustomize` (install kubectl to run these tests)")
    return found


@functools.cache
def _render(target: str) -> str:
    result = subprocess.run([kubectl(), "kustomize", str(KUBERNETES / target)],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, f"kubectl kustomize {target} failed:\n{result.stderr}"
    return result.stdout


def render(target: str) -> list[Obj]:
    """The objects ``kubectl kustomize deploy/kubernetes/<target>`` prints (fresh copies)."""
    return [doc for doc in yaml.safe_load_all(_render(target)) if doc]


def find(objects: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind
            and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def gateway(objects: list[Obj]) -> Obj:
    return one(objects, "StatefulSet", GATEWAY)


def container(workload: Obj, name: str = GATEWAY_CONTAINER) -> Obj:
    found = [c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    assert len(found) == 1, f"{workload['metadata']['name']}: no container {name}"
    return found[0]


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] in ("StatefulSet", "Deployment", "DaemonSet")]


def pod_containers(workload: Obj) -> list[Obj]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels only; the manifests use no expressions) on labels."""
    assert not selector.get("matchExpressions"), "matchExpressions are not handled here"
    match = selector.get("matchLabels", {})
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def port_number(ctr: Obj, port: int | str) -> int:
    """A container port by number or by name."""
    if isinstance(port, int):
        return port
    found = [p["containerPort"] for p in ctr.get("ports", []) if p.get("name") == port]
    assert found, f"container {ctr['name']} has no port named {port}"
    return int(found[0])


def max_replicas(objects: list[Obj]) -> int:
    """The most gateway replicas the rendering can run (the HPA's maximum, if any)."""
    most = int(gateway(objects)["spec"].get("replicas", 1))
    for hpa in find(objects, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == GATEWAY:
            most = max(most, int(hpa["spec"]["maxReplicas"]))
    return most


# -- Secrets a user provides (docs/deploy.md, "Secrets") ---------------------------------

@dataclass(frozen=True)
class DocumentedSecret:
    name: str
    keys: frozenset[str]
    optional: bool


def documented_secrets() -> dict[str, DocumentedSecret]:
    """The rows of docs/deploy.md's Secrets table: | `name` | `key`, `key` | required? | ..."""
    rows: dict[str, DocumentedSecret] = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.fullmatch(r"`hangar-otelcol-[a-z0-9-]+`", cells[0]):
            continue
        name = cells[0].strip("`")
        keys = frozenset(re.findall(r"`([^`]+)`", cells[1]))
        rows[name] = DocumentedSecret(name, keys, cells[2].lower().startswith("optional"))
    return rows


def _references(workload: Obj, kind: str) -> Iterator[tuple[str, str | None, bool]]:
    """(name, key or None for a whole volume or envFrom, optional) of every reference to
    a ``kind`` ("secret" or "configMap") in the pod spec: volumes, env and envFrom."""
    # the field names: volumes.<kind>.<name field>, env.valueFrom.<kind>KeyRef, envFrom.<kind>Ref
    name_field = "secretName" if kind == "secret" else "name"
    spec = workload["spec"]["template"]["spec"]
    for volume in spec.get("volumes", []):
        if kind in volume:
            source = volume[kind]
            for item in source.get("items") or [None]:
                yield (source[name_field], item["key"] if item else None,
                       bool(source.get("optional")))
    for ctr in pod_containers(workload):
        for env in ctr.get("env", []):
            ref = env.get("valueFrom", {}).get(f"{kind}KeyRef")
            if ref:
                yield ref["name"], ref["key"], bool(ref.get("optional"))
        for source in ctr.get("envFrom", []):
            if f"{kind}Ref" in source:
                ref = source[f"{kind}Ref"]
                yield ref["name"], None, bool(ref.get("optional"))


def secret_references(workload: Obj) -> Iterator[tuple[str, str | None, bool]]:
    """(Secret name, key or None for a whole volume, optional) of every reference."""
    return _references(workload, "secret")


def configmap_references(workload: Obj) -> Iterator[tuple[str, str | None, bool]]:
    """(ConfigMap name, key or None for a whole volume, optional) of every reference."""
    return _references(workload, "configMap")


# -- the gateway pod, rebuilt on this machine ---------------------------------------------

#: the pod's hostname (the gateway's compliance outputs may use ${env:HOSTNAME})
POD_HOSTNAME = "hangar-otelcol-0"


@dataclass
class Pod:
    """A gateway container's args and environment with every mount path moved under
    ``root``: ConfigMap volumes hold the rendered data, Secret volumes the fixture files,
    emptyDirs and claims are empty directories."""

    root: Path
    args: list[str]
    env: dict[str, str]
    #: mount path in the pod -> directory here
    mounts: dict[str, Path]

    def here(self, pod_path: str) -> Path:
        for mount, local in self.mounts.items():
            if pod_path == mount or pod_path.startswith(mount + "/"):
                return local / pod_path[len(mount):].lstrip("/")
        raise AssertionError(f"{pod_path} is on no volume of the pod")

    def process_env(self, **overrides: str) -> dict[str, str]:
        """The pod's environment, plus what a process needs to start here: nothing of the
        test runner's own HANGAR_* / MCP_* variables leaks in."""
        return {"PATH": os.environ.get("PATH", ""), "HOME": str(self.root / "home"),
                "LANG": "C.UTF-8", "HOSTNAME": POD_HOSTNAME, **self.env, **overrides}

    def config_sources(self) -> list[str]:
        """The --config values of the args, in order."""
        sources, args = [], iter(self.args)
        for arg in args:
            if arg == "--config":
                sources.append(next(args))
            elif arg.startswith("--config="):
                sources.append(arg.split("=", 1)[1])
        return sources

    def resolved_config(self) -> dict[str, Any]:
        """The merged, expanded config the pod runs (the gateway's own loader; no
        component validation, so a key this tree does not know yet shows here as
        written)."""
        code = ("import json, sys\n"
                "from hangar_otelcol.config.loader import load\n"
                "print(json.dumps(load(sys.argv[1:])))\n")
        result = subprocess.run([sys.executable, "-c", code, *self.config_sources()],
                                capture_output=True, text=True, timeout=60, cwd=self.root,
                                env=self.process_env())
        assert result.returncode == 0, f"loading the pod's config failed:\n{result.stderr}"
        data: dict[str, Any] = json.loads(result.stdout)
        return data


def build_pod(objects: list[Obj], root: Path, secrets: Mapping[str, Mapping[str, bytes]],
              workload: Obj | None = None, name: str = GATEWAY_CONTAINER) -> Pod:
    """The container ``name`` of ``workload`` (default: the gateway) under ``root``;
    ``secrets`` maps a Secret name to its files (a missing optional Secret stays absent)."""
    workload = workload or gateway(objects)
    spec = workload["spec"]["template"]["spec"]
    ctr = container(workload, name)
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
    configmaps = {o["metadata"]["name"]: o for o in find(objects, "ConfigMap")}
    mounts: dict[str, Path] = {}
    for mount in ctr.get("volumeMounts", []):
        local = root / "pod" / mount["mountPath"].lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = local
        volume = volumes.get(mount["name"])
        if volume is None:
            assert mount["name"] in claims, f"mount {mount['name']}: no volume or claim"
        elif "configMap" in volume:
            data = configmaps[volume["configMap"]["name"]].get("data", {})
            for key, text in data.items():
                (local / key).write_text(text, encoding="utf-8")
        elif "secret" in volume:
            files = secrets.get(volume["secret"]["secretName"])
            assert files is not None or volume["secret"].get("optional"), \
                f"no fixture for the required Secret {volume['secret']['secretName']}"
            for key, content in (files or {}).items():
                (local / key).write_bytes(content)
    env: dict[str, str] = {}
    for item in ctr.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        source = item.get("valueFrom", {})
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[item["name"]] = configmaps[ref["name"]]["data"][ref["key"]]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]].decode()
        else:
            raise AssertionError(f"env {item['name']}: a valueFrom these tests do not know")

    def moved(value: str) -> str:
        for mount, local in sorted(mounts.items(), key=lambda m: -len(m[0])):
            if value == mount or value.startswith(mount + "/"):
                return str(local) + value[len(mount):]
        return value

    def moved_arg(arg: str) -> str:
        flag, sep, value = arg.partition("=")
        return f"{flag}={moved(value)}" if sep and flag.startswith("--") else moved(arg)

    (root / "home").mkdir(parents=True, exist_ok=True)
    return Pod(root, [moved_arg(a) for a in ctr.get("args", [])],
               {k: moved(v) for k, v in env.items()}, mounts)


@contextmanager
def running_pod(target: str, root: Path, secrets: Mapping[str, Mapping[str, bytes]]
                ) -> Iterator[tuple[Pod, dict[str, int]]]:
    """The gateway container of ``target`` run here, everything as in the pod but its
    listeners, which move to free loopback ports (``grpc``, ``http``, ``prom``,
    ``metrics``, ``health``); stopped with SIGTERM at the end, which must exit 0."""
    pod = build_pod(render(target), root, secrets)
    ports = {name: free_port() for name in ("grpc", "http", "prom", "metrics", "health")}
    env = pod.process_env(
        HANGAR_OTELCOL_GRPC_ENDPOINT=f"127.0.0.1:{ports['grpc']}",
        HANGAR_OTELCOL_HTTP_ENDPOINT=f"127.0.0.1:{ports['http']}",
        HANGAR_OTELCOL_PROMETHEUS_ENDPOINT=f"127.0.0.1:{ports['prom']}",
        HANGAR_OTELCOL_METRICS_ENDPOINT=f"127.0.0.1:{ports['metrics']}",
        HANGAR_OTELCOL_HEALTH_ENDPOINT=f"127.0.0.1:{ports['health']}")
    log = root / "gateway.log"
    with log.open("wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "hangar_otelcol", *pod.args],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=err, env=env, cwd=root)
    try:
        wait_serving(f"http://127.0.0.1:{ports['health']}/", process, 30, "gateway",
                     lambda: log.read_text(errors="replace"))
        yield pod, ports
    finally:
        code = terminate(process, 30)
    assert code == 0, log.read_text(errors="replace")
