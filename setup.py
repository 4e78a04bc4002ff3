"""Packaging glue: the repository root *is* the `itflow_api` package.

The layout mirrors ITFlow's PHP tree (api/v1/<module>/<function>.py beside lib/), so the
package list is discovered rather than written out: a new module folder ships without
touching this file. Metadata and dependencies live in setup.cfg.
"""
from setuptools import find_namespace_packages, setup

subpackages = find_namespace_packages(include=["lib", "lib.*", "api", "api.*"])
setup(
    packages=["itflow_api"] + [f"itflow_api.{name}" for name in subpackages],
    package_dir={"itflow_api": "."},
    package_data={"itflow_api.lib": ["*.json", "*.html"]},
)
