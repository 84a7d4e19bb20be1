"""Packaging glue: the component folders at the top of the repository
(receivers/, processors/, ...) install as hangar_otelcol.receivers etc., so the
tree shows the component model while site-packages gets no generic names."""

from setuptools import find_packages, setup

COMPONENT_DIRS = ("receivers", "processors", "exporters", "connectors", "extensions")

package_dir = {f"hangar_otelcol.{d}": d for d in COMPONENT_DIRS}
packages = find_packages(include=["hangar_otelcol", "hangar_otelcol.*"])
for d in COMPONENT_DIRS:
    packages.append(f"hangar_otelcol.{d}")
    packages += [f"hangar_otelcol.{d}.{sub}" for sub in find_packages(where=d)]

setup(packages=packages, package_dir=package_dir)
