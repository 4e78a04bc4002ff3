"""Build the wheel and the sdist from a copy of the tree and check what they carry."""
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache"}


def _source_files():
    """The tree as git sees it (tracked and new files, not ignored ones), else a plain walk."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.split()
        return [name for name in listed if (ROOT / name).is_file()]
    except (OSError, subprocess.CalledProcessError):  # an unpacked sdist: no git
        found = []
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
            found += [os.path.relpath(os.path.join(folder, f), ROOT) for f in files]
        return found


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("build", reason="needs the 'build' package (test extra)")
    if os.environ.get("ITFLOW_TEST_BACKEND", "sqlite") != "sqlite":
        pytest.skip("the package does not depend on the backend: built in the SQLite run only")
    work = tmp_path_factory.mktemp("pkg")
    src = work / "src"
    for name in _source_files():
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    # A stale build from an earlier run, holding an endpoint that no longer exists.
    ghost = src / "build" / "lib" / "itflow_api" / "api" / "v1" / "ghost"
    ghost.mkdir(parents=True)
    (ghost / "read.py").write_text("raise SystemExit('deleted endpoint shipped')\n")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheel = next((work / "dist").glob("*.whl"))
    sdist = next((work / "dist").glob("*.tar.gz"))
    with zipfile.ZipFile(wheel) as z:
        wheel_files = set(z.namelist())
        metadata = z.read(next(n for n in wheel_files if n.endswith(".dist-info/METADATA"))).decode()
    with tarfile.open(sdist) as t:
        prefix = sdist.name[:-len(".tar.gz")] + "/"
        sdist_files = {m.name[len(prefix):] for m in t.getmembers() if m.isfile()}
    return {"src": src, "wheel": wheel, "wheel_files": wheel_files, "metadata": metadata,
            "sdist_files": sdist_files, "work": work}


def test_wheel_holds_the_package_and_nothing_else(built):
    files = built["wheel_files"]
    sources = [name for name in _source_files() if name.endswith(".py")
               and name.split("/")[0] in ("lib", "api")]
    missing = [name for name in sources if f"itflow_api/{name}" not in files]
    assert not missing, f"source files not in the wheel: {missing}"
    for name in ("itflow_api/__init__.py", "itflow_api/__main__.py", "itflow_api/wsgi.py", "itflow_api/config.example.ini",
                 "itflow_api/lib/itflow/itflow_schema.json", "itflow_api/lib/web/docs_page.html",
                 "itflow_api/api/v1/custom/README.md"):
        assert name in files
    assert not [n for n in files if n.startswith(("itflow_api/setup", "itflow_api/pyproject", "itflow_api/docs/"))]
    assert not [n for n in files if "/ghost/" in n], "a stale build/ shipped a deleted endpoint"
    assert not [n for n in files if n.startswith(("itflow_api/tests/", "tests/", "itflow_api/bench/", "bench/"))]
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in files)


def test_wheel_metadata_declares_every_direct_dependency(built):
    meta = built["metadata"]
    requires = {line.split(":", 1)[1].strip().split(";")[0].split(">")[0].split("=")[0].strip().lower()
                for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line}
    for name in ("falcon", "waitress", "pymysql", "cryptography", "limits"):
        assert name in requires, f"{name} is imported but not declared"
    for name in ("dataset", "sqlalchemy"):  # nothing imports them: no installer should pay for them
        assert name not in requires, f"{name} is declared but never imported"
    assert "Requires-Python: >=3.10" in meta
    assert 'extra == "granian"' in meta and 'extra == "fast"' in meta and 'extra == "metrics"' in meta


def test_sdist_can_run_its_own_tests_and_deploy(built):
    files = built["sdist_files"]
    for name in ("tests/conftest.py", "tests/helpers.py", "tests/test_packaging.py", "config.example.ini",
                 "LICENSE", "README.md", "setup.cfg", "pyproject.toml", "MANIFEST.in", "docs/contract.md",
                 "deploy/itflow-api.service", "deploy/Dockerfile", "deploy/docker-compose.yml",
                 "deploy/apache-mod-wsgi.conf"):
        assert name in files, f"{name} missing from the sdist"
    assert not [n for n in files if "/ghost/" in n or n.endswith((".pyc", ".sqlite3", ".secret"))]


def test_installed_wheel_runs(built):
    target = built["work"] / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                           str(built["wheel"])], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    env = {k: v for k, v in env.items() if not k.startswith("ITFLOW_API_")}
    run = lambda *args: subprocess.run([sys.executable, "-m", "itflow_api", *args], capture_output=True,  # noqa: E731
                                       text=True, env=env, cwd=built["work"], timeout=60)
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("itflow-api ")
    example = run("example-config")
    assert example.returncode == 0 and "[database]" in example.stdout and "[security]" in example.stdout
    located = subprocess.run([sys.executable, "-c", "import itflow_api; print(itflow_api.__file__)"],
                             capture_output=True, text=True, env=env, cwd=built["work"])
    assert located.stdout.strip().startswith(str(target))


# --- deployment recipes ---------------------------------------------------------------------

DEPLOY = ROOT / "deploy"


def test_systemd_unit_is_complete_and_verifies(tmp_path):
    text = (DEPLOY / "itflow-api.service").read_text()
    for needed in ("Restart=on-failure", "User=itflow-api", "--config /etc/itflow-api/config.ini",
                   "EnvironmentFile=/etc/itflow-api/secrets.env", "KillSignal=SIGTERM", "RestartPreventExitStatus=2"):
        assert needed in text
    # only placeholders ("...", printf's "%s"), never a value
    assert not re.search(r"PASSWORD=(?!\.\.\.|%s)", text)
    assert not re.search(r"SECRET=(?!\.\.\.|%s)", text)
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this installation's command
    command = shutil.which("itflow-api") or str(Path(sys.executable).parent / "itflow-api")
    unit = tmp_path / "itflow-api.service"
    unit.write_text(text.replace("/opt/itflow-api/bin/itflow-api", command))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "itflow-api" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


def test_dockerfile_lints():
    dockerfile = DEPLOY / "Dockerfile"
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint:
        done = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    # and the facts docs/operations.md relies on, with or without hadolint
    import json
    keywords = {"FROM", "RUN", "COPY", "WORKDIR", "USER", "ENV", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD",
                "ARG", "LABEL"}
    instructions, continued = [], False
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not continued and stripped and not stripped.startswith("#"):
            word = stripped.split()[0]
            assert word in keywords, f"unknown instruction {word!r}"
            instructions.append((word, stripped[len(word):].strip()))
        continued = stripped.endswith("\\")
    assert instructions[0][0] == "FROM"
    final = [args for word, args in instructions if word == "USER"]
    assert final and final[-1] not in ("root", "0")
    for word, args in instructions:
        if word in ("ENTRYPOINT", "CMD"):
            assert isinstance(json.loads(args), list)  # exec form: SIGTERM reaches the server
    assert ("EXPOSE", "8080") in instructions


def test_compose_file_has_mariadb_and_no_secrets():
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["mariadb"]["image"].startswith("mariadb:")
    api = services["api"]
    env = api["environment"]
    assert env["ITFLOW_API_DATABASE_BACKEND"] == "mysql" and env["ITFLOW_API_DATABASE_HOST"] == "mariadb"
    assert api["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["init"]["command"] == ["init-db"]
    for service in services.values():
        for name, value in (service.get("environment") or {}).items():
            if ("PASSWORD" in name or "SECRET" in name) and name != "MARIADB_RANDOM_ROOT_PASSWORD":
                assert str(value).startswith("${"), f"{name} is written into the compose file"
    example = (DEPLOY / "secrets.env.example").read_text()
    assert "ITFLOW_API_DATABASE_PASSWORD=" in example and "ITFLOW_API_SECURITY_KEY_HASH_SECRET=" in example


def test_the_units_install_steps_put_every_written_file_where_the_service_may_write(tmp_path):
    """The unit's own steps (its comment) make config.ini with example-config --state-dir; the
    files the service writes (SQLite, the secret) must land in its StateDirectory, since
    ProtectSystem=strict makes /etc read-only to it."""
    text = (DEPLOY / "itflow-api.service").read_text()
    step = next(line for line in text.splitlines() if "example-config" in line and "--state-dir" in line)
    state = re.search(r"--state-dir (\S+)", step).group(1)
    assert re.search(rf"^StateDirectory={re.escape(Path(state).name)}$", text, re.M)
    assert re.search(r"^ProtectSystem=strict$", text, re.M) and re.search(r"^StartLimitBurst=\d+$", text, re.M)
    assert "secrets.env.example" not in text  # the wheel has no deploy/ folder
    command = shutil.which("itflow-api") or str(Path(sys.executable).parent / "itflow-api")
    printed = subprocess.run([command, "example-config", "--state-dir", state], capture_output=True, text=True,
                             check=True).stdout
    ini = tmp_path / "etc" / "config.ini"
    ini.parent.mkdir()
    ini.write_text(printed)
    from itflow_api.lib.web import config as config_module
    cfg = config_module.load(str(ini), environ={})
    assert cfg.database.path == f"{state}/itflow-api.sqlite3"
    assert cfg.security.secret_file == f"{state}/itflow-api.secret"
    assert cfg.metrics.path == "/metrics"  # only the two file settings changed
