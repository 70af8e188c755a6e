"""The sandbox HTTP server: routing, fault injection, the request log and the `/_sandbox/*` control endpoints.

One loopback server answers every NMP service: nemo_url = datastore_url = `http://HOST:PORT`, nim_url = that + `/nim`.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
import threading
import time
import traceback
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flywheel_cli import __version__
from flywheel_cli.errors import UsageError
from flywheel_cli.sandbox import (
    customization_configs,
    customizer,
    datastore,
    deployments,
    entity,
    evaluator,
    proxy,
)
from flywheel_cli.sandbox.api import INTERNAL_HEADER, ApiError, Handler, Request, Response, Route, error_body
from flywheel_cli.sandbox.clock import Clock, iso
from flywheel_cli.sandbox.faults import FAULT_MODES, Fault, FaultInjector
from flywheel_cli.sandbox.store import State

CONTROL_PREFIX = "/_sandbox/"
LOG_LIMIT = 200_000  # the request log keeps the newest entries; a long `serve` session must not grow without end
_PARAM = re.compile(r"\{(\w+)(:path)?\}")
_TERMINAL = ("completed", "failed", "cancelled")


def _compile(pattern: str) -> re.Pattern[str]:
    parts, last = [], 0
    for m in _PARAM.finditer(pattern):
        parts.append(re.escape(pattern[last : m.start()]))
        parts.append(f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        last = m.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("^" + "".join(parts) + "$")


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self._routes = [(method, _compile(pattern), handler) for method, pattern, handler in routes]

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        lookup = "GET" if method == "HEAD" else method
        for route_method, regex, handler in self._routes:
            m = regex.match(path)
            if m is None:
                continue
            if route_method == lookup:
                return handler, {k: unquote(v) for k, v in m.groupdict().items()}
            allowed = True
        if allowed:
            raise ApiError(405, "Method Not Allowed")
        raise ApiError(404, "Not Found")


SERVICE_ROUTES: list[Route] = [
    *entity.ROUTES,
    *datastore.ROUTES,
    *customization_configs.ROUTES,
    *customizer.ROUTES,
    *evaluator.ROUTES,
    *deployments.ROUTES,
    *proxy.ROUTES,
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() closes the connections itself; never wait on a handler that is mid-hang
    allow_reuse_address = True
    request_queue_size = 128  # evaluations and parallel clients open connections in bursts

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver would print a traceback; a connection torn down mid-request is normal here (faults, stop()).
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one small answer per request: Nagle + delayed ACKs would add 40 ms each
    timeout = 120  # idle keep-alive connections are closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        self.server.sandbox.handle(self, self.command, self.path, self._read_body())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def send(self, response: Response, head_only: bool = False) -> None:
        payload = response.encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head_only:
            self.wfile.write(payload)

    def drop(self) -> None:
        self.close_connection = True


class Sandbox:
    """A loopback NMP 25.x emulator with simulated models.

    `port=0` picks a free port. Real seconds = simulated seconds / `speed`. `fault_rate` is the share of requests
    (outside `/_sandbox/*`) that get a fault; `hang_seconds` is how long a "timeout" fault holds the request before
    closing it, `slow_seconds` the longest delay of a "slow" one.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 60.0,
        fault_rate: float = 0.0,
        seed: int = 42,
        *,
        hang_seconds: float = 3.0,
        slow_seconds: float = 2.0,
        fault_modes: tuple[str, ...] = FAULT_MODES,
    ) -> None:
        if not speed > 0:
            raise UsageError(f"sandbox speed must be greater than 0 (got {speed})")
        if not 0.0 <= fault_rate <= 1.0:
            raise UsageError(f"sandbox fault rate must be between 0 and 1 (got {fault_rate})")
        if hang_seconds < 0 or slow_seconds < 0:
            raise UsageError("sandbox hang and slow durations cannot be negative")
        if not fault_modes or set(fault_modes) - set(FAULT_MODES):
            raise UsageError(f"sandbox fault modes must be among {', '.join(FAULT_MODES)}")
        self.host = host
        self.port = port
        self.speed = speed
        self.seed = seed
        self.faults = FaultInjector(fault_rate, seed, hang_seconds, slow_seconds, tuple(fault_modes))
        self.state = State(clock=Clock(speed), seed=seed)
        entity.seed(self.state)
        customization_configs.seed(self.state)
        self._router = Router(SERVICE_ROUTES)
        self._control = Router(
            [
                ("GET", "/_sandbox/info", lambda _s, _r: Response(200, self.info())),
                ("GET", "/_sandbox/requests", self._requests_route),
                ("DELETE", "/_sandbox/requests", self._clear_route),
                ("GET", "/_sandbox/state", lambda _s, _r: Response(200, self.state_summary())),
            ]
        )
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._log_lock = threading.Lock()
        self._seq = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def _bind(self) -> _Server:
        if self._server is None:
            try:
                self._server = _Server((self.host, self.port), self)
            except OSError as exc:
                raise UsageError(
                    f"the sandbox cannot listen on {self.host}:{self.port}: {exc.strerror or exc}",
                    hint="Choose another port, or port 0 for any free one.",
                ) from None
            self.port = self._server.server_address[1]
            self.state.base_url = self.url
            self.state.stopping.clear()
        return self._server

    @property
    def url(self) -> str:
        if self._server is None:
            self._bind()
        return f"http://{self.host}:{self.port}"

    @property
    def nim_url(self) -> str:
        return self.url + "/nim"

    def start(self) -> Sandbox:
        """Serve in a background thread until `stop()`."""
        server = self._bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="flywheel-sandbox", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground; returns on KeyboardInterrupt."""
        server = self._bind()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self._close()

    def stop(self) -> None:
        if self._server is None:
            return
        self.state.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        server = self._server
        if server is None:
            return
        self.state.stopping.set()
        with server.connections_lock:
            for conn in list(server.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inspection -----------------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "sandbox": True,
            "url": self.url,
            "nemo_url": self.url,
            "datastore_url": self.url,
            "nim_url": self.nim_url,
            "speed": self.speed,
            "fault_rate": self.faults.rate,
            "fault_modes": list(self.faults.modes),
            "hang_seconds": self.faults.hang_seconds,
            "slow_seconds": self.faults.slow_seconds,
            "seed": self.seed,
        }

    def info(self) -> dict[str, Any]:
        return {
            **self.describe(),
            "simulated": True,
            "version": __version__,
            "note": "Every model answer and score from this server is simulated.",
        }

    def request_log(self, since: int = 0) -> list[dict[str, Any]]:
        with self._log_lock:
            return [dict(e) for e in self._log if e["seq"] > since]

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def state_summary(self) -> dict[str, Any]:
        s = self.state
        with s.lock:
            deps = [
                {"namespace": d.namespace, "name": d.name, "model": d.model, "status": d.status(s)}
                for d in s.deployments.values()
            ]
            cust = [
                {
                    "id": j.id,
                    "status": customizer.job_view(s, j)["status"],
                    "output_model": j.output_model,
                    "base_model": j.base_model,
                }
                for j in s.cust_jobs.values()
            ]
            evals = [{"id": j.id, "status": evaluator.job_view(s, j)["status"]} for j in s.eval_jobs.values()]
            summary = {
                "deployments": deps,
                "customization_jobs": cust,
                "evaluation_jobs": evals,
                "datasets": sorted(f"{ns}/{name}" for ns, name in s.datasets),
                "repos": sorted(f"{ns}/{name}" for ns, name in s.repos),
                "models": sorted(f"{ns}/{name}" for ns, name in s.models),
                "namespaces": sorted(s.namespaces),
            }
        summary["live"] = {
            "deployments": len(deps),
            "customization_jobs": sum(1 for j in cust if j["status"] not in _TERMINAL),
            "evaluation_jobs": sum(1 for j in evals if j["status"] not in _TERMINAL),
        }
        return summary

    def _requests_route(self, _state: State, req: Request) -> Response:
        return Response(200, {"requests": self.request_log(req.int_arg("since", 0, minimum=0))})

    def _clear_route(self, _state: State, _req: Request) -> Response:
        self.clear_request_log()
        return Response(200, {"requests": []})

    # --- request handling -----------------------------------------------------------------------------------------

    def handle(self, handler: _Handler, method: str, raw_path: str, body: bytes) -> None:
        started = time.time()
        parts = urlsplit(raw_path)
        path = parts.path
        internal = handler.headers.get(INTERNAL_HEADER) == "1"
        control = path.startswith(CONTROL_PREFIX)
        fault = None if control or internal else self.faults.draw(method)
        entry: dict[str, Any] = {
            "time": iso(started),
            "method": method,
            "path": path,
            "query": parts.query,
            "status": None,
            "fault": fault.mode if fault else None,
            "fault_phase": fault.phase if fault else None,
            "created": None,
            "internal": internal,
        }
        recorded = False

        def record() -> None:
            # Logged before the answer goes out: a client that reads the log after its answer must find the entry.
            nonlocal recorded
            if not recorded:
                recorded = True
                entry["duration_ms"] = round((time.time() - started) * 1000, 2)
                with self._log_lock:
                    entry["seq"] = next(self._seq)
                    self._log.append(entry)

        try:
            if fault is not None and fault.mode != "slow" and not fault.after_apply:
                record()
                self._inject(handler, fault, entry)
                return
            if fault is not None and fault.mode == "slow":
                self.state.stopping.wait(fault.delay)
            headers = {k.lower(): v for k, v in handler.headers.items()}
            request = Request(method, path, parse_qs(parts.query, keep_blank_values=True), headers, body)
            response = self._dispatch(request, control)
            if response.created:
                entry["created"] = {"kind": response.created[0], "id": response.created[1]}
            if fault is not None and fault.after_apply:
                record()
                self._inject(handler, fault, entry)
                return
            entry["status"] = response.status
            if response.trace:
                entry["trace"] = response.trace
            record()
            handler.send(response, head_only=method == "HEAD")
        except OSError:
            # The client went away first (it timed out on a slow answer): nothing is left to answer.
            entry["client_gone"] = True
            handler.drop()
        finally:
            record()

    def _dispatch(self, request: Request, control: bool) -> Response:
        try:
            route, params = (self._control if control else self._router).match(request.method, request.path)
            request.params = params
            return route(self.state, request)
        except ApiError as err:
            return Response(err.status, error_body(err))
        except Exception:  # the server must answer; an unexpected error is a 500 with the trace kept for debugging
            return Response(500, {"detail": "Internal Server Error"}, trace=traceback.format_exc(limit=8))

    def _inject(self, handler: _Handler, fault: Fault, entry: dict[str, Any]) -> None:
        if fault.mode == "error":
            entry["status"] = fault.status
            handler.send(Response(fault.status, {"detail": "simulated fault"}))
            return
        if fault.mode == "timeout":
            self.state.stopping.wait(fault.delay)
        handler.drop()
