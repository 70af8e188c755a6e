"""The sandbox's in-memory state: every resource the emulated services hold, behind one lock."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flywheel_cli.sandbox.clock import Clock, iso
from flywheel_cli.sandbox.simulated import ReferenceIndex

if TYPE_CHECKING:
    from flywheel_cli.sandbox.customizer import CustomizationJob
    from flywheel_cli.sandbox.deployments import Deployment
    from flywheel_cli.sandbox.evaluator import EvaluationJob

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

Key = tuple[str, str]  # (namespace, name)


def new_id(prefix: str) -> str:
    """`prefix-<base58 uuid4>`, the NMP id shape."""
    n = uuid.uuid4().int
    chars = []
    while n:
        n, r = divmod(n, 58)
        chars.append(_B58[r])
    return f"{prefix}-{''.join(reversed(chars))}"


def split_ref(ref: str) -> Key | None:
    """'ns/name' → ("ns", "name"); None when there is no namespace part."""
    ns, sep, name = ref.partition("/")
    return (ns, name) if sep and ns and name else None


@dataclass
class Repo:
    namespace: str
    name: str
    created_at: float
    files: dict[str, bytes] = field(default_factory=dict)
    commits: int = 0


@dataclass
class State:
    clock: Clock
    seed: int
    base_url: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock)
    stopping: threading.Event = field(default_factory=threading.Event)
    index: ReferenceIndex = field(default_factory=ReferenceIndex)
    # Entity Store
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[Key, dict[str, Any]] = field(default_factory=dict)
    models: dict[Key, dict[str, Any]] = field(default_factory=dict)
    model_jobs: dict[Key, str] = field(default_factory=dict)  # customized model entity → customization job id
    # Data Store
    ds_namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    repos: dict[Key, Repo] = field(default_factory=dict)
    # Customizer
    cust_configs: dict[Key, dict[str, Any]] = field(default_factory=dict)
    cust_targets: dict[Key, dict[str, Any]] = field(default_factory=dict)
    cust_jobs: dict[str, CustomizationJob] = field(default_factory=dict)
    # Evaluator
    eval_jobs: dict[str, EvaluationJob] = field(default_factory=dict)
    # Deployment Management
    deployments: dict[Key, Deployment] = field(default_factory=dict)

    @property
    def nim_url(self) -> str:
        return self.base_url + "/nim"

    def stamp(self, doc: dict[str, Any]) -> dict[str, Any]:
        now = iso(self.clock.now())
        doc.setdefault("created_at", now)
        doc["updated_at"] = now
        return doc

    def deleted(self, doc_id: str) -> dict[str, Any]:
        """The body NMP answers a DELETE with."""
        return {"id": doc_id, "deleted_at": iso(self.clock.now()), "message": "Resource deleted successfully."}
