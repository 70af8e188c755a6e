"""Scenario 3: bad input. Malformed log lines mixed into good ones; bad configuration files and environment; bad
flags. Every bad line is reported with its line number and reason and kept whole in the rejects file, every good
line is ingested; every bad config or flag ends with exit 2 and one clear message; nothing ever prints a traceback.
"""

from __future__ import annotations

import gzip
import random
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reliability_corpus import Bad, Odd, bad_lines, odd_lines, oversized_line
from reliability_harness import EXAMPLES, TRACEBACK, Flywheel

pytestmark = pytest.mark.scenario("bad input")


def _mixed(path: Path, bad: list[Bad], odd: list[Odd], good: list[bytes], seed: int) -> list[tuple[int, Bad]]:
    """Write good, odd and bad lines in a seeded order; return [(line number, bad line)].

    Line 1 is a good line behind a UTF-8 BOM; a third of the lines end in CRLF; blank and whitespace-only lines
    (skipped, not rejected) are scattered in."""
    rng = random.Random(f"bad-input/{seed}")
    items: list[Any] = [*bad, *odd, *good[1:]]
    rng.shuffle(items)
    items.insert(0, b"\xef\xbb\xbf" + good[0])
    out: list[bytes] = []
    where: list[tuple[int, Bad]] = []
    for item in items:
        if rng.random() < 0.05:
            out.append(rng.choice([b"", b"   ", b"\t"]))
        raw = item.raw if isinstance(item, (Bad, Odd)) else item
        out.append(raw + (b"\r" if rng.random() < 0.33 and not raw.endswith(b"\r") else b""))
        if isinstance(item, Bad):
            where.append((len(out), item))
    path.write_bytes(b"\n".join(out) + b"\n")
    return where


def _distinct(fw_dir: Path, lines: list[bytes], odd: list[Odd]) -> tuple[int, dict[str, int]]:
    """Records and per-workload counts the good lines give on their own (duplicates in the examples are real)."""
    fw_dir.mkdir()
    clean = fw_dir / "good-only.jsonl"
    clean.write_bytes(b"\n".join([*lines, *(o.raw for o in odd)]) + b"\n")
    fw = Flywheel(fw_dir, None)
    result = fw("--json", "ingest", str(clean))
    assert result.returncode == 0 and result.json["rejected"] == 0, result
    return result.json["ingested"], {w: c["ingested"] for w, c in result.json["workloads"].items()}


def _ingest_and_check(tmp_path: Path, good: list[bytes], *, seed: int, oversized: bool = False,
                      compress: bool = False, stdin: bool = False) -> int:
    bad = bad_lines() + ([oversized_line()] if oversized else [])
    odd = odd_lines()
    path = tmp_path / "mixed.jsonl"
    where = _mixed(path, bad, odd, good, seed)
    expected_records, expected_workloads = _distinct(tmp_path / "reference", good, odd)
    source = str(path)
    if compress:
        source = str(tmp_path / "mixed.jsonl.gz")
        Path(source).write_bytes(gzip.compress(path.read_bytes()))
    (tmp_path / "work").mkdir()
    fw = Flywheel(tmp_path / "work", None)
    rejects = tmp_path / "rejects.jsonl"
    args = ["--json", "ingest", "-" if stdin else source, "--rejects", str(rejects)]
    result = fw(*args, stdin=path.read_bytes() if stdin else None)
    assert result.returncode == 0, result
    assert TRACEBACK not in result.stderr
    doc = result.json
    assert (doc["rejected"], doc["ingested"]) == (len(bad), expected_records), doc
    assert {w: c["ingested"] for w, c in doc["workloads"].items()} == expected_workloads
    assert doc["read"] == len(bad) + len(good) + len(odd)
    shown = "<stdin>" if stdin else source
    reasons = rejects.with_name(rejects.name + ".errors.txt").read_text(encoding="utf-8").splitlines()
    assert len(reasons) == len(where)
    for text, (line, item) in zip(reasons, where):
        assert text.startswith(f"{shown}:{line}: {item.reason}"), (item.kind, text[:300])
    kept = rejects.read_bytes().split(b"\n")[:-1]
    assert kept == [item.raw for _, item in where]  # whole, byte for byte, in file order
    with sqlite3.connect(fw.state) as conn:
        assert conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == expected_records
        # Duplicate keys: the last one wins, as in every mainstream JSON reader; no record is filed under the decoy.
        assert conn.execute("SELECT COUNT(*) FROM records WHERE workload_id = 'decoy'").fetchone()[0] == 0
    return len(bad) + len(odd)


