"""The user-query keys behind dedup and the leakage audit."""

from __future__ import annotations

import random

from flywheel_cli.datasets import queries


def _regex_only(text: str) -> str:
    return queries._SPACE.sub(" ", queries._PUNCT.sub("", text.lower())).strip()


def test_normalise_text() -> None:
    assert queries.normalise_text("  Where's my   ORDER?!\n") == "wheres my order"
    assert queries.normalise_text("lookup_order\t#42") == "lookuporder 42"
    assert queries.normalise_text("Ça va, Zoë? — «oui»") == "ça va zoë oui"
    assert queries.normalise_text("...") == ""


def test_the_ascii_fast_path_matches_the_regex() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(chr(rng.randrange(128)) for _ in range(rng.randrange(24)))
        assert queries.normalise_text(text) == _regex_only(text), repr(text)


def test_keys_use_every_user_message_and_only_those() -> None:
    convo = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "First?"},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Second"}, {"type": "image_url", "image_url": {"url": "u"}}],
        },
    ]
    assert queries.exact_key(convo) == (
        b'["First?",[{"text":"Second","type":"text"},{"image_url":{"url":"u"},"type":"image_url"}]]'
    )
    assert queries.normalised_key(convo) == b'["first","second imageurlurlutypeimageurl"]'
    assert queries.exact_key([{"role": "system", "content": "S"}]) is None
    assert queries.last_user_text(convo) == 'Second\n{"image_url":{"url":"u"},"type":"image_url"}'
    assert queries.last_user_text([{"role": "user", "content": "  "}]) is None
