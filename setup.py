"""Packaging glue. The repository root *is* the package `itflow_api`: package_dir maps
"itflow_api" to ".", so lib/ installs as itflow_api.lib and api/v1/<module>/ as
itflow_api.api.v1.<module> (the layout mirrors ITFlow's PHP tree, and endpoint files import
`itflow_api.lib...`).

The build backend (setuptools) is declared in pyproject.toml and the metadata and
dependencies in setup.cfg; this file only does what a declarative file cannot: find the
endpoint folders (a new module folder ships without touching it) and keep the build clean.
"""
import shutil

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py


class CleanBuild(build_py):
    """Build from the tree as it is now: a stale build/lib would otherwise ship endpoint
    files deleted since, and this very file would land inside the package as a module."""

    def run(self):
        shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()

    def find_package_modules(self, package, package_dir):
        found = super().find_package_modules(package, package_dir)
        return [m for m in found if (m[0], m[1]) != ("itflow_api", "setup")]


subpackages = find_namespace_packages(include=["lib", "lib.*", "api", "api.*"])
setup(
    packages=["itflow_api"] + [f"itflow_api.{name}" for name in subpackages],
    package_dir={"itflow_api": "."},
    package_data={"itflow_api": ["config.example.ini"], "itflow_api.lib": ["*.json", "*.html"],
                  "itflow_api.api.v1.custom": ["README.md"]},
    cmdclass={"build_py": CleanBuild},
)
