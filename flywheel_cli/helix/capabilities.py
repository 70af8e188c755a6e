"""Which path flavours a Helix server offers, read once from its live `/openapi.json`.

The v2 surface moved during 2026: evaluation went `/apis/evaluation/v2` (metric-jobs, NeMo Platform 26.3) →
`/apis/evaluator/v2` → `/apis/evals/v2` (Helix ≥ 0.7); customization went from one `/jobs` route to per-backend
`/automodel/jobs`, `/unsloth/jobs`. Plugin routes are mounted at run time, so only the live document says which
ones this server has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from flywheel_cli.errors import RemoteError

EVAL_PREFIXES = ("/apis/evals/v2", "/apis/evaluator/v2")  # newest first
LEGACY_EVAL_PREFIX = "/apis/evaluation/v2"
_WS = "/workspaces/{workspace}"
CUSTOMIZATION_PREFIX = "/apis/customization/v2"
DEPLOYMENTS_PATH = "/apis/models/v2/workspaces/{workspace}/deployments"
CustomizationFlavour = Literal["automodel", "legacy"]


@dataclass(frozen=True)
class Capabilities:
    evals_prefix: str | None  # e.g. "/apis/evals/v2"; None when the server has no evaluate-jobs API flywheel speaks
    customization: CustomizationFlavour | None  # None: the customization service is not running
    deployments: bool  # the model-deployment routes exist (whether the runtime can start one is another matter)
    legacy_evaluation: bool = False  # only the 26.3-era metric-jobs API (not supported)
    schemas: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_openapi(cls, document: Any) -> Capabilities:
        paths = document.get("paths") if isinstance(document, dict) else None
        if not isinstance(paths, dict):
            raise RemoteError("the Helix server's /openapi.json has no `paths`; is the base URL a NeMo Helix server?")
        evals = next((p for p in EVAL_PREFIXES if f"{p}{_WS}/evaluate/jobs" in paths), None)
        if f"{CUSTOMIZATION_PREFIX}{_WS}/automodel/jobs" in paths:
            customization: CustomizationFlavour | None = "automodel"
        elif f"{CUSTOMIZATION_PREFIX}{_WS}/jobs" in paths:
            customization = "legacy"
        else:
            customization = None
        components = document.get("components")
        schemas = components.get("schemas") if isinstance(components, dict) else None
        return cls(
            evals_prefix=evals,
            customization=customization,
            deployments=DEPLOYMENTS_PATH in paths,
            legacy_evaluation=any(p.startswith(f"{LEGACY_EVAL_PREFIX}{_WS}/metric-jobs") for p in paths),
            schemas=schemas if isinstance(schemas, dict) else {},
        )

    def require_evals(self, base_url: str) -> str:
        if self.evals_prefix is not None:
            return self.evals_prefix
        if self.legacy_evaluation:
            raise RemoteError(
                f"the platform at {base_url} only offers the 26.3-era evaluation API "
                f"({LEGACY_EVAL_PREFIX}/metric-jobs), which flywheel does not speak",
                hint="Use NeMo Helix ≥ 0.7 (/apis/evals/v2) or an OSS NeMo Platform with /apis/evaluator/v2.",
            )
        raise RemoteError(
            f"the platform at {base_url} offers no evaluation API (none of {', '.join(EVAL_PREFIXES)})",
            hint="Start Helix with the evals service (`nemo services run --services ...,evals`).",
        )

    def customization_path(self) -> str | None:
        if self.customization == "automodel":
            return f"{CUSTOMIZATION_PREFIX}/workspaces/{{workspace}}/automodel/jobs"
        if self.customization == "legacy":
            return f"{CUSTOMIZATION_PREFIX}/workspaces/{{workspace}}/jobs"
        return None