def _examples(count: int | None = None) -> list[bytes]:
    lines = [line for line in EXAMPLES.read_bytes().split(b"\n") if line]
    return lines[:count] if count else lines


def test_malformed_lines_in_a_good_file(tmp_path: Path, record_property: Any) -> None:
    kinds = _ingest_and_check(tmp_path, _examples(60), seed=1)
    assert kinds >= 60
    record_property("trials", kinds)


@pytest.mark.reliability
@pytest.mark.parametrize(("seed", "how"), [(2, "file"), (3, "gzip"), (4, "stdin")])
def test_malformed_lines_in_all_the_examples(tmp_path: Path, record_property: Any, seed: int, how: str) -> None:
    kinds = _ingest_and_check(tmp_path, _examples(), seed=seed, oversized=how == "file",
                              compress=how == "gzip", stdin=how == "stdin")
    record_property("trials", kinds)


# --- configuration ------------------------------------------------------------------------------------------------

BAD_CONFIGS: list[tuple[str, str, str]] = [
    ("unknown section", "[nmpp]\nnemo_url = 'http://x'\n", "nmpp: unknown key"),
    ("unknown key", "[split]\neval_sise = 5\n", "split.eval_sise: unknown key"),
    ("string for an integer", "[split]\neval_size = 'many'\n", "split.eval_size: Input should be a valid integer"),
    ("string for a NIM's GPUs", "[[nims]]\nmodel_name = 'a/b'\ngpus = 'one'\n", "nims.0.gpus: Input should be a valid integer"),
    ("no NIMs", "nims = []\n", "nims: Value error, at least one [[nims]] entry is required"),
    ("NIM without a model name", "[[nims]]\ngpus = 1\n", "nims.0.model_name: Field required"),
    ("the same NIM twice", "[[nims]]\nmodel_name = 'a/b'\n[[nims]]\nmodel_name = 'a/b'\n", "[[nims]] lists 'a/b' twice"),
    ("remote judge without a URL", "[judge]\nkind = 'remote'\n", "judge.kind = 'remote' needs judge.url"),
    ("unknown judge kind", "[judge]\nkind = 'magic'\n", "judge.kind: Input should be 'remote', 'local' or 'none'"),
    ("ratio out of range", "[split]\nval_ratio = 1.5\n", "split.val_ratio: Input should be less than 1"),
    ("negative timeout", "[timeouts]\ndeploy = -1\n", "timeouts.deploy: Input should be greater than 0"),
    ("not TOML", "[split\neval_size = 1\n", "is not valid TOML"),
    ("not UTF-8", "[nmp]\nnamespace = 'caf\xe9'\n", "is not valid TOML"),
    ("a table where a value belongs", "[split.eval_size]\nx = 1\n", "split.eval_size: Input should be a valid integer"),
]

BAD_ENV: list[tuple[str, dict[str, str], str]] = [
    ("env: string for an integer", {"FLYWHEEL_SPLIT__EVAL_SIZE": "abc"}, "split.eval_size: Input should be a valid integer"),
    ("env: unknown key", {"FLYWHEEL_SPLIT__NOPE": "1"}, "split.nope: unknown key"),
    ("env: no NIMs", {"FLYWHEEL_NIMS": "[]"}, "at least one [[nims]] entry is required"),
]


def _config_case(tmp_path: Path, text: str | None, env: dict[str, str], command: tuple[str, ...]) -> Any:
    config = tmp_path / "flywheel.toml"
    if text is not None:
        config.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    fw = Flywheel(tmp_path, None, config=config if text is not None else None)
    clean = {k: v for k, v in fw.env.items() if k != "FLYWHEEL_NIMS"}  # the harness's NIM list would hide the file's
    proc = subprocess.run(fw.argv(*command), cwd=tmp_path, env={**clean, **env}, capture_output=True, timeout=60)
    return proc


