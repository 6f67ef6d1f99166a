"""runner/Dockerfile builds an image that can run the runner, with no registry reachable.

No base image can be pulled here, so the test first makes one: the Python that runs this test
(its interpreter, standard library and the shared libraries they link), added as a tarball on
top of the local busybox test image (bin/build-test-images). The runner image is then built
from a copy of the files runner/Dockerfile reads (filtered by the repository's .dockerignore),
with the wheels of runner/requirements.txt in runner/wheels/ and ``--build-arg OFFLINE=1``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.support import ROOT

BUSYBOX_IMAGE = "slipway-test/busybox:latest"
BASE_IMAGE = "slipway-test/python-base:3.11"
RUNNER_IMAGE = "slipway-test/runner:test"
WHEELHOUSE = ROOT / ".local" / "wheelhouse"
# Bump when the way the base image is made changes: an image with another key is rebuilt.
BASE_RECIPE = "1"
# Parts of the standard library a runner never uses (and the 40 MB static library of config-*).
SKIPPED_STDLIB = {"test", "idlelib", "tkinter", "turtledemo", "site-packages", "__pycache__"}


def _docker(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _linked_libraries(binaries: list[Path]) -> set[Path]:
    libraries: set[Path] = set()
    for binary in binaries:
        output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
        for match in re.finditer(r"(/\S+)", output):
            path = Path(match.group(1))
            if path.exists():
                libraries.add(path)
    return libraries


def python_rootfs(tar_path: Path) -> str:
    """Write a tarball of this Python (at its own path) and answer the interpreter's path in it."""
    prefix = Path(sys.base_prefix).resolve()
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    interpreter = prefix / "bin" / version
    stdlib = prefix / "lib" / version
    assert interpreter.exists() and stdlib.is_dir(), f"no {version} under {prefix}"
    shared = sorted(prefix.glob("lib/libpython*.so*"))
    extensions = sorted((stdlib / "lib-dynload").glob("*.so"))

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if any(part in SKIPPED_STDLIB for part in parts) or info.name.endswith((".a", ".pyc")):
            return None
        return info

    with tarfile.open(tar_path, "w") as tar:
        tar.add(interpreter, arcname=str(interpreter).lstrip("/"))
        for library in shared:
            tar.add(library, arcname=str(library).lstrip("/"))
        tar.add(stdlib, arcname=str(stdlib).lstrip("/"), filter=keep)
        site_packages = tarfile.TarInfo(str(stdlib / "site-packages").lstrip("/"))
        site_packages.type = tarfile.DIRTYPE
        site_packages.mode = 0o755
        tar.addfile(site_packages)
        for library in sorted(_linked_libraries([interpreter, *shared, *extensions])):
            if not str(library).startswith(str(prefix)):
                # The library's own content under the name the binaries ask for.
                tar.add(library.resolve(), arcname=str(library).lstrip("/"))
    return str(interpreter)


def _base_key() -> str:
    return hashlib.sha256(f"{BASE_RECIPE}|{sys.base_prefix}|{sys.version}".encode()).hexdigest()[:16]


def ensure_base_image(work: Path) -> str:
    """A local image with this Python (and pip) on top of busybox; made once per Python."""
    key = _base_key()
    found = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", BASE_IMAGE, check=False)
    if found.returncode == 0 and (json.loads(found.stdout) or {}).get("slipway.base-key") == key:
        return BASE_IMAGE
    if _docker("image", "inspect", BUSYBOX_IMAGE, check=False).returncode != 0:
        subprocess.run([str(ROOT / "bin" / "build-test-images")], check=True, timeout=300)
    context = work / "base"
    context.mkdir()
    interpreter = python_rootfs(context / "python.tar")
    (context / "Dockerfile").write_text(
        f"FROM {BUSYBOX_IMAGE}\n"
        "ADD python.tar /\n"
        f"RUN mkdir -p /usr/local/bin && ln -sf {interpreter} /usr/local/bin/python3 "
        f"&& ln -sf {interpreter} /usr/local/bin/python "
        "&& python -m ensurepip --default-pip && python -m pip --version\n"
        f"LABEL slipway.base-key={key}\n"
    )
    _docker("build", "--tag", BASE_IMAGE, str(context), timeout=600)
    return BASE_IMAGE


def runner_context(work: Path) -> Path:
    """The build context of runner/Dockerfile: what it reads, plus a wheelhouse for an offline build."""
    context = work / "runner-context"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    context.mkdir()
    for name in ("requirements.txt", ".dockerignore"):
        shutil.copy2(ROOT / name, context / name)
    shutil.copytree(ROOT / "chalicelib", context / "chalicelib", ignore=ignore)
    shutil.copytree(ROOT / "runner", context / "runner", ignore=ignore)
    # Something the .dockerignore must keep out of the image.
    (context / "secrets.env").write_text("AWS_SECRET_ACCESS_KEY=never-in-an-image\n")
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    download += ["--only-binary=:all:", "--dest", str(WHEELHOUSE), "-r", str(context / "runner" / "requirements.txt")]
    result = subprocess.run(download, capture_output=True, text=True, timeout=600, cwd=context / "runner", check=False)
    assert result.returncode == 0, f"pip download failed:\n{result.stdout}\n{result.stderr}"
    for wheel in WHEELHOUSE.glob("*.whl"):
        shutil.copy2(wheel, context / "runner" / "wheels" / wheel.name)
    return context


@pytest.fixture(scope="module")
def runner_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("runner-image")
    base = ensure_base_image(work)
    context = runner_context(work)
    build = ["build", "--file", str(context / "runner" / "Dockerfile"), "--tag", RUNNER_IMAGE]
    build += ["--build-arg", f"BASE_IMAGE={base}", "--build-arg", "OFFLINE=1", str(context)]
    _docker(*build, timeout=900)
    yield RUNNER_IMAGE
    _docker("image", "rm", "--force", RUNNER_IMAGE, check=False)


def test_runner_image_imports_the_runner(runner_image: str) -> None:
    result = _docker("run", "--rm", runner_image, "python", "-c", "import runner")
    assert result.returncode == 0
    # The whole runner and the service code it uses import (docker, boto3, pynamodb installed).
    code = "import runner.worker, runner.__main__, chalicelib.adapters.models, docker, boto3; print('ok')"
    assert _docker("run", "--rm", runner_image, "python", "-c", code).stdout.strip() == "ok"


def test_runner_image_starts_the_runner_by_default(runner_image: str) -> None:
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", runner_image).stdout)
    assert config["Cmd"] == ["python", "-m", "runner"]
    assert config["StopSignal"] == "SIGTERM"
    usage = _docker("run", "--rm", runner_image, "python", "-m", "runner", "--help").stdout
    assert "usage: python -m runner" in usage


def test_runner_image_holds_only_what_the_dockerignore_lets_in(runner_image: str) -> None:
    listing = _docker("run", "--rm", runner_image, "sh", "-c", "ls -A /opt/slipway /opt/slipway/runner").stdout
    assert "secrets.env" not in listing
    assert "Dockerfile" not in listing.split()
    assert "__pycache__" not in listing
    assert {"chalicelib", "runner", "requirements.txt"} <= set(listing.split())
    # The wheelhouse was used for the install and removed.
    assert _docker("run", "--rm", runner_image, "sh", "-c", "test ! -e /tmp/wheels").returncode == 0
