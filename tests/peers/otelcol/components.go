// Component list of the hangar-otelcol test peer, in the form the
// Collector's builder (ocb) generates. Versions are pinned in go.mod.
package main

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/attributesprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
)

const (
	coreV    = " v0.159.0"
	contribV = " v0.159.0"
	core     = "go.opentelemetry.io/collector/"
	contrib  = "github.com/open-telemetry/opentelemetry-collector-contrib/"
)

func components() (otelcol.Factories, error) {
	var err error
	factories := otelcol.Factories{
		Telemetry: otelconftelemetry.NewFactory(),
	}

	factories.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](
		filestorage.NewFactory(),
		bearertokenauthextension.NewFactory(),
		healthcheckextension.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ExtensionModules = make(map[component.Type]string, len(factories.Extensions))
	factories.ExtensionModules[filestorage.NewFactory().Type()] = contrib + "extension/storage/filestorage" + contribV
	factories.ExtensionModules[bearertokenauthextension.NewFactory().Type()] = contrib + "extension/bearertokenauthextension" + contribV
	factories.ExtensionModules[healthcheckextension.NewFactory().Type()] = contrib + "extension/healthcheckextension" + contribV

	factories.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](
		otlpreceiver.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ReceiverModules = make(map[component.Type]string, len(factories.Receivers))
	factories.ReceiverModules[otlpreceiver.NewFactory().Type()] = core + "receiver/otlpreceiver" + coreV

	factories.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		debugexporter.NewFactory(),
		otlpexporter.NewFactory(),
		otlphttpexporter.NewFactory(),
		fileexporter.NewFactory(),
		prometheusexporter.NewFactory(),
		loadbalancingexporter.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ExporterModules = make(map[component.Type]string, len(factories.Exporters))
	factories.ExporterModules[debugexporter.NewFactory().Type()] = core + "exporter/debugexporter" + coreV
	factories.ExporterModules[otlpexporter.NewFactory().Type()] = core + "exporter/otlpexporter" + coreV
	factories.ExporterModules[otlphttpexporter.NewFactory().Type()] = core + "exporter/otlphttpexporter" + coreV
	factories.ExporterModules[fileexporter.NewFactory().Type()] = contrib + "exporter/fileexporter" + contribV
	factories.ExporterModules[prometheusexporter.NewFactory().Type()] = contrib + "exporter/prometheusexporter" + contribV
	factories.ExporterModules[loadbalancingexporter.NewFactory().Type()] = contrib + "exporter/loadbalancingexporter" + contribV

	factories.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory(),
		memorylimiterprocessor.NewFactory(),
		transformprocessor.NewFactory(),
		attributesprocessor.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ProcessorModules = make(map[component.Type]string, len(factories.Processors))
	factories.ProcessorModules[batchprocessor.NewFactory().Type()] = core + "processor/batchprocessor" + coreV
	factories.ProcessorModules[memorylimiterprocessor.NewFactory().Type()] = core + "processor/memorylimiterprocessor" + coreV
	factories.ProcessorModules[transformprocessor.NewFactory().Type()] = contrib + "processor/transformprocessor" + contribV
	factories.ProcessorModules[attributesprocessor.NewFactory().Type()] = contrib + "processor/attributesprocessor" + contribV

	factories.Connectors, err = otelcol.MakeFactoryMap[connector.Factory]()
	if err != nil {
		return otelcol.Factories{}, err
	}
	factories.ConnectorModules = make(map[component.Type]string, len(factories.Connectors))

	return factories, nil
}
