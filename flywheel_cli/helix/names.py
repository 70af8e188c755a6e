"""Names Helix accepts: a lower-case letter first, then 1–62 of [a-z0-9-@.+_], no "--", no trailing "-".

Evaluation job names are shorter still (51 characters, because the job's output fileset name is derived from it).
Long names are shortened deterministically, so the same flywheel name always finds the same remote object.
"""

from __future__ import annotations

import hashlib
import re

NAME_LIMIT = 63
JOB_NAME_LIMIT = 51
_VALID = re.compile(r"^[a-z](?!.*--)[a-z0-9\-@.+_]{1,62}(?<!-)$")


def valid(name: str) -> bool:
    return bool(_VALID.match(name))


def entity_name(model: str) -> str:
    """A model id as a Helix entity name, the way Helix names the models it discovers at a provider:
    `meta/llama-3.2-1b-instruct` → `meta-llama-3-2-1b-instruct`."""
    text = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
    if not text or not text[0].isalpha():
        text = f"m-{text}".rstrip("-")
    return fit(text, NAME_LIMIT)


def job_name(name: str) -> str:
    """`name` if Helix takes it as a job name; otherwise a shortened form that ends in a hash of it."""
    return name if valid(name) and len(name) <= JOB_NAME_LIMIT else fit(entity_name(name), JOB_NAME_LIMIT, salt=name)


def fit(text: str, limit: int, *, salt: str | None = None) -> str:
    text = re.sub(r"-{2,}", "-", text)
    if len(text) <= limit and salt is None:
        return text
    suffix = hashlib.sha256((salt or text).encode()).hexdigest()[:8]
    return f"{text[: limit - len(suffix) - 1].rstrip('-')}-{suffix}"
