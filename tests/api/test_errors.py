"""Bad input always gets a clear JSON error with a stable code, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

#: Input handling lives above storage: the embedded database is enough to check it.
pytestmark = pytest.mark.sqlite_only


def error_of(response: Any) -> str:
    """The stable code of an error response."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"]
    return str(body["error"]["code"])


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"TPHT"', "application/json"),
        (b"", "application/json"),
        (b"service=TPHT", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies_are_invalid_request(
    client: FlaskClient, kiosk: dict[str, str], data: bytes, content_type: str
) -> None:
    response = client.post("/api/v1/tickets", data=data, content_type=content_type, headers=kiosk)
    assert response.status_code == 400
    assert error_of(response) == "invalid_request"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid_request"),
        ({"service": None}, 400, "invalid_request"),
        ({"service": 12}, 400, "invalid_request"),
        ({"service": ["TPHT"]}, 400, "invalid_request"),
        ({"service": ""}, 400, "invalid_request"),
        ({"service": "x" * 5000}, 400, "invalid_request"),
        ({"service": "NOPE"}, 404, "not_found"),
        ({"service": "TPHT", "procedure": "NOPE"}, 404, "not_found"),
        ({"service": "TPHT", "procedure": "DD-01"}, 400, "invalid_request"),
        ({"service": "TPHT", "procedure": 5}, 400, "invalid_request"),
        ({"service": "TPHT", "priority": "vip"}, 400, "invalid_request"),
        ({"service": "TPHT", "priority": True}, 400, "invalid_request"),
    ],
)
def test_bad_ticket_fields(
    client: FlaskClient, kiosk: dict[str, str], body: Any, status: int, code: str
) -> None:
    response = client.post("/api/v1/tickets", json=body, headers=kiosk)
    assert response.status_code == status
    assert error_of(response) == code
    assert client.get("/api/v1/display/state").get_json()["waiting"]["TPHT"] == 0


def test_huge_body_is_payload_too_large(client: FlaskClient, kiosk: dict[str, str]) -> None:
    huge = b'{"service": "' + b"A" * 200_000 + b'"}'
    response = client.post(
        "/api/v1/tickets", data=huge, content_type="application/json", headers=kiosk
    )
    assert response.status_code == 413
    assert error_of(response) == "payload_too_large"


def test_long_idempotency_key_is_refused(client: FlaskClient, kiosk: dict[str, str]) -> None:
    headers = {**kiosk, "Idempotency-Key": "k" * 129}
    response = client.post("/api/v1/tickets", json={"service": "TPHT"}, headers=headers)
    assert response.status_code == 400 and error_of(response) == "invalid_request"


def test_auth_errors(client: FlaskClient, make_token: Any) -> None:
    body = {"service": "TPHT"}
    assert error_of(client.post("/api/v1/tickets", json=body)) == "unauthorized"
    wrong = {"Authorization": "Bearer luot_nope"}
    assert error_of(client.post("/api/v1/tickets", json=body, headers=wrong)) == "unauthorized"
    basic = {"Authorization": "Basic abc"}
    assert error_of(client.post("/api/v1/tickets", json=body, headers=basic)) == "unauthorized"
    display = make_token("display")
    response = client.post("/api/v1/tickets", json=body, headers=display)
    assert response.status_code == 403 and error_of(response) == "forbidden"


def test_reenrolling_a_kiosk_revokes_its_old_token(client: FlaskClient, make_token: Any) -> None:
    old = make_token("kiosk", name="lobby")
    make_token("kiosk", name="lobby")
    response = client.post("/api/v1/tickets", json={"service": "TPHT"}, headers=old)
    assert response.status_code == 401


def test_unknown_route_and_method(client: FlaskClient) -> None:
    assert error_of(client.get("/api/v1/nothing-here")) == "not_found"
    response = client.delete("/api/v1/services")
    assert response.status_code == 405 and error_of(response) == "method_not_allowed"


def test_unknown_ticket_codes(client: FlaskClient) -> None:
    assert error_of(client.get("/api/v1/tickets/unknown")) == "not_found"
    assert error_of(client.post("/api/v1/tickets/unknown/cancel")) == "not_found"


def test_lookups_are_rate_limited(app: Any, client: FlaskClient) -> None:
    statuses = [client.get(f"/api/v1/tickets/guess-{i}").status_code for i in range(125)]
    assert statuses[:120] == [404] * 120
    assert statuses[-1] == 429
    assert error_of(client.get("/api/v1/tickets/guess")) == "rate_limited"


def test_behind_a_proxy_each_client_has_its_own_limit(app: Any, db_url: str, tmp_path: Any) -> None:
    from server.app import create_app
    from server.config import Config

    proxied = create_app(
        Config.from_env({}, LUOT_DATABASE_URL=db_url, LUOT_SECRET_KEY="t", LUOT_TRUSTED_PROXIES="1")
    )
    client = proxied.test_client()
    first = {"X-Forwarded-For": "10.0.0.1"}
    assert [client.get(f"/api/v1/tickets/g{i}", headers=first).status_code for i in range(121)][
        -1
    ] == 429
    second = client.get("/api/v1/tickets/g", headers={"X-Forwarded-For": "10.0.0.2"})
    assert second.status_code == 404
    proxied.extensions["luot"].close()
