"""`flywheel ingest --es-url`: the real CLI and the real elasticsearch client against a loopback server."""

from __future__ import annotations

import json

from es_server import FakeElasticsearch, serve
from factories import tool_record


def _docs(n: int) -> list[dict]:
    docs = []
    for i in range(n):
        rec = tool_record(f"es query {i}", ts=1_780_000_000 + i, client=["web", "app"][i % 2])
        docs.append({"_id": f"d{i}", "_source": rec})
    bad = tool_record("broken", ts=1_780_009_999)
    bad["response"]["choices"] = []
    docs.append({"_id": "bad1", "_source": bad})
    return docs


def test_ingest_from_elasticsearch_with_filters_auth_and_rejects(cli, monkeypatch, tmp_path):
    fake = FakeElasticsearch(api_keys={"planted-es-key"})
    fake.add("logs", _docs(40))
    monkeypatch.setenv("ES_API_KEY", "planted-es-key")
    with serve(fake) as url:
        result = cli("--json", "ingest", "--es-url", url, "--es-index", "logs", "--client-id", "web",
                     "--rejects", str(tmp_path / "rej.jsonl"))
        again = cli("--json", "ingest", "--es-url", url, "--es-index", "logs")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["read"], doc["ingested"], doc["rejected"]) == (21, 20, 1)
    assert doc["rejects"] == [{"source": "es://logs/bad1", "line": None, "reason": "response.choices is empty"}]
    assert json.loads((tmp_path / "rej.jsonl").read_text())["response"]["choices"] == []
    second = json.loads(again.stdout)
    assert (second["read"], second["ingested"], second["duplicates"]) == (41, 20, 20)
    assert "planted-es-key" not in result.stdout + result.stderr + again.stdout + again.stderr
    workloads = json.loads(cli("--json", "workloads").stdout)["workloads"]
    assert workloads[0]["records"] == 40


def test_elasticsearch_unreachable_exits_4_without_secrets(cli, monkeypatch):
    monkeypatch.setenv("ES_PASSWORD", "planted-pass")
    monkeypatch.setenv("ES_USERNAME", "elastic")
    result = cli("ingest", "--es-url", "http://127.0.0.1:9", "--es-index", "logs")
    assert result.exit_code == 4
    assert "127.0.0.1:9" in result.stderr
    assert "planted-pass" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_files_and_elasticsearch_do_not_mix(cli):
    result = cli("ingest", "a.jsonl", "--es-url", "http://127.0.0.1:9")
    assert result.exit_code == 2 and "either files or --es-url" in result.stderr
