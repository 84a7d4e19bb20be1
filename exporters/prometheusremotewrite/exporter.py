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

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.exporterhelper import ExporterHelper, ExportError
from hangar_otelcol.exporters.otlp.http_exporter import post, request_headers
from hangar_otelcol.exporters.prometheusremotewrite.config import RemoteWriteConfig
from hangar_otelcol.exporters.prometheusremotewrite.translate import translate
from hangar_otelcol.pdata import Batch, Signal


class RemoteWriteExporter(ExporterHelper):
    queues_bytes = True

    def __init__(self, settings: CreateSettings, config: RemoteWriteConfig) -> None:
        super().__init__(settings, config)
        self.config = config
        self._headers = request_headers(
            {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
             "X-Prometheus-Remote-Write-Version": "0.1.0"}, config.headers, config.basic_auth)
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
        answer = await post(session, self.config.endpoint, body, self._headers,
                            self.config.tls.server_name_override)
        if 200 <= answer.status < 300:
            self._samples.inc("written", amount=samples)
            return
        raise answer.error(retryable=answer.status >= 500 or answer.status == 429)
