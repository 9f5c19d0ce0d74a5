"""The command line as a shell uses it: pipes, exit codes, stderr."""
from __future__ import annotations

import subprocess

import pytest

from conftest import STUNTMAN


@pytest.mark.parametrize("args", [["schema"], ["schema", "--recording"], ["--help"]])
def test_output_into_a_pipe_whose_reader_left_ends_quietly(args):
    """`stuntman schema | head` closes the pipe early: no BrokenPipeError traceback, and the exit
    status a shell gives a writer ended by SIGPIPE."""
    proc = subprocess.Popen([*STUNTMAN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before stuntman has written anything (it is still importing)
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(30) in (0, 141) and stderr == b"", stderr.decode()[-500:]
