"""The gateway config a pod of each overlay runs: the ConfigMap's copies are the shipped
files, the exact `--config` arguments and environment of the container (mounts rebuilt
under a temporary directory, Secrets from fixtures) pass `hangar-otelcol validate`, listen
where the Service sends traffic, authenticate every sender, and share the count-once
ledger whenever more than one replica can run (docs/deploy.md)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hangar_otelcol.net.endpoints import is_loopback, split_endpoint
from tests.deploy import kube
from tests.deploy.conftest import HANGAR_TOKEN
from tests.support.paths import REPO

ALL = kube.targets()
OVERLAYS = kube.overlays()

#: ConfigMap key -> the shipped file it copies (deploy/kubernetes/base/kustomization.yaml)
COPIES = {"gateway.yaml": "config/gateway.yaml",
          "secure-gateway.yaml": "config/recipes/secure-gateway.yaml",
          "scale-out.yaml": "config/recipes/scale-out.yaml"}


def config_map(objects: list[kube.Obj]) -> dict[str, str]:
    found = [o for o in kube.find(objects, "ConfigMap")
             if o["metadata"]["name"].startswith("hangar-otelcol-config")]
    assert len(found) == 1
    data: dict[str, str] = found[0]["data"]
    return data


@pytest.mark.parametrize("key", sorted(COPIES))
def test_the_configmap_copies_are_the_shipped_files(key: str) -> None:
    shipped = REPO / COPIES[key]
    if not shipped.exists():
        # config/recipes/scale-out.yaml comes with the Redis ledger (main, 6f055d1); the
        # copy was taken from there. Once merged, this compares the two.
        pytest.skip(f"{COPIES[key]} is not in this tree yet")
    rendered = config_map(kube.render("base"))[key]
    assert rendered == shipped.read_text(encoding="utf-8"), \
        f"deploy/kubernetes/base/config/{key} differs from {COPIES[key]}: copy it again"
    assert (kube.BASE / "config" / key).read_text(encoding="utf-8") == rendered


@pytest.mark.parametrize("target", ALL)
def test_every_config_argument_is_a_file_of_the_configmap(target: str) -> None:
    objects = kube.render(target)
    ctr = kube.container(kube.gateway(objects))
    volumes = {v["name"]: v for v in kube.gateway(objects)["spec"]["template"]["spec"]["volumes"]}
    config_mounts = {m["mountPath"]: volumes[m["name"]]["configMap"]["name"]
                     for m in ctr["volumeMounts"] if "configMap" in volumes.get(m["name"], {})}
    pod = kube.Pod(Path("."), ctr["args"], {}, {})
    sources = pod.config_sources()
    assert sources and sources[0].endswith("/gateway.yaml")
    data = config_map(objects)
    for source in sources:
        directory, _, key = source.rpartition("/")
        assert directory in config_mounts, f"--config {source} is not on the ConfigMap volume"
        assert key in data, f"--config {source}: the ConfigMap has no {key}"


def resolved(target: str, tmp_path: Path,
             secrets: Mapping[str, Mapping[str, bytes]]) -> dict[str, Any]:
    objects = kube.render(target)
    return kube.build_pod(objects, tmp_path, secrets).resolved_config()


@pytest.mark.parametrize("target", ALL)
def test_the_pod_listens_where_the_service_sends(
        target: str, tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    objects = kube.render(target)
    ctr = kube.container(kube.gateway(objects))
    config = resolved(target, tmp_path, secret_files)
    protocols = config["receivers"]["otlp"]["protocols"]
    listeners = {
        "otlp-grpc": protocols["grpc"]["endpoint"],
        "otlp-http": protocols["http"]["endpoint"],
        "cost-metrics": config["exporters"]["prometheus"]["endpoint"],
        "self-metrics": config["service"]["telemetry"]["metrics"]["address"],
        "health": config["extensions"]["health_check"]["endpoint"],
    }
    for port_name, endpoint in listeners.items():
        host, port = split_endpoint(endpoint)
        assert port == kube.port_number(ctr, port_name), f"{port_name}: {endpoint}"
        # a Service reaches the pod's IP, never its loopback
        assert not is_loopback(host), f"{port_name}: {endpoint} is loopback only"
    pipelines = config["service"]["pipelines"]
    assert any("otlp" in p.get("receivers", []) for p in pipelines.values())
    assert any("prometheus" in p.get("exporters", []) for p in pipelines.values())
    assert "health_check" in config["service"]["extensions"]


@pytest.mark.parametrize("target", ALL)
def test_every_sender_authenticates_over_tls(
        target: str, tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    config = resolved(target, tmp_path, secret_files)
    for name, protocol in config["receivers"]["otlp"]["protocols"].items():
        assert protocol["auth"]["authenticator"] == "bearertokenauth", name
        assert protocol["tls"]["cert_file"] and protocol["tls"]["key_file"], name
        assert not protocol.get("insecure_no_auth"), name
    assert "bearertokenauth" in config["service"]["extensions"]


@pytest.mark.parametrize("target", ALL)
def test_the_state_directory_is_the_replicas_volume(
        target: str, tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    objects = kube.render(target)
    pod = kube.build_pod(objects, tmp_path, secret_files)
    config = pod.resolved_config()
    ctr = kube.container(kube.gateway(objects))
    claims = {c["metadata"]["name"] for c in kube.gateway(objects)["spec"]["volumeClaimTemplates"]}
    claim_paths = [m["mountPath"] for m in ctr["volumeMounts"] if m["name"] in claims]
    # file_storage: its directory, else HANGAR_OTELCOL_STATE_DIR (hangar_otelcol/statedir.py)
    directory = config["extensions"]["file_storage"].get("directory") or \
        pod.env["HANGAR_OTELCOL_STATE_DIR"]
    assert directory in [str(pod.here(p)) for p in claim_paths]


@pytest.mark.parametrize("target", ALL)
def test_replicas_share_the_ledger_whenever_there_can_be_several(
        target: str, tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    """With a ledger per replica, a call whose span and audit record reach two replicas
    is counted twice (docs/deploy.md): more than one replica needs the Redis ledger."""
    objects = kube.render(target)
    ledger = resolved(target, tmp_path, secret_files)["extensions"]["call_ledger"]
    redis = ledger.get("redis", {}).get("endpoint", "")
    if kube.max_replicas(objects) > 1:
        assert redis, "several replicas, and no shared ledger"
        assert not ledger.get("storage"), "the ledger must not be the replica's own file"
    else:
        assert not redis and ledger["storage"] == "file_storage"


def test_scale_out_points_the_ledger_at_its_redis(
        tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    objects = kube.render("overlays/scale-out")
    ledger = resolved("overlays/scale-out", tmp_path, secret_files)["extensions"]["call_ledger"]
    host, port = split_endpoint(ledger["redis"]["endpoint"])
    service = kube.one(objects, "Service", host)
    redis = kube.one(objects, "StatefulSet", host)
    assert kube.selects({"matchLabels": service["spec"]["selector"]},
                        redis["spec"]["template"]["metadata"]["labels"])
    redis_ctr = kube.container(redis, "redis")
    assert [p["port"] for p in service["spec"]["ports"]] == [port]
    assert kube.port_number(redis_ctr, service["spec"]["ports"][0]["targetPort"]) == port
    # the gateway authenticates with the password the Redis requires
    gateway_env = {e["name"]: e for e in kube.container(kube.gateway(objects))["env"]}
    redis_env = {e["name"]: e for e in redis_ctr["env"]}
    assert gateway_env["HANGAR_OTELCOL_LEDGER_REDIS_PASSWORD"]["valueFrom"] == \
        redis_env["REDIS_PASSWORD"]["valueFrom"]
    assert ledger["redis"]["password"] == secret_files["hangar-otelcol-redis"]["password"].decode()
    # and only the gateway pods may reach it
    policy = kube.one(objects, "NetworkPolicy", host)
    assert kube.selects(policy["spec"]["podSelector"],
                        redis["spec"]["template"]["metadata"]["labels"])
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    gateway_labels = kube.gateway(objects)["spec"]["template"]["metadata"]["labels"]
    assert peers and all(kube.selects(p["podSelector"], gateway_labels) for p in peers)


@pytest.mark.parametrize("target", OVERLAYS)
def test_hangar_otelcol_validate_accepts_the_pods_config(
        target: str, tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    """The container's own arguments and environment through `hangar-otelcol validate`.
    overlays/scale-out needs call_ledger.redis, which this tree's gateway does not know
    before the Redis ledger (main, 6f055d1) is merged: until then it fails on that key."""
    pod = kube.build_pod(kube.render(target), tmp_path, secret_files)
    result = subprocess.run([sys.executable, "-m", "hangar_otelcol", "validate", *pod.args],
                            capture_output=True, text=True, timeout=60, cwd=pod.root,
                            env=pod.process_env())
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stderr


def post_traces(port: int, ca_file: Path, token: str | None) -> int:
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/v1/traces", data=b"", method="POST",
        headers={"content-type": "application/x-protobuf",
                 **({"authorization": f"Bearer {token}"} if token else {})})
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_single_pod_config_runs_and_authenticates(
        tmp_path: Path, secret_files: dict[str, dict[str, bytes]]) -> None:
    with kube.running_pod("overlays/single", tmp_path, secret_files) as (pod, ports):
        ca = Path(pod.env["HANGAR_OTELCOL_TLS_CERT"])
        assert post_traces(ports["http"], ca, token=None) == 401
        assert post_traces(ports["http"], ca, token="not-a-token") == 401
        assert post_traces(ports["http"], ca, token=HANGAR_TOKEN) == 200
        # its state is on the replica's volume (the SQLite file of file_storage)
        assert any(Path(pod.env["HANGAR_OTELCOL_STATE_DIR"]).iterdir())
