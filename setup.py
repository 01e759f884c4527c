"""The one build step pyproject.toml cannot declare: the wheel carries analytics.js.

When a wheel is built (`make wheel`, `pip install ./path`, `pip install git+URL`), build_py
copies @segment/analytics-next's browser build — dist/umd/standalone.js, its lazy chunks
(*.bundle.*.js) and the package's license — from web/node_modules, as web/package-lock.json
pins it, into connector/gateway/analytics_js/ of the build. web/node_modules is what
`make install` (npm ci) puts there; when it is absent and npm is on the PATH, `npm ci` runs
here. The installed package never needs npm. An editable install serves web/node_modules
directly (connector/gateway/settings.py), so nothing is copied for it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
PACKAGE = "@segment/analytics-next"
INSTALLED = WEB / "node_modules" / "@segment" / "analytics-next"
TARGET = Path("connector", "gateway", "analytics_js")


def _locked_version() -> str:
    lock = json.loads((WEB / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{PACKAGE}"]["version"])


def _installed_version() -> str | None:
    manifest = INSTALLED / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def _npm_ci() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"building pointillist-mock needs {PACKAGE} {_locked_version()} in "
                         "web/node_modules: run `make install` (npm ci in web/), or install "
                         "Node.js and npm")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=WEB,
                   check=True)


class BuildWithAnalyticsJs(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        locked = _locked_version()
        if _installed_version() != locked:
            _npm_ci()
        if _installed_version() != locked:
            raise SystemExit(f"web/node_modules holds {PACKAGE} {_installed_version()}, the "
                             f"lock file {locked}: run `make install`")
        umd = INSTALLED / "dist" / "umd"
        target = Path(self.build_lib) / TARGET
        target.mkdir(parents=True, exist_ok=True)
        for source in [umd / "standalone.js", *sorted(umd.glob("*.bundle.*.js"))]:
            shutil.copyfile(source, target / source.name)
        shutil.copyfile(INSTALLED / "LICENSE.MD", target / "LICENSE.md")
        (target / "VERSION").write_text(f"{PACKAGE} {locked} (web/package-lock.json)\n",
                                        encoding="utf-8")


setup(cmdclass={"build_py": BuildWithAnalyticsJs})
