from __future__ import annotations

from pathlib import Path

import pytest

from hangar_otelcol.config.loader import load
from hangar_otelcol.config.types import ConfigError


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_env_expansion_typed_default_and_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    monkeypatch.setenv("PORT", "4317")
    monkeypatch.setenv("EMPTY", "")
    monkeypatch.delenv("UNSET", raising=False)
    cfg = write(tmp_path, "a.yaml", """
a: ${env:PORT}
b: 127.0.0.1:${PORT}
c: ${env:UNSET:-fallback}
d: ${env:EMPTY:-used-when-empty}
e: ${env:UNSET}
f: price is $$5
""")
    data = load([cfg])
    assert data == {"a": 4317, "b": "127.0.0.1:4317", "c": "fallback", "d": "used-when-empty",
                    "e": "", "f": "price is $5"}


def test_a_required_variable_unset_or_empty_is_an_error_naming_the_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPTY", "")
    monkeypatch.setenv("SET", "redis:6379")
    monkeypatch.delenv("UNSET", raising=False)
    cfg = write(tmp_path, "a.yaml", """
ledger: {endpoint: "${env:UNSET:?the Redis host:port}"}
other: ${env:EMPTY:?}
fine: ${env:SET:?needed}
""")
    with pytest.raises(ConfigError) as err:
        load([cfg])
    assert err.value.errors == [
        "ledger.endpoint: environment variable UNSET is not set: the Redis host:port",
        "other: environment variable EMPTY is not set: required"]
    monkeypatch.setenv("UNSET", "x")
    monkeypatch.setenv("EMPTY", "y")
    assert load([cfg])["fine"] == "redis:6379"


def test_file_reference_and_missing_file(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret", "s3cr3t\n")
    cfg = write(tmp_path, "a.yaml", f"key: ${{file:{secret}}}\nbad: ${{file:{tmp_path}/nope}}\n")
    with pytest.raises(ConfigError) as err:
        load([cfg])
    assert len(err.value.errors) == 1
    assert err.value.errors[0].startswith("bad: cannot read ${file:")
    ok = write(tmp_path, "b.yaml", f"key: ${{file:{secret}}}\n")
    assert load([ok]) == {"key": "s3cr3t"}


def test_files_merge_in_order_maps_deep_lists_replaced(tmp_path: Path) -> None:
    one = write(tmp_path, "1.yaml", "x: {a: 1, b: [1, 2]}\ny: keep\n")
    two = write(tmp_path, "2.yaml", "x: {b: [3], c: 3}\n")
    assert load([one, two]) == {"x": {"a": 1, "b": [3], "c": 3}, "y": "keep"}


def test_set_overrides_win_and_are_yaml(tmp_path: Path) -> None:
    one = write(tmp_path, "1.yaml", "processors: {batch: {timeout: 1s}}\n")
    data = load([one], ["processors.batch.timeout=2s", "processors.batch.send_batch_size=10",
                        "exporters.otlp/tempo.endpoint=tempo:4317"])
    assert data["processors"]["batch"] == {"timeout": "2s", "send_batch_size": 10}
    assert data["exporters"] == {"otlp/tempo": {"endpoint": "tempo:4317"}}


def test_yaml_and_io_errors_are_reported_together(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", "a: [1, 2\n")
    with pytest.raises(ConfigError) as err:
        load([broken, str(tmp_path / "missing.yaml")], ["novalue"])
    text = "\n".join(err.value.errors)
    assert "broken.yaml: invalid YAML (line" in text
    assert "missing.yaml: cannot read config" in text
    assert "--set novalue: expected key.path=value" in text


def test_inline_yaml_source() -> None:
    assert load(["yaml:service: {extensions: []}"]) == {"service": {"extensions": []}}


def test_expanded_text_stays_text_unless_flow_style(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIST", "[a, b]")
    monkeypatch.setenv("MAPPING", "a: b")
    monkeypatch.delenv("UNSET", raising=False)
    data = load(["yaml:{dash: '${env:UNSET:--}', flow: '${env:LIST}', text: '${env:MAPPING}', "
                 "truthy: '${env:UNSET:-true}'}"])
    assert data == {"dash": "-", "flow": ["a", "b"], "text": "a: b", "truthy": True}
