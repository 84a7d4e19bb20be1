"""The prometheusremotewrite exporter: OTLP metrics as Prometheus remote write 1.0.

One request per batch: a snappy-compressed (block format) ``WriteRequest`` POSTed with
``Content-Encoding: snappy`` and ``X-Prometheus-Remote-Write-Version: 0.1.0``. Retries what
the remote-write spec says to retry: 5xx and 429 (honouring Retry-After) and connection
failures; any other 4xx is permanent (e.g. 400 for an out-of-order sample). The queue has
one consumer by default, so requests arrive in order.
"""

from __future__ import annotations

import aiohttp
import cramjam

from hangar_otelcol import __version__
from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.exporterhelper import ExporterHelper, ExportError
from hangar_otelcol.exporters.otlp.http_exporter import _error_detail, parse_retry_after
from hangar_otelcol.exporters.prometheusremotewrite.config import RemoteWriteConfig
from hangar_otelcol.exporters.prometheusremotewrite.translate import translate
from hangar_otelcol.pdata import Batch, Signal


class RemoteWriteExporter(ExporterHelper):
    queues_bytes = True

    def __init__(self, settings: CreateSettings, config: RemoteWriteConfig) -> None:
        super().__init__(settings, config)
        self.config = config
        headers = {"User-Agent": f"hangar-otelcol/{__version__}",
                   "Content-Type": "application/x-protobuf",
                   "Content-Encoding": "snappy",
                   "X-Prometheus-Remote-Write-Version": "0.1.0"}
        # an empty value (e.g. an unset ${env:VAR:-}) means "do not send this header"
        headers.update({k: v for k, v in config.headers.items() if v})
        authorization = config.basic_auth.header()
        if authorization:
            headers["Authorization"] = authorization
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None
        self._samples = self.telemetry.counter(
            "otelcol_exporter_prometheusremotewrite_samples_total",
            "Samples written, and points left out (delta: remote write holds cumulative "
            "series only)", ("outcome",))

    async def open(self, host: Host) -> None:
        ssl = self.config.tls.ssl_context() if self.config.endpoint.startswith("https://") \
            else True
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl, limit=4),
            timeout=aiohttp.ClientTimeout(total=None))  # the helper's ``timeout`` governs

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, batch: Batch) -> None:
        if batch.signal is not Signal.METRICS:
            return
        session = self._session
        if session is None:
            raise ExportError(f"exporter {self.settings.id} is not started", retryable=True)
        write, samples, skipped = translate(
            batch.merged_message(), namespace=self.config.namespace,  # type: ignore[arg-type]
            external_labels=self.config.external_labels,
            suffixes=self.config.add_metric_suffixes)
        if skipped:
            self._samples.inc("delta_left_out", amount=skipped)
            self.problems.warn("delta", "%s: %d delta points left out: remote write takes "
                               "cumulative series (set the source to cumulative)",
                               self.settings.id, skipped)
        if not samples:
            return
        body = bytes(cramjam.snappy.compress_raw(write.SerializeToString()))
        url = self.config.endpoint
        try:
            async with session.post(url, data=body, headers=self._headers,
                                    server_hostname=self.config.tls.server_name_override
                                    or None) as resp:
                payload = await resp.read()
                status = resp.status
                content_type = resp.headers.get("Content-Type", "")
                retry_after = resp.headers.get("Retry-After")
        except aiohttp.ClientError as exc:
            raise ExportError(f"POST {url}: {type(exc).__name__}: {exc}",
                              retryable=True) from None
        if 200 <= status < 300:
            self._samples.inc("written", amount=samples)
            return
        detail = _error_detail(payload, content_type)
        text = f"POST {url}: HTTP {status}{': ' + detail if detail else ''}"
        if status >= 500 or status == 429:
            raise ExportError(text, retryable=True, retry_after=parse_retry_after(retry_after))
        raise ExportError(text, retryable=False)
