"""The OpenAPI document tells the truth: every route, and the shapes the routes answer."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

#: Input handling lives above storage: the embedded database is enough to check it.
pytestmark = pytest.mark.sqlite_only


def routes(app: Flask) -> set[tuple[str, str]]:
    """(path as OpenAPI writes it, method) of every /api/v1 route."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1") :])
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                found.add((path, method.lower()))
    return found


def test_document_is_valid_openapi(client: FlaskClient) -> None:
    validate(client.get("/api/v1/openapi.json").get_json())


def test_document_lists_exactly_the_routes(app: Flask, client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == routes(app)


class Checker:
    """Validates responses against the document's schema for their path, method and status."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: set[tuple[str, str, str]] = set()

    def check(self, path: str, method: str, response: Any) -> Any:
        """Asserts the response matches its documented schema; returns its JSON."""
        operation = self.document["paths"][path][method]
        status = str(response.status_code)
        assert status in operation["responses"], (path, method, status, response.get_json())
        documented = operation["responses"][status]
        self.checked.add((path, method, status))
        if "content" not in documented:
            assert not response.data
            return None
        schema = {
            **documented["content"]["application/json"]["schema"],
            "components": self.document["components"],
        }
        body = response.get_json()
        Draft202012Validator(schema).validate(body)
        return body


def test_responses_match_their_schemas(
    client: FlaskClient, kiosk: dict[str, str], admin: dict[str, str]
) -> None:
    checker = Checker(client.get("/api/v1/openapi.json").get_json())
    c = checker.check
    c("/services", "get", client.get("/api/v1/services"))
    c("/priorities", "get", client.get("/api/v1/priorities"))
    c("/procedures", "get", client.get("/api/v1/procedures?q=khai sinh"))
    c("/procedures", "get", client.get("/api/v1/procedures?service=NOPE"))
    ticket = c(
        "/tickets",
        "post",
        client.post(
            "/api/v1/tickets", json={"service": "TPHT"}, headers={**kiosk, "Idempotency-Key": "1"}
        ),
    )
    c(
        "/tickets",
        "post",
        client.post(
            "/api/v1/tickets", json={"service": "TPHT"}, headers={**kiosk, "Idempotency-Key": "1"}
        ),
    )
    c("/tickets", "post", client.post("/api/v1/tickets", json={"service": "NOPE"}, headers=kiosk))
    c("/tickets", "post", client.post("/api/v1/tickets", json={"service": 1}, headers=kiosk))
    c("/tickets", "post", client.post("/api/v1/tickets", json={"service": "TPHT"}))
    code = ticket["lookup_code"]
    c("/tickets/{lookup_code}", "get", client.get(f"/api/v1/tickets/{code}"))
    c("/tickets/{lookup_code}", "get", client.get("/api/v1/tickets/nope"))
    client.post("/api/v1/tickets", json={"service": "TPHT"}, headers=kiosk)
    c("/counters", "get", client.get("/api/v1/counters", headers=admin))
    c("/counters", "get", client.get("/api/v1/counters"))
    base = "/counters/{code}/"
    post = lambda action, body=None: client.post(  # noqa: E731
        f"/api/v1/counters/Q01/{action}", json=body, headers=admin
    )
    c(base + "call-next", "post", post("call-next"))
    c(base + "recall", "post", post("recall"))
    c(base + "start", "post", post("start"))
    c(base + "transfer", "post", post("transfer", {"service": "DD"}))
    c(base + "call", "post", post("call", {"number": "A001"}))
    c(base + "skip", "post", post("skip"))
    c(base + "finish", "post", post("finish"))
    c(base + "call-next", "post", post("call-next"))
    c(base + "finish", "post", post("finish"))
    c(base + "call-next", "post", post("call-next"))
    c(base + "pause", "post", post("pause"))
    c(base + "call-next", "post", post("call-next"))
    c(base + "resume", "post", post("resume"))
    c("/display/state", "get", client.get("/api/v1/display/state"))
    c("/tickets/{lookup_code}/cancel", "post", client.post(f"/api/v1/tickets/{code}/cancel"))
    c(
        "/auth/login",
        "post",
        client.post("/api/v1/auth/login", json={"username": "x", "password": "y"}),
    )
    c("/auth/me", "get", client.get("/api/v1/auth/me", headers=admin))
    c("/auth/logout", "post", client.post("/api/v1/auth/logout"))
    c("/openapi.json", "get", client.get("/api/v1/openapi.json"))
    assert ("/counters/{code}/call-next", "post", "204") in checker.checked
    assert ("/display/state", "get", "200") in checker.checked
