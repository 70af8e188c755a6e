"""A loopback NMP 25.x emulator with simulated models (SPEC §6).

from flywheel_cli.sandbox import Sandbox
with Sandbox(speed=1000) as sb:
    ...  # nemo_url = datastore_url = sb.url, nim_url = sb.nim_url
"""

from flywheel_cli.sandbox.faults import FAULT_MODES
from flywheel_cli.sandbox.server import Sandbox
from flywheel_cli.sandbox.simulated import ICL_EXAMPLE_MARKER

# The text that starts each few-shot example in an ICL system message.
ICL_MARKER = ICL_EXAMPLE_MARKER

__all__ = ["FAULT_MODES", "ICL_EXAMPLE_MARKER", "ICL_MARKER", "Sandbox"]
