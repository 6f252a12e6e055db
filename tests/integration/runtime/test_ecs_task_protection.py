"""Scale-in protection through an ECS agent endpoint: real HTTP against a stand-in agent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from shopflow_runtime.aws import EcsTaskProtection


class StandInAgent(BaseHTTPRequestHandler):
    """Answers ``PUT /task-protection/v1/state`` the way the ECS agent does."""

    requests: list[tuple[str, str, dict[str, Any]]]
    refuse: bool

    def do_PUT(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, self.headers["Content-Type"], body))
        if type(self).refuse:
            answer = {"failure": {"Reason": "TASK_NOT_VALID"}}
        else:
            answer = {"protection": {"ProtectionEnabled": body["ProtectionEnabled"]}}
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the requests."""


@pytest.fixture
def agent() -> Iterator[tuple[str, type[StandInAgent]]]:
    handler = type("Agent", (StandInAgent,), {"requests": [], "refuse": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/task-id", handler
    finally:
        server.shutdown()
        server.server_close()


def test_hold_and_release_put_the_protection_state_to_the_agent(
    agent: tuple[str, type[StandInAgent]],
) -> None:
    # Given the agent URI ECS sets in the task (ECS_AGENT_URI)
    uri, handler = agent
    protection = EcsTaskProtection(uri, expires_minutes=70)
    # When a message is held, then released
    protection.hold()
    protection.release()
    # Then the agent was asked to protect the task for a bounded time, then to stop
    assert handler.requests == [
        (
            "/api/task-id/task-protection/v1/state",
            "application/json",
            {"ProtectionEnabled": True, "ExpiresInMinutes": 70},
        ),
        ("/api/task-id/task-protection/v1/state", "application/json", {"ProtectionEnabled": False}),
    ]


def test_a_refusal_from_the_agent_is_an_error_the_worker_can_log(
    agent: tuple[str, type[StandInAgent]],
) -> None:
    uri, handler = agent
    handler.refuse = True
    with pytest.raises(RuntimeError, match="TASK_NOT_VALID"):
        EcsTaskProtection(uri, expires_minutes=70).hold()