def _assert_one_clear_message(proc: Any, expected: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode == 2, (proc.returncode, err)
    assert proc.stdout == b"", proc.stdout
    assert TRACEBACK not in err and "internal error" not in err, err
    assert err.count("error:") == 1, err
    assert expected in " ".join(err.split()), err


def _assert_one_clear_message_in_process(result: Any, expected: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == "", result.stdout
    assert TRACEBACK not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert result.stderr.lower().count("error:") == 1, result.stderr
    assert expected in " ".join(result.stderr.split()), result.stderr


def test_bad_configs_and_env_exit_2_with_one_message(tmp_path: Path, cli: Any, record_property: Any) -> None:
    # In-process for speed; the long trials run the same cases through real processes and several commands.
    record_property("trials", len(BAD_CONFIGS) + len(BAD_ENV))
    config = tmp_path / "flywheel.toml"
    for _, text, expected in BAD_CONFIGS:
        config.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
        _assert_one_clear_message_in_process(cli("--config", str(config), "config", "show"), expected)
    for _, env, expected in BAD_ENV:
        _assert_one_clear_message_in_process(cli("config", "show", env=env), expected)


@pytest.mark.reliability
@pytest.mark.parametrize("command", [("run", "--workload", "tool_router"), ("run", "--workload", "tool_router", "--dry-run"),
                                     ("datasets", "build", "--workload", "tool_router"), ("deploy", "list"), ("cleanup",)],
                         ids=lambda c: " ".join(c))
def test_bad_configs_stop_every_command(tmp_path: Path, record_property: Any, command: tuple[str, ...]) -> None:
    record_property("trials", len(BAD_CONFIGS))
    for i, (_, text, expected) in enumerate(BAD_CONFIGS):
        case = tmp_path / f"c{i}"
        case.mkdir()
        (case / "x.jsonl").write_bytes(_examples(1)[0] + b"\n")
        _assert_one_clear_message(_config_case(case, text, {}, command), expected)


# --- flags --------------------------------------------------------------------------------------------------------

BAD_FLAGS: list[tuple[tuple[str, ...], str]] = [
    (("ingest", "--bogus", "x.jsonl"), "No such option: --bogus"),
    (("frobnicate",), "No such command 'frobnicate'"),
    (("run",), "Missing option '--workload'"),
    (("run", "--workload", "w", "--max-parallel-nims", "0"), "Invalid value for '--max-parallel-nims'"),
    (("run", "--workload", "w", "--max-parallel-nims", "two"), "Invalid value for '--max-parallel-nims'"),
    (("run", "--workload", "w", "--resume", "run-1", "--new"), "--resume and --new do not go together"),
    (("report", "--format", "xml"), "Invalid value for '--format'"),
    (("--platform", "foo", "config", "show"), "Invalid value for --platform"),
    (("ingest",), "nothing to ingest"),
    (("ingest", "--since", "2026-01-01", "x.jsonl"), "--since, --until and --limit apply to Elasticsearch"),
    (("ingest", "--es-url", "http://127.0.0.1:9", "x.jsonl"), "give either files or --es-url/--es-index, not both"),
    (("ingest", "--max-line-bytes", "-1", "x.jsonl"), "Invalid value for '--max-line-bytes'"),
    (("evaluate", "--workload", "w", "--nim", "a/b", "--type", "bogus"), "--type must be base, icl, customized or all"),
    (("datasets", "build"), "Missing option '--workload'"),
    (("runs", "show"), "Missing argument 'run_id'"),
    (("deploy", "up"), "Missing argument 'model'"),
    (("sandbox", "serve", "--port", "70000"), "Invalid value for '--port'"),
    (("cleanup", "--yes=maybe"), "Option '--yes' does not take a value"),
    (("--json",), "Missing command"),
]


def test_bad_flags_exit_2_with_one_message(tmp_path: Path, cli: Any, record_property: Any) -> None:
    record_property("trials", len(BAD_FLAGS))
    (tmp_path / "x.jsonl").write_bytes(_examples(1)[0] + b"\n")
    for args, expected in BAD_FLAGS:
        _assert_one_clear_message_in_process(cli(*args), expected)


@pytest.mark.reliability
def test_bad_flags_in_real_processes(tmp_path: Path, record_property: Any) -> None:
    record_property("trials", len(BAD_FLAGS))
    (tmp_path / "x.jsonl").write_bytes(_examples(1)[0] + b"\n")
    fw = Flywheel(tmp_path, None)
    for args, expected in BAD_FLAGS:
        result = fw(*args)
        assert result.returncode == 2, (args, result)
        assert result.stdout == "", (args, result)
        assert TRACEBACK not in result.stderr, (args, result)
        assert result.stderr.lower().count("error:") == 1, (args, result)
        assert expected in " ".join(result.stderr.split()), (args, result)
