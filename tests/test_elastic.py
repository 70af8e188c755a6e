"""The Elasticsearch log reader, with the real 8.x client against a loopback Elasticsearch double."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from itertools import islice
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from es_server import FakeElasticsearch, serve

from flywheel_cli.config import ElasticsearchConfig
from flywheel_cli.errors import ConfigError, ExitCode, RemoteError, UsageError
from flywheel_cli.logs.elastic import es_settings_from_env, iter_es_records

INDEX = "flywheel"
T0 = 1_772_409_600  # 2026-03-02 00:00:00 UTC
N_DOCS = 25_000
API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
USER, PASSWORD = "flywheel-reader", "pa55-w0rd-never-shown"


def _doc(i: int) -> dict[str, Any]:
    # 5 of every 8 documents belong to tool_router (15,625: not a multiple of the page size, so the last page is
    # short). Two documents share each second and insertion order is scrambled, so the tiebreaker matters.
    return {
        "_id": f"doc-{i:05d}",
        "_source": {
            "timestamp": T0 + ((i * 7919) % N_DOCS) // 2,
            "workload_id": "tool_router" if i % 8 < 5 else "summarizer",
            "client_id": "mobile-app" if i % 3 == 0 else "web-app",
            "request": {"messages": [{"role": "user", "content": f"q{i}"}]},
            "response": {"choices": [{"message": {"role": "assistant", "content": f"a{i}"}}]},
        },
    }


DOCS = [_doc(i) for i in range(N_DOCS)]


def _expected(**filters: Any) -> list[tuple[int, dict[str, Any]]]:
    """(position, doc) of the documents a filter selects, newest first, ties in insertion order."""
    since, until = filters.pop("since", None), filters.pop("until", None)
    chosen = [
        (pos, doc)
        for pos, doc in enumerate(DOCS)
        if all(doc["_source"][k] == v for k, v in filters.items())
        and (since is None or doc["_source"]["timestamp"] >= since)
        and (until is None or doc["_source"]["timestamp"] < until)
    ]
    return sorted(chosen, key=lambda item: (-item[1]["_source"]["timestamp"], item[0]))


def _sort_values(item: tuple[int, dict[str, Any]]) -> list[int]:
    pos, doc = item
    return [doc["_source"]["timestamp"] * 1000, pos]  # a date field sorts (and pages) in epoch milliseconds


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[FakeElasticsearch, str]]:
    fake = FakeElasticsearch()
    fake.add(INDEX, DOCS)
    with serve(fake) as url:
        yield fake, url


@pytest.fixture
def es(big: tuple[FakeElasticsearch, str]) -> tuple[FakeElasticsearch, str]:
    big[0].reset_requests()
    return big


def _small(**kwargs: Any) -> FakeElasticsearch:
    fake = FakeElasticsearch(**kwargs)
    fake.add(INDEX, DOCS[:30])
    return fake


def test_reads_one_workload_newest_first_past_10000_hits_with_search_after(es: tuple[FakeElasticsearch, str]) -> None:
    fake, url = es
    expected = _expected(workload_id="tool_router")
    assert len(expected) == 15_625

    records = list(iter_es_records(url, INDEX, workload_id="tool_router"))

    assert [loc for loc, _ in records] == [f"es://{INDEX}/{doc['_id']}" for _, doc in expected]
    assert [src for _, src in records] == [doc["_source"] for _, doc in expected]
    stamps = [src["timestamp"] for _, src in records]
    assert stamps == sorted(stamps, reverse=True)

    [opened] = fake.requests_to("POST", f"/{INDEX}/_pit")
    assert opened.query == {"keep_alive": "2m"}
    searches = fake.requests_to("POST", "/_search")
    assert len(searches) == 16  # 15 pages of 1000, then 625
    for n, request in enumerate(searches):
        body = request.body
        assert body["query"] == {"bool": {"filter": [{"term": {"workload_id": "tool_router"}}]}}
        assert body["sort"] == [{"timestamp": {"order": "desc"}}, {"_shard_doc": {"order": "asc"}}]
        assert body["size"] == 1000
        assert body["track_total_hits"] is False
        # The double hands out a new id per page; each request must carry the newest one.
        assert body["pit"] == {"id": f"pit-1-{n}", "keep_alive": "2m"}
        if n == 0:
            assert "search_after" not in body
        else:
            assert body["search_after"] == _sort_values(expected[n * 1000 - 1])
    [closed] = fake.requests_to("DELETE", "/_pit")
    assert closed.body == {"id": "pit-1-16"}
    assert fake.open_pit_count() == 0


def test_limit_shrinks_the_last_page_and_stops(es: tuple[FakeElasticsearch, str]) -> None:
    fake, url = es
    records = list(iter_es_records(url, INDEX, workload_id="tool_router", limit=2_500))

    expected = _expected(workload_id="tool_router")[:2_500]
    assert [loc for loc, _ in records] == [f"es://{INDEX}/{d['_id']}" for _, d in expected]
    assert [r.body["size"] for r in fake.requests_to("POST", "/_search")] == [1000, 1000, 500]
    assert len(fake.requests_to("DELETE", "/_pit")) == 1
    assert fake.open_pit_count() == 0


def test_limit_zero_does_not_contact_the_cluster(es: tuple[FakeElasticsearch, str]) -> None:
    fake, url = es
    assert list(iter_es_records(url, INDEX, limit=0)) == []
    assert fake.requests == []


def test_since_is_inclusive_and_until_exclusive_in_epoch_seconds(es: tuple[FakeElasticsearch, str]) -> None:
    fake, url = es
    seconds = sorted({d["_source"]["timestamp"] for d in DOCS if d["_source"]["workload_id"] == "summarizer"})
    # Bounds on seconds that hold summarizer records, so both edges are exercised.
    since = next(s for s in seconds if s >= T0 + 1_000)
    until = next(s for s in seconds if s >= T0 + 3_000)
    expected = _expected(workload_id="summarizer", since=since, until=until)

    records = list(iter_es_records(url, INDEX, workload_id="summarizer", since=since, until=until, page_size=500))

    assert [loc for loc, _ in records] == [f"es://{INDEX}/{d['_id']}" for _, d in expected]
    assert len(records) == len(expected) == 1_500
    stamps = {src["timestamp"] for _, src in records}
    assert min(stamps) == since
    assert until not in stamps and max(stamps) == max(s for s in seconds if s < until)
    assert fake.requests_to("POST", "/_search")[0].body["query"] == {
        "bool": {
            "filter": [
                {"term": {"workload_id": "summarizer"}},
                {"range": {"timestamp": {"format": "epoch_second", "gte": since, "lt": until}}},
            ]
        }
    }


def test_client_filter_combines_with_workload(es: tuple[FakeElasticsearch, str]) -> None:
    _, url = es
    expected = _expected(workload_id="tool_router", client_id="mobile-app")
    records = list(iter_es_records(url, INDEX, workload_id="tool_router", client_id="mobile-app", page_size=4000))
    assert len(records) == len(expected) == 5_209
    assert [loc for loc, _ in records] == [f"es://{INDEX}/{d['_id']}" for _, d in expected]
    assert {(s["workload_id"], s["client_id"]) for _, s in records} == {("tool_router", "mobile-app")}


def test_without_filters_reads_the_whole_index(es: tuple[FakeElasticsearch, str]) -> None:
    fake, url = es
    records = list(iter_es_records(url, INDEX, page_size=10_000))
    assert len(records) == N_DOCS
    assert [loc for loc, _ in records[:3]] == [f"es://{INDEX}/{d['_id']}" for _, d in _expected()[:3]]
    searches = fake.requests_to("POST", "/_search")
    assert len(searches) == 3
    assert searches[0].body["query"] == {"match_all": {}}


def test_closing_the_generator_early_closes_the_point_in_time(es: tuple[FakeElasticsearch, str]) -> None:
    fake, url = es
    records = iter_es_records(url, INDEX, workload_id="tool_router", page_size=100)
    first = list(islice(records, 250))
    assert len(first) == 250
    assert fake.requests_to("DELETE", "/_pit") == []

    records.close()

    searches = fake.requests_to("POST", "/_search")
    assert len(searches) == 3
    stem, _, generation = searches[-1].body["pit"]["id"].rpartition("-")
    [closed] = fake.requests_to("DELETE", "/_pit")
    assert closed.body == {"id": f"{stem}-{int(generation) + 1}"}  # the id the last search answered with
    assert fake.open_pit_count() == 0


def test_the_double_passes_the_clients_product_check(es: tuple[FakeElasticsearch, str]) -> None:
    _, url = es
    with Elasticsearch(url) as client:
        info = client.info()
    assert info["version"]["number"].startswith("8.")
    assert info.meta.headers["x-elastic-product"] == "Elasticsearch"


def test_api_key_is_sent_on_every_request() -> None:
    fake = _small(api_keys={API_KEY})
    with serve(fake) as url:
        records = list(iter_es_records(url, INDEX, api_key=API_KEY))
    assert len(records) == 30
    assert [r.headers["authorization"] for r in fake.requests] == [f"ApiKey {API_KEY}"] * 3


def test_basic_auth_is_sent_on_every_request() -> None:
    fake = _small(users={USER: PASSWORD})
    with serve(fake) as url:
        records = list(iter_es_records(url, INDEX, basic_auth=(USER, PASSWORD), page_size=20))
    assert len(records) == 30
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert [r.headers["authorization"] for r in fake.requests] == [f"Basic {token}"] * 4


def test_credentials_in_the_url_work_and_never_reach_the_message() -> None:
    fake = _small(users={USER: PASSWORD})
    with serve(fake) as url:
        with_creds = url.replace("http://", f"http://{USER}:{PASSWORD}@")
        assert len(list(iter_es_records(with_creds, INDEX))) == 30
        with pytest.raises(RemoteError) as caught:
            list(iter_es_records(with_creds, "missing-index"))
    assert PASSWORD not in str(caught.value)
    assert caught.value.url == url
    assert f"at {url}" in str(caught.value)


def test_wrong_api_key_is_a_remote_error_that_names_the_url_not_the_key() -> None:
    wrong = base64.b64encode(b"key-id:wrong-secret-value").decode()
    fake = _small(api_keys={API_KEY})
    with serve(fake) as url:
        with pytest.raises(RemoteError) as caught:
            list(iter_es_records(url, INDEX, api_key=wrong))
    err = caught.value
    assert err.exit_code == ExitCode.REMOTE == 4
    assert err.status_code == 401
    assert err.url == url
    assert err.message == (
        f"Elasticsearch at {url} rejected the credentials (HTTP 401) when asked to open a point in time on "
        f"index '{INDEX}'"
    )
    assert "api_key_env" in (err.hint or "")
    for text in (str(err), repr(err), repr(err.detail), repr(err.__cause__), repr(err.__context__)):
        assert wrong not in text and "wrong-secret-value" not in text
    assert err.__cause__ is None


def test_wrong_password_never_appears_in_the_error() -> None:
    fake = _small(users={USER: PASSWORD})
    with serve(fake) as url:
        with pytest.raises(RemoteError) as caught:
            list(iter_es_records(url, INDEX, basic_auth=(USER, "not-the-" + PASSWORD)))
    assert caught.value.status_code == 401
    assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value.detail)


def test_missing_index_is_a_remote_error_naming_index_and_url(es: tuple[FakeElasticsearch, str]) -> None:
    fake, url = es
    with pytest.raises(RemoteError) as caught:
        list(iter_es_records(url, "flywheel-logs", workload_id="tool_router"))
    err = caught.value
    assert err.exit_code == ExitCode.REMOTE
    assert err.status_code == 404
    assert err.message == f"index 'flywheel-logs' does not exist on Elasticsearch at {url}"
    assert err.hint == "Check --es-index (GET /_cat/indices lists the indices)."
    assert err.detail == {
        "status": 404,
        "type": "index_not_found_exception",
        "reason": "index_not_found_exception: no such index [flywheel-logs]",
    }
    assert fake.requests_to("POST", "/_search") == []


def test_unreadable_index_is_a_remote_error_with_the_403_reason() -> None:
    fake = _small(api_keys={API_KEY}, forbidden_indices={INDEX})
    with serve(fake) as url:
        with pytest.raises(RemoteError) as caught:
            list(iter_es_records(url, INDEX, api_key=API_KEY))
    assert caught.value.status_code == 403
    assert caught.value.message.startswith(
        f"Elasticsearch at {url} refused to open a point in time on index '{INDEX}' (HTTP 403): security_exception: "
        "action [indices:data/read/open_point_in_time] is unauthorized"
    )
    assert caught.value.hint == "The credentials need the 'read' privilege on the index."


def test_server_down_is_a_remote_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(RemoteError) as caught:
        list(iter_es_records(url, INDEX, api_key=API_KEY, request_timeout=2.0))
    err = caught.value
    assert err.exit_code == ExitCode.REMOTE
    assert err.status_code is None
    assert err.url == url
    assert err.message.startswith(f"cannot reach Elasticsearch at {url}: ")
    assert err.hint == "Check --es-url and that the cluster is up and reachable from this machine."
    assert API_KEY not in str(err)


def test_a_server_that_is_not_elasticsearch_is_refused() -> None:
    fake = _small(product_header=False)
    with serve(fake) as url:
        with pytest.raises(RemoteError) as caught:
            list(iter_es_records(url, INDEX))
    assert caught.value.message == (
        f"the server at {url} is not Elasticsearch (it did not send the X-Elastic-Product header)"
    )


def test_failed_shards_are_an_error_not_a_silent_partial_read() -> None:
    fake = _small(failed_shards=1)
    with serve(fake) as url:
        with pytest.raises(RemoteError) as caught:
            list(iter_es_records(url, INDEX))
    assert caught.value.message == (
        f"Elasticsearch at {url}: 1 of 2 shards of index '{INDEX}' failed during the search: "
        "[es-fake-1] Node not connected"
    )
    assert [r.method for r in fake.requests] == ["POST", "POST", "DELETE"]
    assert fake.open_pit_count() == 0


def test_a_failing_search_is_a_remote_error_and_the_point_in_time_is_closed() -> None:
    error = {"type": "search_phase_execution_exception", "reason": "all shards failed"}
    fake = _small(search_error=(500, error))
    with serve(fake) as url:
        with pytest.raises(RemoteError) as caught:
            list(iter_es_records(url, INDEX))
    err = caught.value
    assert err.status_code == 500
    assert err.message == (
        f"Elasticsearch at {url} failed to search index '{INDEX}' (HTTP 500): "
        "search_phase_execution_exception: all shards failed"
    )
    assert [(r.method, r.path) for r in fake.requests] == [("POST", f"/{INDEX}/_pit"), ("POST", "/_search"),
                                                           ("DELETE", "/_pit")]
    assert fake.open_pit_count() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page_size": 0}, "Elasticsearch page size must be between 1 and 10000, got 0"),
        ({"page_size": 10_001}, "Elasticsearch page size must be between 1 and 10000, got 10001"),
        ({"limit": -1}, "--limit must be 0 or more, got -1"),
        ({"since": T0, "until": T0}, f"--since ({T0}) must be earlier than --until ({T0})"),
        (
            {"api_key": API_KEY, "basic_auth": (USER, PASSWORD)},
            "both an Elasticsearch API key and a username/password were given",
        ),
    ],
)
def test_bad_arguments_are_usage_errors_before_any_request(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        iter_es_records("http://127.0.0.1:9", INDEX, **kwargs)
    assert caught.value.message == message
    assert API_KEY not in str(caught.value) and PASSWORD not in str(caught.value)


def test_url_without_scheme_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        iter_es_records("localhost:9200", INDEX)
    assert caught.value.message.startswith("invalid Elasticsearch URL 'localhost:9200': ")


def test_invalid_url_error_hides_its_credentials() -> None:
    with pytest.raises(UsageError) as caught:
        iter_es_records(f"{USER}:{PASSWORD}@localhost:9200", INDEX)
    assert caught.value.message.startswith("invalid Elasticsearch URL 'localhost:9200': ")
    assert PASSWORD not in str(caught.value)


ENV_NAMES = ("FW_TEST_ES_KEY", "FW_TEST_ES_USER", "FW_TEST_ES_PASS")


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> ElasticsearchConfig:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    key_env, user_env, pass_env = ENV_NAMES
    return ElasticsearchConfig(
        api_key_env=key_env, username_env=user_env, password_env=pass_env, verify_certs=False, page_size=250
    )


def test_settings_without_credentials(cfg: ElasticsearchConfig) -> None:
    assert es_settings_from_env(cfg) == {"verify_certs": False, "page_size": 250}


def test_settings_prefer_the_api_key(cfg: ElasticsearchConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_TEST_ES_KEY", API_KEY)
    monkeypatch.setenv("FW_TEST_ES_USER", USER)
    monkeypatch.setenv("FW_TEST_ES_PASS", PASSWORD)
    assert es_settings_from_env(cfg) == {"verify_certs": False, "page_size": 250, "api_key": API_KEY}


def test_settings_basic_auth(cfg: ElasticsearchConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_TEST_ES_USER", USER)
    monkeypatch.setenv("FW_TEST_ES_PASS", PASSWORD)
    assert es_settings_from_env(cfg) == {"verify_certs": False, "page_size": 250, "basic_auth": (USER, PASSWORD)}


def test_settings_username_without_password_is_a_config_error(
    cfg: ElasticsearchConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FW_TEST_ES_USER", USER)
    with pytest.raises(ConfigError) as caught:
        es_settings_from_env(cfg)
    assert caught.value.message == "FW_TEST_ES_USER is set but FW_TEST_ES_PASS is not"
    assert caught.value.hint == "Set both for basic auth, or set FW_TEST_ES_KEY to use an API key instead."


def test_settings_feed_the_reader(cfg: ElasticsearchConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_TEST_ES_KEY", API_KEY)
    fake = _small(api_keys={API_KEY})
    with serve(fake) as url:
        records = list(iter_es_records(url, INDEX, **es_settings_from_env(cfg)))
    assert len(records) == 30
    assert [r.body["size"] for r in fake.requests_to("POST", "/_search")] == [250]
