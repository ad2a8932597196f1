"""Counter actions through /api/v1/counters/{code}/…: call, recall, start, skip, transfer…"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def staff(make_token: Any) -> dict[str, str]:
    """A staff token of counter Q01 (Tư pháp – Hộ tịch)."""
    return make_token("staff", counter="Q01")


def act(
    client: FlaskClient, headers: dict[str, str], counter: str, action: str, body: Any = None
) -> Any:
    """POST a counter action."""
    return client.post(f"/api/v1/counters/{counter}/{action}", json=body, headers=headers)


def test_call_next_calls_in_order_and_finishes_the_current(
    client: FlaskClient, issue: Any, staff: dict[str, str]
) -> None:
    first, second = issue("TPHT"), issue("TPHT")
    called = act(client, staff, "Q01", "call-next").get_json()["ticket"]
    assert called["number"] == first["number"] and called["status"] == "called"
    assert called["counter"] == {"code": "Q01", "name": "Quầy số 1"}
    called = act(client, staff, "Q01", "call-next").get_json()["ticket"]
    assert called["number"] == second["number"]
    status = client.get(f"/api/v1/tickets/{first['lookup_code']}").get_json()
    assert status["status"] == "served"
    assert act(client, staff, "Q01", "call-next").status_code == 204
    counters = {c["code"]: c for c in client.get("/api/v1/counters", headers=staff).get_json()}
    assert counters["Q01"]["state"] == "idle" and counters["Q01"]["current"] is None


def test_recall_start_finish(client: FlaskClient, issue: Any, staff: dict[str, str]) -> None:
    issue("TPHT")
    act(client, staff, "Q01", "call-next")
    assert act(client, staff, "Q01", "recall").get_json()["ticket"]["status"] == "called"
    assert act(client, staff, "Q01", "start").get_json()["ticket"]["status"] == "serving"
    counters = {c["code"]: c for c in client.get("/api/v1/counters", headers=staff).get_json()}
    current = counters["Q01"]["current"]
    assert counters["Q01"]["state"] == "serving"
    assert current["number"] == "A001" and current["status"] == "serving"
    assert current["called_at"].endswith("+07:00")
    assert act(client, staff, "Q01", "finish").get_json()["ticket"]["status"] == "served"
    for action in ("finish", "recall", "skip", "start"):
        response = act(client, staff, "Q01", action)
        assert response.status_code == 409, action
        assert response.get_json()["error"]["code"] == "no_current_ticket"


def test_skip_then_call_the_no_show_back(
    client: FlaskClient, issue: Any, staff: dict[str, str]
) -> None:
    ticket = issue("TPHT")
    issue("TPHT")
    act(client, staff, "Q01", "call-next")
    assert act(client, staff, "Q01", "skip").get_json()["ticket"]["status"] == "no_show"
    assert act(client, staff, "Q01", "call-next").get_json()["ticket"]["number"] == "A002"
    back = act(client, staff, "Q01", "call", {"number": ticket["number"]}).get_json()["ticket"]
    assert back["number"] == "A001" and back["status"] == "called"
    served = client.get(f"/api/v1/tickets/{ticket['lookup_code']}").get_json()
    assert served["status"] == "called" and served["counter"]["code"] == "Q01"


def test_call_a_specific_number_errors(
    client: FlaskClient, issue: Any, staff: dict[str, str]
) -> None:
    issue("TPHT")
    missing = act(client, staff, "Q01", "call", {"number": "Z999"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    bad = act(client, staff, "Q01", "call", {"number": 12})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_request"
    act(client, staff, "Q01", "call", {"number": "a001"})  # case-insensitive
    again = act(client, make_token_admin(client), "Q02", "call", {"number": "A001"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_state"


def make_token_admin(client: FlaskClient) -> dict[str, str]:
    """An admin token made through the app behind the client."""
    from server.storage import accounts

    luot = client.application.extensions["luot"]
    with luot.db.write() as conn:
        token = accounts.create_token(conn, luot.engine.site_id, "admin")
    return {"Authorization": f"Bearer {token}"}


def test_transfer_to_a_service_keeps_the_place(
    client: FlaskClient, issue: Any, staff: dict[str, str], admin: dict[str, str]
) -> None:
    early = issue("TPHT")
    later_land = issue("DD")
    act(client, staff, "Q01", "call-next")
    moved = act(client, staff, "Q01", "transfer", {"service": "DD"}).get_json()["ticket"]
    assert moved["status"] == "waiting" and moved["number"] == early["number"]
    assert moved["service"]["code"] == "DD"
    assert moved["position"] == 1  # issued before B001, so it stands before it
    called = act(client, admin, "Q03", "call-next").get_json()["ticket"]
    assert called["number"] == "A001"
    assert (
        act(client, admin, "Q03", "call-next").get_json()["ticket"]["number"]
        == (later_land["number"])
    )


def test_transfer_to_a_counter(client: FlaskClient, issue: Any, admin: dict[str, str]) -> None:
    issue("TPHT")
    issue("DD")
    act(client, admin, "Q01", "call-next")
    moved = act(client, admin, "Q01", "transfer", {"counter": "Q05"}).get_json()["ticket"]
    assert moved["status"] == "waiting" and moved["position"] == 1
    # Q05 serves Xây dựng only, yet takes the ticket sent to it
    assert act(client, admin, "Q05", "call-next").get_json()["ticket"]["number"] == "A001"
    both = act(client, admin, "Q01", "transfer", {"service": "DD", "counter": "Q05"})
    assert both.status_code == 400
    unknown = act(client, admin, "Q05", "transfer", {"service": "NOPE"})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_found"


def test_pause_and_resume(client: FlaskClient, issue: Any, staff: dict[str, str]) -> None:
    issue("TPHT")
    paused = act(client, staff, "Q01", "pause").get_json()["counter"]
    assert paused["state"] == "paused"
    refused = act(client, staff, "Q01", "call-next")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "counter_paused"
    assert act(client, staff, "Q01", "resume").get_json()["counter"]["state"] == "idle"
    assert act(client, staff, "Q01", "call-next").status_code == 200


def test_priority_first_with_a_streak_guard_that_starts_afresh_each_day(
    client: FlaskClient, issue: Any, staff: dict[str, str], clock: Any
) -> None:
    """Three priority calls in a row (LUOT_MAX_PRIORITY_STREAK) let an ordinary ticket
    through; yesterday's streak does not hold back today's first priority ticket."""
    ordinary = issue("TPHT")["number"]
    elderly = [issue("TPHT", priority="elderly")["number"] for _ in range(4)]
    calls = [act(client, staff, "Q01", "call-next").get_json()["ticket"] for _ in range(4)]
    assert [c["number"] for c in calls] == [*elderly[:3], ordinary]
    assert act(client, staff, "Q01", "call-next").get_json()["ticket"]["number"] == elderly[3]
    for _ in range(2):
        issue("TPHT", priority="elderly")
        act(client, staff, "Q01", "call-next")  # the streak ends the day at 3
    clock.advance(days=1)
    ordinary = issue("TPHT")["number"]
    first = issue("TPHT", priority="elderly")["number"]
    assert act(client, staff, "Q01", "call-next").get_json()["ticket"]["number"] == first
    assert act(client, staff, "Q01", "call-next").get_json()["ticket"]["number"] == ordinary


def test_two_counters_never_get_the_same_ticket(
    client: FlaskClient, issue: Any, admin: dict[str, str]
) -> None:
    issue("TPHT")
    issue("TPHT")
    a = act(client, admin, "Q01", "call-next").get_json()["ticket"]["number"]
    b = act(client, admin, "Q02", "call-next").get_json()["ticket"]["number"]
    assert {a, b} == {"A001", "A002"}


def test_counter_permissions(
    client: FlaskClient, issue: Any, staff: dict[str, str], make_token: Any
) -> None:
    issue("TPHT")
    other = act(client, staff, "Q02", "call-next")
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "forbidden"
    kiosk = make_token("kiosk", name="k9")
    assert act(client, kiosk, "Q01", "call-next").status_code == 403
    anonymous = client.post("/api/v1/counters/Q01/call-next")
    assert anonymous.status_code == 401 and anonymous.get_json()["error"]["code"] == "unauthorized"
    unknown = act(client, make_token("admin"), "Q99", "call-next")
    assert unknown.status_code == 404
    assert client.get("/api/v1/counters").status_code == 401
