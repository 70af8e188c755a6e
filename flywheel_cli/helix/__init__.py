"""httpx clients for NeMo Helix (NVIDIA's successor to the NMP 25.x APIs: one base URL, workspaces,
`/apis/<service>/v2/...`); `flywheel_cli.platforms.helix` puts the Platform interface on them.

No Helix SDK is used at run time: the v2 SDKs were renamed twice in 2026 and its evaluator needs a side package to
build metric bundles, while the HTTP API is stable enough to speak directly.
"""

from flywheel_cli.helix.session import HelixSession

__all__ = ["HelixSession"]
