"""The README's tour is a test: every `curl` in "A 5-minute tour", and in the Fault injection
section's block of the demo's faults, runs (the real curl binary) against `stuntman run --stubs
stubs` as `make run` starts it, on free ports, in README order, and its answer is checked against
the `#` lines the README shows under it:

    curl -s localhost:8080/api/products/1          the body; its status is 200
    # {"id": "1", ...}
    curl -s -X POST localhost:8080/api/orders/42/pay
    # 202 {"id": 42, ...}                          a status other than 200, then the body
    curl -si localhost:8080/api/products/999
    # HTTP/1.1 404 Not Found                       with -i: the status line,
    # Content-Type: application/json               the headers shown (others may come too),
    #                                              a blank line,
    # {"error": "product 999 does not exist"}      and the body
    curl -i -H 'X-Stuntman-Fault: reset' ...
    # curl: (56) Recv failure: ...                 curl's exit code and error

A body that is JSON is compared as JSON (key order and layout aside), any other exactly, line by
line. `<uuid>` and `<now>` in the README stand for a UUID and an ISO 8601 UTC time. An answer ends
at the first line that is not a `#` comment (a blank line, the next command). Every tour command
must show its answer. Each curl is one test case, named by its README line; a case run on its own
first replays the commands above it (the demo's scenarios, sequences and faker values are state).
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ROOT, STUNTMAN, free_port, stop_process, wait_port

README = ROOT / "README.md"
PLACEHOLDERS = {
    "<uuid>": "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "<now>": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
}
DEMO_FAULTS = "# the demo's faults fire only when asked"


@dataclass
class Example:
    line: int  # 1-based, in README.md
    command: str
    answer: list[str] = field(default_factory=list)  # the `#` lines under it, without "# "

    @property
    def id(self) -> str:
        args = shlex.split(self.command, comments=True)
        url = next(a for a in args if "localhost:" in a)
        method = args[args.index("-X") + 1] if "-X" in args else ("POST" if "-d" in args else "GET")
        return f"README.md:{self.line} {method} /{url.split('localhost:', 1)[1].split('/', 1)[1]}"


def section(lines: list[str], heading: str) -> tuple[int, int]:
    """The [start, end) line indexes of a `## heading` section."""
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end


def curls(lines: list[str], start: int, end: int) -> list[Example]:
    """The curl commands in lines[start:end], each with the `#` lines right under it."""
    found: list[Example] = []
    i = start
    while i < end:
        if lines[i].startswith("curl "):
            example = Example(i + 1, lines[i])
            i += 1
            while i < end and lines[i].startswith("#"):
                example.answer.append(lines[i][2:] if lines[i].startswith("# ") else lines[i][1:])
                i += 1
            found.append(example)
        else:
            i += 1
    return found


def examples(text: str) -> tuple[list[Example], list[Example]]:
    """The tour's curls, and those of the demo's faults (from DEMO_FAULTS to the next blank line)."""
    lines = text.splitlines()
    tour = curls(lines, *section(lines, "## A 5-minute tour"))
    start, end = section(lines, "## Fault injection")
    first = next(i for i in range(start, end) if lines[i].startswith(DEMO_FAULTS))
    last = next(i for i in range(first, end) if not lines[i].strip())
    return tour, curls(lines, first, last)


TOUR, FAULT_DEMO = examples(README.read_text())
EXAMPLES = TOUR + FAULT_DEMO


def test_the_readme_has_the_examples_this_file_runs():
    """The parser finds the tour and the fault demo (an edit to their shape must not empty this test)."""
    assert len(TOUR) >= 15 and len(FAULT_DEMO) == 3
    ids = [e.id for e in EXAMPLES]
    assert len(set(ids)) == len(ids)
    assert [e.command.split("X-Stuntman-Fault: ")[1].split("'")[0] for e in FAULT_DEMO] == [
        "slow", "payments-down", "reset"]


# -- the answer the README shows, and the one that came back ----------------------------------

def pattern(expected: str) -> re.Pattern[str]:
    """`expected` as a regex: its text literally, each placeholder as what it stands for."""
    parts = re.split("(" + "|".join(map(re.escape, PLACEHOLDERS)) + ")", expected)
    return re.compile("".join(PLACEHOLDERS.get(p, re.escape(p)) for p in parts), re.DOTALL)


def same_json(expected, actual, where: str = "$") -> list[str]:
    """The differences between the README's JSON and the answer's (JSON numbers: 1 == 1.0)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        if expected.keys() != actual.keys():
            return [f"{where}: expected keys {sorted(expected)}, got {sorted(actual)}"]
        return [d for k in expected for d in same_json(expected[k], actual[k], f"{where}.{k}")]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return [f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in same_json(e, a, f"{where}[{i}]")]
    if isinstance(expected, str):
        ok = isinstance(actual, str) and pattern(expected).fullmatch(actual) is not None
    elif isinstance(expected, bool) or expected is None:
        ok = actual is expected
    else:
        ok = isinstance(actual, int | float) and not isinstance(actual, bool) and actual == expected
    return [] if ok else [f"{where}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]


@dataclass
class Expected:
    status: int | None = None  # None: curl fails (then exit_code and error)
    status_line: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    exit_code: int = 0
    error: str = ""


def expected(answer: list[str]) -> Expected:
    failed = re.fullmatch(r"curl: \((\d+)\) .*", answer[0])
    if failed:
        return Expected(exit_code=int(failed[1]), error=answer[0])
    if answer[0].startswith("HTTP/"):
        blank = answer.index("") if "" in answer else len(answer)
        bad = [h for h in answer[1:blank] if ": " not in h]
        assert not bad, f"a header line is not 'Name: value': {bad}"
        headers = [(name, value) for name, value in (h.split(": ", 1) for h in answer[1:blank])]
        return Expected(int(answer[0].split()[1]), answer[0], headers, answer[blank + 1:])
    status = re.match(r"(\d{3}) ", answer[0])
    if status:
        return Expected(int(status[1]), body=[answer[0][4:], *answer[1:]])
    return Expected(200, body=answer)


@dataclass
class Answer:
    exit_code: int
    stderr: str
    head: list[str]  # the status line, then the header lines
    body: str


def run_curl(command: str, port: int, admin_port: int) -> Answer:
    args = [a.replace("localhost:8080", f"127.0.0.1:{port}").replace("localhost:8081", f"127.0.0.1:{admin_port}")
            for a in shlex.split(command, comments=True)]
    assert args[0] == "curl"
    include = any(a == "--include" or (re.fullmatch("-[a-zA-Z]+", a) and "i" in a) for a in args[1:])
    with tempfile.TemporaryDirectory() as tmp:
        head_file = Path(tmp) / "head"
        done = subprocess.run([*args, "--dump-header", str(head_file), "--max-time", "30"],
                              capture_output=True, timeout=60)
        raw_head = head_file.read_bytes() if head_file.exists() else b""
    out = done.stdout
    if include:
        assert out.startswith(raw_head), "with -i, the head is printed before the body"
        out = out[len(raw_head):]
    heads = [h for h in raw_head.decode("latin-1").split("\r\n\r\n") if h]
    head = heads[-1].split("\r\n") if heads else []  # the final response's (after any 1xx)
    return Answer(done.returncode, done.stderr.decode(errors="replace"), head, out.decode(errors="replace"))


def check(example: Example, answer: Answer) -> None:
    assert example.answer, f"README.md:{example.line}: the README shows no answer under this curl"
    want = expected(example.answer)
    where = f"README.md:{example.line}: {example.command}\n"
    if want.exit_code:
        assert answer.exit_code == want.exit_code, where + f"curl exited {answer.exit_code}: {answer.stderr}"
        assert want.error in answer.stderr, where + f"curl said {answer.stderr!r}"
        return
    assert answer.exit_code == 0, where + f"curl exited {answer.exit_code}: {answer.stderr}"
    status_line = answer.head[0] if answer.head else ""
    if want.status_line is not None:
        assert status_line == want.status_line, where + f"status line {status_line!r}"
    assert status_line.split()[1:2] == [str(want.status)], where + f"status line {status_line!r}"
    got = [tuple(h.split(": ", 1)) for h in answer.head[1:]]
    for name, value in want.headers:
        values = [v for n, v in got if n.lower() == name.lower()]
        found = any(pattern(value).fullmatch(v) for v in values)
        assert found, where + f"header {name}: expected {value!r}, got {values} in {answer.head}"
    text = "\n".join(want.body)
    document = as_json(text)
    if document is NOT_JSON:  # text: compared line by line, trailing blanks aside
        lines = [line.rstrip() for line in answer.body.rstrip("\n").split("\n")] if answer.body else []
        same = pattern(text.rstrip("\n")).fullmatch("\n".join(lines)) is not None
        assert same, where + f"expected the body\n{text}\ngot\n{answer.body}"
        return
    actual = as_json(answer.body)
    assert actual is not NOT_JSON, where + f"expected a JSON body, got {answer.body!r}"
    differences = same_json(document, actual)
    assert not differences, where + "\n".join(differences) + f"\nthe body: {answer.body}"


NOT_JSON = object()


def as_json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return NOT_JSON


# -- the demo, as `make run` serves it --------------------------------------------------------

class Demo:
    """`stuntman run --stubs stubs` from the repository root, as `make run`, on free ports; it
    remembers how many examples it has answered, so each case can catch up from the start."""

    def __init__(self, log: Path):
        self.log = log  # its output: a pipe nobody reads could fill and stall it
        self.proc: subprocess.Popen | None = None
        self.played = 0

    def start(self) -> None:
        self.port, self.admin_port = free_port(), free_port()
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [*STUNTMAN, "run", "--stubs", "stubs", "--port", str(self.port), "--admin-port", str(self.admin_port)],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            wait_port(self.port, proc=self.proc)
            wait_port(self.admin_port, proc=self.proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log.read_text()}") from None
        self.played = 0

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def answer(self, index: int) -> Answer:
        """The answer to EXAMPLES[index], after every example above it has been asked once."""
        if self.proc is None or self.played > index:  # a fresh demo: state starts over
            self.stop()
            self.start()
        while self.played < index:
            run_curl(EXAMPLES[self.played].command, self.port, self.admin_port)
            self.played += 1
        self.played += 1
        return run_curl(EXAMPLES[index].command, self.port, self.admin_port)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    running = Demo(tmp_path_factory.mktemp("demo") / "stuntman.log")
    yield running
    running.stop()


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[e.id for e in EXAMPLES])
def test_readme_example(demo, index):
    check(EXAMPLES[index], demo.answer(index))
