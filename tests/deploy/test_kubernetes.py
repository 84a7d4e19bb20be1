"""deploy/kubernetes as a user checks it before applying: every overlay renders with the
real `kubectl kustomize`, every object is valid against the Kubernetes schemas (strict:
an unknown or misspelt key fails), and the properties the manifests promise hold
(docs/deploy.md): probes on the health port, non-root read-only containers, a volume per
replica for the state directory, an HPA and a PDB aimed at the gateway, every Secret
either rendered or documented as the user's."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from hangar_otelcol import __version__
from tests.deploy import kube

ALL = kube.targets()
OVERLAYS = kube.overlays()


def test_the_documented_overlays_exist() -> None:
    assert set(kube.EXPECTED_OVERLAYS) <= {t.removeprefix("overlays/") for t in OVERLAYS}


@pytest.mark.parametrize("target", ALL)
def test_every_object_is_valid_against_the_kubernetes_schema(target: str) -> None:
    objects = kube.render(target)
    assert objects
    for obj in objects:
        # raises ValidationError, or SchemaNotFoundError for a kind it does not know
        kubernetes_validate.validate(obj, kube.KUBERNETES_VERSION, strict=True)


def test_strict_validation_catches_a_misspelt_key() -> None:
    """The schema check above is not vacuous: a typo in a pod spec fails it."""
    statefulset = copy.deepcopy(kube.gateway(kube.render("base")))
    ctr = statefulset["spec"]["template"]["spec"]["containers"][0]
    ctr["imagePulPolicy"] = ctr.pop("imagePullPolicy")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, kube.KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("target", ALL)
def test_probes_ask_the_health_check_extension(target: str) -> None:
    from hangar_otelcol.extensions.health_check.config import HealthCheckConfig

    ctr = kube.container(kube.gateway(kube.render(target)))
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = ctr[kind]["httpGet"]
        # the port the health_check extension listens on in the pod (test_gateway_config
        # checks the config resolves to 13133) and the path it serves
        assert kube.port_number(ctr, probe["port"]) == 13133, kind
        assert probe["path"] == HealthCheckConfig().path, kind
        assert probe.get("scheme", "HTTP") == "HTTP", kind


@pytest.mark.parametrize("target", ALL)
def test_every_container_runs_non_root_on_a_read_only_root(target: str) -> None:
    for workload in kube.workloads(kube.render(target)):
        spec = workload["spec"]["template"]["spec"]
        pod_sc = spec.get("securityContext", {})
        where = workload["metadata"]["name"]
        assert spec.get("automountServiceAccountToken") is False, where
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), where
        for ctr in kube.pod_containers(workload):
            sc = ctr.get("securityContext", {})
            where = f"{workload['metadata']['name']}/{ctr['name']}"
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert not sc.get("privileged"), where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", where
            assert "readinessProbe" in ctr and "livenessProbe" in ctr, where


@pytest.mark.parametrize("target", ALL)
def test_only_empty_dirs_and_claims_are_writable(target: str) -> None:
    for workload in kube.workloads(kube.render(target)):
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", [])}
        claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
        for ctr in kube.pod_containers(workload):
            for mount in ctr.get("volumeMounts", []):
                where = f"{workload['metadata']['name']}/{ctr['name']}:{mount['mountPath']}"
                volume = volumes.get(mount["name"], {})
                if mount.get("readOnly"):
                    continue
                assert mount["name"] in claims or "emptyDir" in volume, \
                    f"{where} is writable but neither an emptyDir nor a claim"
                assert "subPath" not in mount, where
            for mount in ctr.get("volumeMounts", []):
                volume = volumes.get(mount["name"], {})
                if "secret" in volume or "configMap" in volume:
                    assert mount.get("readOnly") is True, mount["mountPath"]
                    # subPath mounts never see an updated Secret: tokens and pricing are
                    # re-read on change (config/recipes/secure-gateway.yaml)
                    assert "subPath" not in mount, mount["mountPath"]


@pytest.mark.parametrize("target", ALL)
def test_the_state_directory_is_a_volume_of_each_replica(target: str) -> None:
    statefulset = kube.gateway(kube.render(target))
    ctr = kube.container(statefulset)
    state_dir = {e["name"]: e.get("value") for e in ctr["env"]}["HANGAR_OTELCOL_STATE_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in ctr["volumeMounts"]}
    assert state_dir in mounts, "HANGAR_OTELCOL_STATE_DIR is not a mount"
    claims = {c["metadata"]["name"]: c for c in statefulset["spec"]["volumeClaimTemplates"]}
    claim = claims.get(mounts[state_dir])
    assert claim is not None, "the state directory is not a volumeClaimTemplate"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    # a replica's queue waits on its volume when it is scaled away (docs/deploy.md)
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == \
        "Retain"


@pytest.mark.parametrize("target", ALL)
def test_a_stopping_replica_has_time_to_drain(target: str) -> None:
    from hangar_otelcol.config.model import ServiceConfig

    spec = kube.gateway(kube.render(target))["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] > float(ServiceConfig().shutdown_timeout)


@pytest.mark.parametrize("target", ALL)
def test_every_configmap_referenced_is_rendered_with_its_keys(target: str) -> None:
    objects = kube.render(target)
    rendered = {o["metadata"]["name"]: o for o in kube.find(objects, "ConfigMap")}
    for workload in kube.workloads(objects):
        for name, key, _ in kube.configmap_references(workload):
            assert name in rendered, f"ConfigMap {name} is referenced but not rendered"
            if key is not None:
                assert key in rendered[name].get("data", {}), f"{name} has no key {key}"


@pytest.mark.parametrize("target", ALL)
def test_every_secret_referenced_is_documented_as_the_users(target: str) -> None:
    objects = kube.render(target)
    rendered = {o["metadata"]["name"] for o in kube.find(objects, "Secret")}
    documented = kube.documented_secrets()
    for workload in kube.workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        secret_mounts = {}
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                secret_mounts[volume["name"]] = volume["secret"]["secretName"]
        for name, key, optional in kube.secret_references(workload):
            if name in rendered:
                continue
            assert name in documented, f"Secret {name} is neither rendered nor in docs/deploy.md"
            assert optional == documented[name].optional, \
                f"Secret {name}: optional in the manifests is {optional}, not as documented"
            if key is not None:
                assert key in documented[name].keys, f"Secret {name}: key {key} undocumented"
        # the files the container is told about (env values pointing into a Secret
        # volume) are documented keys of that Secret
        for ctr in kube.pod_containers(workload):
            mounts = {m["mountPath"]: m["name"] for m in ctr.get("volumeMounts", [])}
            for env in ctr.get("env", []):
                value = env.get("value", "")
                for path, volume_name in mounts.items():
                    if volume_name in secret_mounts and value.startswith(path + "/"):
                        secret = secret_mounts[volume_name]
                        assert value[len(path) + 1:] in documented[secret].keys, \
                            f"{env['name']}={value}: not a documented key of {secret}"


def test_every_documented_secret_is_used_by_some_overlay() -> None:
    used = {name for target in OVERLAYS for w in kube.workloads(kube.render(target))
            for name, _, _ in kube.secret_references(w)}
    assert set(kube.documented_secrets()) == used


@pytest.mark.parametrize("target", ALL)
def test_service_ports_reach_the_gateway_ports(target: str) -> None:
    objects = kube.render(target)
    statefulset = kube.gateway(objects)
    ctr = kube.container(statefulset)
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    service = kube.one(objects, "Service", "hangar-otelcol")
    assert kube.selects({"matchLabels": service["spec"]["selector"]}, labels)
    by_name = {p["name"]: p for p in service["spec"]["ports"]}
    assert set(by_name) == {"otlp-grpc", "otlp-http", "cost-metrics", "self-metrics", "health"}
    expected = {"otlp-grpc": 4317, "otlp-http": 4318, "cost-metrics": 8889,
                "self-metrics": 8888, "health": 13133}
    for name, port in by_name.items():
        # the documented port numbers, and the container port behind each
        assert port["port"] == expected[name], name
        assert kube.port_number(ctr, port["targetPort"]) == expected[name], name
    # the StatefulSet's governing Service is rendered and headless
    headless = kube.one(objects, "Service", statefulset["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert kube.selects({"matchLabels": headless["spec"]["selector"]}, labels)


@pytest.mark.parametrize("target", ALL)
def test_the_pdb_selects_the_gateway_pods_only(target: str) -> None:
    objects = kube.render(target)
    pdbs = kube.find(objects, "PodDisruptionBudget")
    assert pdbs
    gateway_labels = kube.gateway(objects)["spec"]["template"]["metadata"]["labels"]
    for pdb in pdbs:
        targets = [w for w in kube.workloads(objects)
                   if kube.selects(pdb["spec"]["selector"],
                                   w["spec"]["template"]["metadata"]["labels"])]
        assert [w["metadata"]["name"] for w in targets] == [kube.GATEWAY], \
            pdb["metadata"]["name"]
    pdb = kube.one(objects, "PodDisruptionBudget", kube.GATEWAY)
    assert kube.selects(pdb["spec"]["selector"], gateway_labels)
    # one at a time, and never a budget that blocks a drain of a single replica
    assert pdb["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb["spec"]


@pytest.mark.parametrize("target", ALL)
def test_the_hpa_scales_the_gateway_on_cpu(target: str) -> None:
    objects = kube.render(target)
    statefulset = kube.gateway(objects)
    hpas = kube.find(objects, "HorizontalPodAutoscaler")
    if kube.max_replicas(objects) == 1 and not hpas:
        return  # overlays/single: nothing to scale (test_gateway_config checks why)
    assert len(hpas) == 1
    spec = hpas[0]["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": statefulset["apiVersion"],
                                      "kind": statefulset["kind"],
                                      "name": statefulset["metadata"]["name"]}
    assert [m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]
    assert spec["minReplicas"] == statefulset["spec"]["replicas"]
    assert spec["maxReplicas"] > spec["minReplicas"]
    # utilization is relative to the request: every container asks for CPU
    for ctr in kube.pod_containers(statefulset):
        assert ctr["resources"]["requests"]["cpu"], ctr["name"]


def test_single_runs_one_replica_without_autoscaling() -> None:
    objects = kube.render("overlays/single")
    assert kube.gateway(objects)["spec"]["replicas"] == 1
    assert not kube.find(objects, "HorizontalPodAutoscaler")
    assert kube.max_replicas(objects) == 1


@pytest.mark.parametrize("target", ALL)
def test_metrics_ports_are_open_only_to_labelled_namespaces(target: str) -> None:
    """Callers and costs are business data (docs/security.md, hardening item 5)."""
    objects = kube.render(target)
    policy = kube.one(objects, "NetworkPolicy", kube.GATEWAY)
    ctr = kube.container(kube.gateway(objects))
    assert kube.selects(policy["spec"]["podSelector"],
                        kube.gateway(objects)["spec"]["template"]["metadata"]["labels"])
    for rule in policy["spec"]["ingress"]:
        ports = {kube.port_number(ctr, p["port"]) for p in rule["ports"]}
        if ports & {8888, 8889}:
            assert rule.get("from"), "the metrics ports are open to every pod"
            assert all("namespaceSelector" in peer and peer["namespaceSelector"]
                       for peer in rule["from"])
    open_ports = {kube.port_number(ctr, p["port"]) for rule in policy["spec"]["ingress"]
                  for p in rule["ports"]}
    assert open_ports == {4317, 4318, 8888, 8889, 13133}


@pytest.mark.parametrize("target", ALL)
def test_no_service_links_in_the_gateways_environment(target: str) -> None:
    # Services named hangar-otelcol* would inject HANGAR_OTELCOL_* variables, the
    # prefix the gateway's own settings use (config/gateway.yaml)
    spec = kube.gateway(kube.render(target))["spec"]["template"]["spec"]
    assert spec["enableServiceLinks"] is False


@pytest.mark.parametrize("target", ALL)
def test_the_image_is_this_version(target: str) -> None:
    image = kube.container(kube.gateway(kube.render(target)))["image"]
    assert image.rsplit(":", 1)[1] == __version__, image


def test_scale_out_runs_the_bases_gateway() -> None:
    """overlays/scale-out adds the Redis and changes nothing of the gateway, so what
    test_gateway_config checks on scale-out holds for the base too."""
    base = kube.gateway(kube.render("base"))
    scale_out = kube.gateway(kube.render("overlays/scale-out"))
    for obj in (base, scale_out):
        obj["metadata"].pop("namespace", None)
    assert scale_out == base
