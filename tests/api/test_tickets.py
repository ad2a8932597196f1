"""Issuing, looking up and cancelling tickets through /api/v1."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from server.engine.clock import ManualClock


def test_services_list_the_demo_with_waiting_counts(client: FlaskClient, issue: Any) -> None:
    issue("TPHT")
    issue("TPHT")
    services = {s["code"]: s for s in client.get("/api/v1/services").get_json()}
    assert len(services) >= 10
    assert services["TPHT"]["name"] == "Tư pháp – Hộ tịch"
    assert services["TPHT"]["prefix"] == "A"
    assert services["TPHT"]["waiting"] == 2
    assert services["DD"]["waiting"] == 0
    assert services["TPHT"]["open"] is True
    assert services["TPHT"]["hours"] == "mon-sun 00:00-24:00"


def test_issue_numbers_per_service_with_prefix_and_padding(issue: Any) -> None:
    numbers = [issue("TPHT")["number"] for _ in range(3)] + [issue("DD")["number"]]
    assert numbers == ["A001", "A002", "A003", "B001"]


def test_issued_ticket_has_the_contract_shape(issue: Any) -> None:
    first = issue("TPHT")
    ticket = issue("TPHT", procedure="TPHT-01", priority=None)
    assert ticket["status"] == "waiting"
    assert ticket["service"] == {"code": "TPHT", "name": "Tư pháp – Hộ tịch"}
    assert ticket["position"] == 2 and ticket["waiting_ahead"] == 1
    assert ticket["estimated_wait_seconds"] > 0
    assert ticket["lookup_url"] == f"http://localhost/t/{ticket['lookup_code']}"
    assert re.fullmatch(r"2026-11-23T09:00:00\.000\+07:00", ticket["issued_at"])
    # the lookup code is unguessable: not derived from the number or id
    assert ticket["lookup_code"] != first["lookup_code"]
    assert len(ticket["lookup_code"]) >= 16
    assert ticket["number"] not in ticket["lookup_code"]


def test_public_url_setting_builds_lookup_url(app: Any, issue: Any) -> None:
    app.extensions["luot"].config.values["LUOT_PUBLIC_URL"] = "http://luot.local/"
    ticket = issue()
    assert ticket["lookup_url"] == f"http://luot.local/t/{ticket['lookup_code']}"


def test_priority_ticket_goes_ahead_and_is_recorded(client: FlaskClient, issue: Any) -> None:
    issue("TPHT")
    issue("TPHT")
    elder = issue("TPHT", priority="elderly")
    assert elder["priority"] == "elderly"
    assert elder["position"] == 1


def test_lookup_and_cancel(client: FlaskClient, issue: Any) -> None:
    ticket = issue()
    code = ticket["lookup_code"]
    status = client.get(f"/api/v1/tickets/{code}").get_json()
    assert status == {
        "number": "A001",
        "service": {"code": "TPHT", "name": "Tư pháp – Hộ tịch"},
        "status": "waiting",
        "position": 1,
        "waiting_ahead": 0,
        "estimated_wait_seconds": 0,
        "counter": None,
    }
    cancelled = client.post(f"/api/v1/tickets/{code}/cancel").get_json()["ticket"]
    assert cancelled["status"] == "cancelled" and cancelled["position"] is None
    again = client.post(f"/api/v1/tickets/{code}/cancel")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "invalid_state"
    assert client.get(f"/api/v1/tickets/{code}").get_json()["status"] == "cancelled"


def test_idempotency_key_returns_the_first_ticket(
    client: FlaskClient, kiosk: dict[str, str], make_token: Any
) -> None:
    headers = {**kiosk, "Idempotency-Key": "retry-42"}
    first = client.post("/api/v1/tickets", json={"service": "DD"}, headers=headers)
    second = client.post("/api/v1/tickets", json={"service": "DD"}, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json() == second.get_json()
    other_kiosk = {**make_token("kiosk", name="kiosk-2"), "Idempotency-Key": "retry-42"}
    third = client.post("/api/v1/tickets", json={"service": "DD"}, headers=other_kiosk)
    assert third.status_code == 201 and third.get_json()["number"] == "B002"
    services = {s["code"]: s["waiting"] for s in client.get("/api/v1/services").get_json()}
    assert services["DD"] == 2


def test_idempotency_key_expires_after_a_day(
    client: FlaskClient, kiosk: dict[str, str], clock: ManualClock
) -> None:
    headers = {**kiosk, "Idempotency-Key": "k"}
    first = client.post("/api/v1/tickets", json={"service": "DD"}, headers=headers).get_json()
    clock.advance(hours=24, seconds=1)
    later = client.post("/api/v1/tickets", json={"service": "DD"}, headers=headers)
    assert later.status_code == 201
    assert later.get_json()["lookup_code"] != first["lookup_code"]


def test_numbers_restart_each_local_day_and_old_tickets_expire(
    client: FlaskClient, issue: Any, clock: ManualClock
) -> None:
    old = issue("TPHT")
    issue("TPHT")
    # 17:00 UTC is midnight in Hà Nội: a new local day begins
    clock.set(clock.now().replace(hour=17, minute=0) + timedelta(minutes=1))
    assert issue("TPHT")["number"] == "A001"
    assert client.get(f"/api/v1/tickets/{old['lookup_code']}").get_json()["status"] == "expired"


def test_procedure_search_without_diacritics(client: FlaskClient) -> None:
    found = client.get("/api/v1/procedures?q=dang ky khai sinh").get_json()
    assert {"code": "TPHT-01", "name": "Đăng ký khai sinh", "service": "TPHT"} in found
    assert client.get("/api/v1/procedures?q=DANG KY KHAI SINH").get_json() == found
    land = client.get("/api/v1/procedures?q=dat dai").get_json()  # đ matches d
    assert land and all(p["service"] == "DD" for p in land)
    one = client.get("/api/v1/procedures?service=XD").get_json()
    assert one and {p["service"] for p in one} == {"XD"}
    missing = client.get("/api/v1/procedures?service=NOPE")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_priorities_are_the_domain_categories(client: FlaskClient) -> None:
    codes = [p["code"] for p in client.get("/api/v1/priorities").get_json()]
    assert codes == ["elderly", "disability", "pregnant", "meritorious", "young_child"]


def test_an_idle_server_rolls_the_day_at_midnight(
    app: Any, client: FlaskClient, issue: Any, clock: ManualClock
) -> None:
    engine = app.extensions["luot"].engine
    ticket = issue("TPHT")
    assert engine.roll_day() == 0  # still the same day: nothing to do
    clock.advance(days=1)
    assert engine.roll_day() == 1
    assert engine.roll_day() == 0
    assert client.get(f"/api/v1/tickets/{ticket['lookup_code']}").get_json()["status"] == "expired"
    assert client.get("/api/v1/display/state").get_json()["waiting"]["TPHT"] == 0
