"""The foreground server (`flywheel sandbox serve`) and the in-process one refuse bad settings with typed errors."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from flywheel_cli.errors import UsageError
from flywheel_cli.sandbox import Sandbox

# A shell that starts jobs in the background hands them an ignored SIGINT; the child restores Python's handler.
SERVE = """
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
from flywheel_cli.sandbox import Sandbox
sandbox = Sandbox(port=0, speed=500, seed=9)
print(sandbox.url, flush=True)
sandbox.serve_forever()
print("stopped", flush=True)
"""


def test_serve_forever_answers_until_interrupted() -> None:
    with subprocess.Popen([sys.executable, "-c", SERVE], stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            info = httpx.get(url + "/_sandbox/info", timeout=5).json()
            assert (info["sandbox"], info["speed"], info["seed"], info["nim_url"]) == (True, 500, 9, url + "/nim")
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 0
            assert process.stdout.read() == "stopped\n"
        finally:
            process.kill()


def test_describe_and_bad_settings() -> None:
    sandbox = Sandbox(port=0, speed=60, fault_rate=0.25, seed=1, hang_seconds=1.5)
    described = sandbox.describe()
    assert described["nemo_url"] == described["datastore_url"] == sandbox.url
    assert (described["nim_url"], described["fault_rate"], described["hang_seconds"]) == (
        sandbox.url + "/nim",
        0.25,
        1.5,
    )
    with pytest.raises(UsageError, match=r"cannot listen on 127\.0\.0\.1"):
        Sandbox(port=sandbox.port).start()
    sandbox.stop()
    with pytest.raises(UsageError, match="speed must be greater than 0"):
        Sandbox(speed=0)
    with pytest.raises(UsageError, match="fault rate must be between 0 and 1"):
        Sandbox(fault_rate=1.5)
    with pytest.raises(UsageError, match="fault modes"):
        Sandbox(fault_modes=("explode",))
