"""The container files (docker/), checked without a container engine.

- the Dockerfile is hadolint-clean, and the build context (.dockerignore) holds what the build
  stage needs: the wheel is built from exactly that context, and has the `stuntman` script;
- docker/compose.yaml is what Docker Compose itself accepts (`docker-compose config`, the real
  CLI: the Compose Specification's schema and its own checks), has the sidecar layout, and its
  processes (payments, stuntman with the mounted faults, the app, the record profile) work when
  started with the environment compose gives them;
- docker/k8s/*.yaml validate against Kubernetes' JSON schemas (strict), the sidecar is probed,
  locked down and sized, and the ConfigMap's files pass `stuntman validate` as the kubelet lays
  them out;
- the image works when run: the ENV, ENTRYPOINT, CMD and HEALTHCHECK are parsed from the
  Dockerfile and that exact command is started (free ports, the demo stubs), probed, and stopped.

The tools (hadolint, docker-compose, kubernetes-validate) come with the test extra; a missing
one fails, it never skips.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import call, free_port

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
K8S = DOCKER / "k8s"
BIN = Path(sys.executable).parent
RECORDINGS = Path(tempfile.gettempdir()) / f"stuntman-test-recordings-{os.getpid()}"  # never created here


def tool(name: str) -> str:
    """A binary from the test extra (the venv's bin, else PATH); fails when it is missing."""
    path = BIN / name
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: it comes with the test extra (pip install -e '.[test]', "
                    "or `make test`)")
    return found


def clean_env(*layers: dict[str, str], **extra: str) -> dict[str, str]:
    """This process's environment without any STUNTMAN_* a developer may have exported, then
    each layer in turn (later ones win), then `extra`. The image's /recordings becomes a
    directory of the test's own: nothing is written at the host's root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUNTMAN_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `stuntman` is the venv's
    for layer in layers:
        env.update(layer)
    env = {**env, **extra}
    if env.get("STUNTMAN_RECORDINGS", "").startswith("/recordings"):
        env["STUNTMAN_RECORDINGS"] = str(RECORDINGS)
    return env


# -- the Dockerfile, parsed ---------------------------------------------------------------------

def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    out, pending = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and pending):
            continue  # comments (and blank lines) may sit inside a continued instruction
        if not stripped:
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, args = text.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, args))
    return found


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1]


def image_env() -> dict[str, str]:
    """The ENV of the final stage (`ENV K=V K2="V 2"`, or the legacy `ENV K V`)."""
    env: dict[str, str] = {}
    for keyword, args in final_stage():
        if keyword != "ENV":
            continue
        words = shlex.split(args)
        if "=" not in words[0]:
            env[words[0]] = args.split(None, 1)[1]
            continue
        for word in words:
            key, _, value = word.partition("=")
            env[key] = value
    return env


def exec_form(keyword: str) -> list[str]:
    """ENTRYPOINT / CMD of the final stage, which must use the exec (JSON) form."""
    found = [args for k, args in final_stage() if k == keyword]
    assert len(found) == 1, f"one {keyword} expected in the final stage, found {len(found)}"
    value = json.loads(found[0])
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{keyword} must be exec form"
    return value


def healthcheck() -> tuple[dict[str, str], list[str]]:
    """HEALTHCHECK's --options and its CMD (exec form)."""
    found = [args for k, args in final_stage() if k == "HEALTHCHECK"]
    assert len(found) == 1, "one HEALTHCHECK expected"
    options_text, _, command = found[0].partition("CMD ")
    options = dict(opt.lstrip("-").split("=", 1) for opt in options_text.split())
    return options, json.loads(command)


def image_command() -> list[str]:
    return exec_form("ENTRYPOINT") + exec_form("CMD")


def seconds(text: str) -> float:
    """A Docker/Compose duration: 1m30s, 15s, 500ms."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(text))
    assert parts and "".join(n + u for n, u in parts) == str(text), f"not a duration: {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


# -- (a) the Dockerfile -------------------------------------------------------------------------

def test_hadolint_is_clean():
    hadolint = tool("hadolint")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_dockerfile_is_a_small_non_root_two_stage_build():
    parsed = stages()
    assert len(parsed) == 2, "a build stage and a runtime stage"
    args = dict(a.split("=", 1) for k, a in instructions() if k == "ARG" and "=" in a)
    bases = [args.get(a.split()[0].strip("${}"), a.split()[0]) for k, a in instructions() if k == "FROM"]
    assert bases == ["python:3.11-slim", "python:3.11-slim"], bases  # one base, pinned by tag
    assert " AS build" in parsed[0][0][1]

    build = " ".join(a for k, a in parsed[0] if k == "RUN")
    assert "pip wheel" in build and "--no-cache-dir" in build
    final = final_stage()
    runs = " ".join(a for k, a in final if k == "RUN")
    assert "--mount=type=bind,from=build" in runs, "the wheels are mounted, never a layer"
    assert "--no-index" in runs and "--no-cache-dir" in runs and "[test]" not in runs
    assert not [a for k, a in final if k in ("COPY", "ADD")], "the runtime stage copies no source"
    assert not re.search(r"apt-get|gcc|build-essential", runs), "no build tools in the runtime image"

    env = image_env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PIP_NO_CACHE_DIR"] == "1"
    assert env["STUNTMAN_HOST"] == env["STUNTMAN_ADMIN_HOST"] == "0.0.0.0"
    assert env["STUNTMAN_STUBS"] == "/stubs" and env["STUNTMAN_RECORDINGS"] == "/recordings"
    assert "STUNTMAN_ADMIN_TOKEN" not in env, "a token must come from outside the image"

    users = [a for k, a in final if k == "USER"]
    assert users and users[-1].split(":")[0] == "10001", "a fixed numeric non-root UID"
    exposed = {p for k, a in final if k == "EXPOSE" for p in a.split()}
    assert {"8080", "8081"} <= exposed
    assert json.loads(next(a for k, a in final if k == "VOLUME")) == ["/stubs", "/recordings"]
    assert [a for k, a in final if k == "STOPSIGNAL"] == ["SIGTERM"]
    assert image_command() == ["stuntman", "run"]
    options, command = healthcheck()
    assert command == ["stuntman", "probe"]  # GET /__admin/ready, through stuntman's own client
    assert seconds(options["timeout"]) < seconds(options["interval"])


# Files the build context must hold, and files it must not (checked against .dockerignore).
CONTEXT_OUT = [".git/HEAD", ".venv/bin/python", "tests/conftest.py", "bench/results/run.json",
               "recordings/x.json", "stubs/users/users.yaml", "docker/Dockerfile", "docker/.env",
               ".pytest_cache/v/x", "proxy/stuntman/__pycache__/cli.cpython-311.pyc",
               "proxy/stuntman.egg-info/PKG-INFO", "build/lib/stuntman/cli.py", "stubs.schema.json"]


def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    """.dockerignore as (exclude?, regex) in order; the last rule that matches a path decides."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip("/"))
        regex = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        rules.append((not negate, re.compile(regex + "$")))
    return rules


def in_context(path: str, rules) -> bool:
    """Docker's rule: a pattern matching a path or any of its parent directories applies."""
    parents = [str(Path(*Path(path).parts[:i])) for i in range(1, len(Path(path).parts) + 1)]
    included = True
    for exclude, regex in rules:
        if any(regex.match(p) for p in parents):
            included = not exclude
    return included


def test_build_context_holds_what_the_build_needs_and_nothing_else(tmp_path):
    rules = dockerignore_rules()
    for path in CONTEXT_OUT:
        assert not in_context(path, rules), f"{path} would be sent with the build context"
    needed = ["pyproject.toml", "README.md", "LICENSE",
              *subprocess.run(["git", "ls-files", "proxy"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.split()]
    assert "proxy/stuntman/cli/__init__.py" in needed
    for path in needed:
        assert in_context(path, rules), f"{path} is left out of the build context"

    # Stage 1 of the Dockerfile, on exactly that context: the wheel builds, offline.
    context = tmp_path / "context"
    for path in needed:
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, context / path)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--no-index", "-v", "-w", str(tmp_path / "wheels"), str(context)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    [wheel] = (tmp_path / "wheels").glob("stuntman-*.whl")  # the name the runtime stage installs
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "stuntman/cli/__init__.py" in names and not any("tests/" in n for n in names)
    assert re.search(r"^stuntman = stuntman\.cli:main$", entry_points, re.M), "ENTRYPOINT [\"stuntman\"]"
    # the license as an SPDX expression with its text (PEP 639): no deprecation warning at install
    assert "License-Expression: Apache-2.0" in metadata and "License-File: LICENSE" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "SetuptoolsDeprecationWarning" not in result.stderr, result.stderr


# -- (b) docker/compose.yaml --------------------------------------------------------------------

def compose_config(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`docker-compose config` as Compose resolves the file (merges, interpolation, paths).
    An empty env file stands in for docker/.env, which a developer may have."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return subprocess.run([tool("docker-compose"), "--project-directory", str(DOCKER), "-f", str(COMPOSE),
                           "--env-file", str(env_file), *args, "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60,
                          env={**clean_env(), "HOME": str(tmp_path), **env})


@pytest.fixture
def compose(tmp_path) -> dict:
    result = compose_config(tmp_path, {"STUNTMAN_ADMIN_TOKEN": "test-token"}, "--profile", "record")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid_and_has_the_sidecar_layout(compose, tmp_path):
    raw = yaml.safe_load(COMPOSE.read_text())
    assert {"app", "stuntman", "payments", "stuntman-record"} <= set(raw["services"])
    assert raw["services"]["stuntman-record"]["profiles"] == ["record"]
    assert all("profiles" not in raw["services"][s] for s in ("app", "stuntman", "payments"))

    services = compose["services"]
    app, stuntman, record = services["app"], services["stuntman"], services["stuntman-record"]
    assert app["environment"]["PAYMENTS_URL"] == "http://stuntman:8080", "the app's upstream is stuntman"
    assert app["depends_on"]["stuntman"]["condition"] == "service_healthy"

    for service in (stuntman, record):
        build = service["build"]
        assert Path(build["context"]) == ROOT, "the build context is the repository root"
        assert (Path(build["context"]) / build["dockerfile"]) == DOCKERFILE
        env = service["environment"]
        assert env["STUNTMAN_UPSTREAM"] == "http://payments:8080"
        assert env["STUNTMAN_ADMIN_TOKEN"] == "test-token"
        assert service["depends_on"]["payments"]["condition"] == "service_healthy"
        assert service["healthcheck"]["test"] == ["CMD", *healthcheck()[1]], "the image's HEALTHCHECK"
        drain = float(env.get("STUNTMAN_DRAIN_TIMEOUT", image_env()["STUNTMAN_DRAIN_TIMEOUT"]))
        assert seconds(service["stop_grace_period"]) > drain
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        admin = [p for p in service["ports"] if p["target"] == int(image_env()["STUNTMAN_ADMIN_PORT"])]
        assert admin and all(p["host_ip"] == "127.0.0.1" for p in admin), "admin API on host loopback only"
    assert "/health" in " ".join(services["payments"]["healthcheck"]["test"])

    [stubs] = [v for v in stuntman["volumes"] if v["target"] == "/stubs"]
    assert stubs["type"] == "bind" and stubs["read_only"] is True
    assert Path(stubs["source"]) == DOCKER / "stubs" and (DOCKER / "stubs" / "faults.yaml").is_file()
    result = subprocess.run([tool("stuntman"), "validate", stubs["source"]], capture_output=True, text=True,
                            timeout=60, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"[1-9]\d* standalone fault", result.stdout), result.stdout

    [recordings] = [v for v in record["volumes"] if v["target"] == "/recordings"]
    assert recordings["type"] == "bind" and not recordings.get("read_only")
    assert Path(recordings["source"]) == DOCKER / "recordings"
    for script in ("app.py", "payments.py"):
        assert (DOCKER / "demo" / script).is_file()


def test_compose_refuses_to_start_without_an_admin_token(tmp_path):
    result = compose_config(tmp_path, {})
    assert result.returncode != 0
    assert "STUNTMAN_ADMIN_TOKEN" in result.stderr


class Processes:
    """Subprocesses started by a test, each ended (SIGTERM, then SIGKILL) after it."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        self.started.append(proc)
        return proc

    def stop(self):
        for proc in self.started:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def processes():
    procs = Processes()
    yield procs
    procs.stop()


def wait_ready(port: int, proc: subprocess.Popen, path: str = "/__admin/ready", timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited early ({proc.returncode}): {proc.stdout.read()} {proc.stderr.read()}")
        try:
            if call(port, "GET", path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{path} on port {port} not 200 after {timeout}s")


def host_path(service: dict, path: str) -> str:
    """Where a path inside a service's container comes from on the host (its bind mounts)."""
    for volume in service.get("volumes", []):
        target = volume["target"].rstrip("/") + "/"
        if volume["type"] == "bind" and (path + "/").startswith(target):
            return str(Path(volume["source"]) / path[len(target):])
    raise AssertionError(f"{path} is not mounted from the host")


def as_compose_runs(service: dict, ports: dict[str, int], **overrides: str) -> dict[str, str]:
    """A service's environment as compose gives it, with service names pointed at local ports."""
    env = {}
    for key, value in (service.get("environment") or {}).items():
        for name, port in ports.items():
            value = str(value).replace(f"http://{name}:8080", f"http://127.0.0.1:{port}")
        env[key] = value
    return {**env, **overrides}


def test_compose_stack_runs_without_docker(compose, processes, tmp_path):
    """payments, stuntman (the mounted faults and stub), the app and the record profile's
    stuntman, each started as compose would: its command and its environment."""
    services = compose["services"]
    ports = {"payments": free_port(), "stuntman": free_port(), "stuntman-record": free_port()}

    payments = services["payments"]
    assert payments["command"][:1] == ["python"]
    proc = processes.start([sys.executable, host_path(payments, payments["command"][1])],
                           clean_env(HOST="127.0.0.1", PORT=str(ports["payments"])))
    wait_ready(ports["payments"], proc, "/health")

    stubs_dir = host_path(services["stuntman"], "/stubs")
    sidecars = {}
    for name, stubs in (("stuntman", stubs_dir), ("stuntman-record", str(tmp_path / "empty-stubs"))):
        Path(stubs).mkdir(exist_ok=True)  # the record profile mounts no stubs: the image's empty /stubs
        admin = free_port()
        env = clean_env(image_env(), as_compose_runs(
            services[name], ports, STUNTMAN_PORT=str(ports[name]), STUNTMAN_ADMIN_PORT=str(admin),
            STUNTMAN_STUBS=stubs, STUNTMAN_ADMIN_HOST="127.0.0.1"))
        sidecars[name] = processes.start(image_command(), env)
        wait_ready(admin, sidecars[name])

    port = ports["stuntman"]
    status, headers, body = call(port, "GET", "/api/payments/pay_1")  # no stub: passed through to payments
    assert status == 200 and json.loads(body)["id"] == "pay_1", body
    status, headers, body = call(port, "POST", "/api/payments/pay_1/refunds", b"{}")  # the stub
    assert status == 201 and json.loads(body)["payment"] == "pay_1", body
    status, headers, body = call(port, "POST", "/api/payments", b'{"amount": 5}',
                                {"X-Stuntman-Fault": "payments-down", "Content-Type": "application/json"})
    assert status == 503 and "error" in headers.get("x-stuntman-fault", ""), (status, headers)
    assert json.loads(body)["error"].startswith("payments unavailable"), body

    app = services["app"]
    result = subprocess.run(
        [sys.executable, host_path(app, app["command"][1])],
        env=clean_env(as_compose_runs(app, ports, INTERVAL="0", REQUESTS="3")),
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    calls = re.findall(r"^app: call \d: (\d{3}) in \d+ ms", result.stdout, re.M)
    assert len(calls) == 3 and set(calls) <= {"201", "503"}, result.stdout  # 503: payments-flaky

    status, _, body = call(ports["stuntman-record"], "POST", "/api/payments", b'{"amount": 7}')
    assert status == 201 and json.loads(body)["amount"] == 7, body  # a plain pass-through, for now


# -- (c) docker/k8s/ ----------------------------------------------------------------------------

def k8s_documents() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def one(docs: list[dict], kind: str) -> dict:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"one {kind} expected, found {len(found)}"
    return found[0]


def stuntman_container(pod: dict) -> dict:
    found = [c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == "stuntman"]
    assert len(found) == 1
    return found[0]


def test_k8s_manifests_validate_against_the_kubernetes_schemas():
    import kubernetes_validate
    from kubernetes_validate.utils import all_versions

    docs = k8s_documents()
    assert {(d["apiVersion"], d["kind"]) for d in docs} == {
        ("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ConfigMap"), ("v1", "Secret")}
    # native sidecars (restartPolicy on an init container) are on by default from 1.29
    versions = [v for v in all_versions() if tuple(map(int, v.split(".")[:2])) >= (1, 29)]
    assert versions, all_versions()
    for version in sorted({versions[0], versions[-1]}):
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} against {version}: {exc}")


def test_k8s_sidecar_is_probed_locked_down_and_sized():
    docs = k8s_documents()
    deployment, secret, configmap = one(docs, "Deployment"), one(docs, "Secret"), one(docs, "ConfigMap")
    pod = deployment["spec"]["template"]["spec"]
    sidecar = stuntman_container(pod)
    if sidecar in pod.get("initContainers", []):
        assert sidecar.get("restartPolicy") == "Always", "an init container must be a native sidecar"
    assert len(pod["containers"]) >= 1 and all(c["name"] != "stuntman" for c in pod["containers"])

    env = {e["name"]: e for e in sidecar["env"]}
    effective = {**image_env(), **{k: e["value"] for k, e in env.items() if "value" in e}}
    admin_port = int(effective["STUNTMAN_ADMIN_PORT"])
    named = {p["name"]: p["containerPort"] for p in sidecar.get("ports", [])}
    for probe in ("readinessProbe", "livenessProbe"):
        check = sidecar[probe]["httpGet"]
        assert check["path"] == "/__admin/ready" and "httpHeaders" not in check, probe  # no token needed
        assert named.get(check["port"], check["port"]) == admin_port, probe
    live = sidecar["livenessProbe"]
    drain = float(effective["STUNTMAN_DRAIN_TIMEOUT"])
    assert live.get("periodSeconds", 10) * live.get("failureThreshold", 3) > drain, "liveness must outlast a drain"
    assert pod["terminationGracePeriodSeconds"] > drain

    security = {**pod.get("securityContext", {}), **sidecar["securityContext"]}
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(sidecar["resources"][bound]), bound

    assert effective["STUNTMAN_ADMIN_HOST"] == "0.0.0.0"  # hence the token is mandatory
    ref = env["STUNTMAN_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == secret["metadata"]["name"]
    assert ref["key"] in {**secret.get("data", {}), **secret.get("stringData", {})}

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    assert volumes[mounts["/stubs"]["name"]]["configMap"]["name"] == configmap["metadata"]["name"]
    assert mounts["/stubs"].get("readOnly") is True
    assert "emptyDir" in volumes[mounts["/recordings"]["name"]] and not mounts["/recordings"].get("readOnly")

    app = pod["containers"][0]
    assert any(e.get("value") == f"http://127.0.0.1:{effective['STUNTMAN_PORT']}" for e in app["env"]), \
        "the app calls stuntman on the pod's loopback"
    service = one(docs, "Service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    app_ports = {p["name"] for p in app["ports"]}
    assert all(p["targetPort"] in app_ports for p in service["spec"]["ports"]), "the Service exposes the app"


def test_k8s_configmap_files_pass_stuntman_validate_as_mounted(tmp_path):
    """Written the way the kubelet lays out a ConfigMap volume: the files in a hidden
    timestamped directory, `..data` a symlink to it, and each key a symlink through `..data`."""
    data = one(k8s_documents(), "ConfigMap")["data"]
    assert data and all(k.endswith((".yaml", ".yml", ".json")) for k in data)
    mount = tmp_path / "stubs"
    real = mount / "..2026_01_01_00_00_00.000000001"
    real.mkdir(parents=True)
    for key, text in data.items():
        (real / key).write_text(text)
    (mount / "..data").symlink_to(real.name)
    for key in data:
        (mount / key).symlink_to(f"..data/{key}")
    result = subprocess.run([tool("stuntman"), "validate", str(mount)], capture_output=True, text=True,
                            timeout=60, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"in {len(data)} file(s)" in result.stdout, result.stdout  # each file once, none twice


# -- (d) the image's command, run ---------------------------------------------------------------

def test_image_refuses_to_start_without_an_admin_token():
    env = clean_env(image_env(), STUNTMAN_PORT=str(free_port()), STUNTMAN_ADMIN_PORT=str(free_port()),
                    STUNTMAN_STUBS=str(ROOT / "stubs"))
    result = subprocess.run(image_command(), env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "STUNTMAN_ADMIN_TOKEN" in result.stderr


def test_image_command_serves_probes_and_drains_on_sigterm(processes):
    token = secrets.token_hex(8)
    port, admin = free_port(), free_port()
    env = clean_env(image_env(), STUNTMAN_PORT=str(port), STUNTMAN_ADMIN_PORT=str(admin),
                    STUNTMAN_STUBS=str(ROOT / "stubs"), STUNTMAN_ADMIN_TOKEN=token)
    command = image_command()
    assert shutil.which(command[0], path=env["PATH"]) == str(BIN / command[0])
    proc = processes.start(command, env)
    wait_ready(admin, proc)  # GET /__admin/ready, no token

    status, _, body = call(admin, "GET", "/__admin/ready")
    assert status == 200 and json.loads(body) == {"status": "ready"}
    status, _, body = call(port, "GET", "/api/products/1")  # a demo stub on the data port
    assert status == 200 and json.loads(body)["id"] == "1", body
    assert call(admin, "GET", "/__admin/health")[0] == 401
    assert call(admin, "GET", "/__admin/health", headers={"Authorization": f"Bearer {token}"})[0] == 200

    _, check = healthcheck()
    probe = [str(BIN / "stuntman"), *check[1:]] if check[0] == "stuntman" else check
    result = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(float(image_env()["STUNTMAN_DRAIN_TIMEOUT"]) + 5) == 0
    assert "stopped (drained)" in proc.stdout.read()
    gone = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=10)
    assert gone.returncode != 0, "the HEALTHCHECK fails once nothing answers"
