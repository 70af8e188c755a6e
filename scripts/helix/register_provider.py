"""Register an OpenAI-compatible endpoint as a model provider in a Helix workspace and wait until the inference
gateway routes to the given models (a new provider takes a few seconds to turn READY and a few more to be routable).

    python scripts/helix/register_provider.py --base-url URL --workspace WS --name NAME --host-url URL/v1 \
        --model meta/llama-3.2-1b-instruct [--model ...]
"""

from __future__ import annotations

import argparse
import sys
import time

from flywheel_cli.config import PlatformConfig, Settings
from flywheel_cli.platforms.helix import HelixPlatform


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--name", required=True, help="provider name (lower-case letters, digits, dashes)")
    parser.add_argument("--host-url", required=True, help="the endpoint's OpenAI base URL, ending in /v1")
    parser.add_argument("--model", action="append", default=[], help="a model id the endpoint serves (repeatable)")
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    settings = Settings(platform=PlatformConfig(kind="helix", base_url=args.base_url, workspace=args.workspace))
    started = time.monotonic()
    with HelixPlatform(settings) as helix:
        helix.ensure_scope()
        helix.models.create_provider(args.workspace, args.name, args.host_url, description="registered by flywheel")
        while True:
            missing = set(args.model) - helix.served_models()
            if not missing:
                break
            if time.monotonic() - started > args.timeout:
                print(f"provider {args.name}: not routable after {args.timeout:g}s: {', '.join(sorted(missing))}",
                      file=sys.stderr)  # fmt: skip
                return 1
            time.sleep(0.5)
    print(f"provider {args.workspace}/{args.name} → {args.host_url}: {', '.join(args.model)} routable after "
          f"{time.monotonic() - started:.1f}s", file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
