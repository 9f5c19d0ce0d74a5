"""The command line as a shell uses it: pipes, exit codes, stderr."""
from __future__ import annotations

import socket
import subprocess

import pytest

from conftest import ROOT, STUNTMAN, call, free_port, run_cli, write_stubs
from stuntman.record.recorder import read_index


@pytest.mark.parametrize("args", [["schema"], ["schema", "--recording"], ["--help"]])
def test_output_into_a_pipe_whose_reader_left_ends_quietly(args):
    """`stuntman schema | head` closes the pipe early: no BrokenPipeError traceback, and the exit
    status a shell gives a writer ended by SIGPIPE."""
    proc = subprocess.Popen([*STUNTMAN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before stuntman has written anything (it is still importing)
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(30) in (0, 141) and stderr == b"", stderr.decode()[-500:]


# -- stuntman validate FILE -------------------------------------------------------------------

STUBS = {
    "users/users.yaml": """\
        - name: users
          request: {path: /users}
          response: {bodyFile: __files/users.json}
        """,
    "__files/users.json": '[{"id": 1}]\n',
    "users/bad.yaml": """\
        - name: bad
          request: {path: /bad}
          response:
            status: "not a number"
        """,
    "faults.yaml": """\
        faults:
          - {route: users, type: error, status: 503, probability: 0.5}
        """,
    "other/broken.yaml": "- request: [\n",
}


def test_validate_takes_one_stub_file_checked_in_its_stubs_directory(tmp_path):
    """A file under --stubs is checked as the server would load it (bodyFile paths relative to the
    directory, a fault's `route:` naming a stub of another file); only its own errors are printed,
    named by the path given."""
    root = write_stubs(tmp_path / "stubs", STUBS)
    bad = str(root / "users" / "bad.yaml")
    result = run_cli("validate", bad, "--stubs", str(root))
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"{bad}:4: [0].response.status: Input should be a valid integer, unable to parse string as an integer"]
    assert result.stderr.splitlines() == [f"1 error(s) in {bad}"]
    users = str(root / "users" / "users.yaml")
    ok = run_cli("validate", users, "--stubs", str(root))
    assert (ok.returncode, ok.stdout) == (0, f"ok: 1 stub(s) in {users}\n"), ok.stderr
    faults = run_cli("validate", str(root / "faults.yaml"), "--stubs", str(root))
    assert (faults.returncode, faults.stdout) == (0, f"ok: 1 standalone fault(s) in {root / 'faults.yaml'}\n")
    whole = run_cli("validate", str(root))  # a directory, as before: every file's errors
    assert whole.returncode == 1 and "2 error(s) in" in whole.stderr


def test_validate_takes_a_file_outside_any_stubs_directory(tmp_path):
    loose = write_stubs(tmp_path / "elsewhere", {"one.yaml": "request: {path: /x}\nresponse:\n  stauts: 200\n",
                                                 "two.yml": "- request: {path: /y}\n  response: {body: y}\n"})
    bad = run_cli("validate", str(loose / "one.yaml"))
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [f"{loose / 'one.yaml'}:3: response.stauts: unknown field"]
    good = run_cli("validate", str(loose / "two.yml"))
    assert (good.returncode, good.stdout) == (0, f"ok: 1 stub(s) in {loose / 'two.yml'}\n")


def test_validate_refuses_what_is_not_a_stub_file_in_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    result = run_cli("validate", str(notes))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"stuntman: error: '{notes}' is not a stub file (.yaml, .yml or .json) or a directory"]
    missing = run_cli("validate", str(tmp_path / "gone.yaml"))
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [f"stuntman: error: stub file '{tmp_path / 'gone.yaml'}' does not exist"]


# -- stuntman record --to an existing recording -----------------------------------------------

def record_session(tmp_path, upstream_url, *flags, paths=(), port=None):
    """`stuntman record --to payments` as a user runs it: (exit status, stdout, stderr) once the
    requests to `paths` were answered and it was stopped (or once it refused to start)."""
    port = port or free_port()
    proc = subprocess.Popen([*STUNTMAN, "record", "--upstream", upstream_url, "--to", "payments", "--recordings",
                             str(tmp_path), "--port", str(port), "--admin-port", str(free_port()),
                             "--stubs", str(write_stubs(tmp_path / "no-stubs", {})), *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        first = proc.stdout.readline()  # the start line, printed once it listens (or nothing: refused)
        for path in paths:
            assert call(port, "GET", path)[0] == 200
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, first + out, err


def urls(directory):
    return [(e["seq"], e["url"]) for e in read_index(directory)]


def test_record_to_an_existing_recording_asks_to_append_or_overwrite(tmp_path, upstream):
    payments = tmp_path / "payments"
    code, out, err = record_session(tmp_path, upstream.url, paths=["/a", "/b"])
    assert code == 0, err
    assert f", recording into {payments}" in out and "appending" not in out and "replacing" not in out
    code, out, err = record_session(tmp_path, upstream.url, paths=[])
    assert (code, out) == (2, "")
    assert err.splitlines() == ["stuntman: error: recording 'payments' already holds 2 exchange(s): "
                                "pass --append to add to it or --overwrite to replace it"]
    code, out, err = record_session(tmp_path, upstream.url, "--append", paths=["/c"])
    assert code == 0 and f"recording into {payments} (appending to its 2 exchange(s))" in out, err
    assert urls(payments) == [(1, "/a"), (2, "/b"), (3, "/c")]
    with socket.socket() as busy:  # --overwrite that cannot start loses nothing
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, _, err = record_session(tmp_path, upstream.url, "--overwrite", port=busy.getsockname()[1])
    assert code == 2 and "already in use" in err
    assert urls(payments) == [(1, "/a"), (2, "/b"), (3, "/c")]
    code, out, err = record_session(tmp_path, upstream.url, "--overwrite", paths=["/d"])
    assert code == 0 and f"recording into {payments} (replacing it: its 3 exchange(s) removed)" in out, err
    assert urls(payments) == [(1, "/d")]
    assert len(list((payments / "exchanges").iterdir())) == 1
    both = run_cli("record", "--upstream", upstream.url, "--to", "payments", "--append", "--overwrite")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
