"""A token estimate that needs no tokenizer download."""

from __future__ import annotations


def estimate_tokens(text: str) -> int:
    """Tokens of `text`, estimated as ceil(UTF-8 bytes / 4 × 1.2).

    About four bytes per token is what BPE tokenizers average on English and JSON; the 20% margin mirrors the
    reference's buffer on top of an exact count, so the estimate errs towards fewer ICL examples, not an overflowing
    context. Integer arithmetic keeps it exact: bytes × 1.2 / 4 = bytes × 3 / 10.
    """
    return -(-len(text.encode("utf-8")) * 3 // 10)


def estimate_bytes(data: bytes) -> int:
    """The same estimate for text already encoded as UTF-8."""
    return -(-len(data) * 3 // 10)
