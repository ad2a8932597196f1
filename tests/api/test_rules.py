"""Issuing rules: closed services, session hours and daily limits, with stable error codes."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from server.engine.clock import ManualClock


def post(client: FlaskClient, headers: dict[str, str], service: str = "TPHT") -> Any:
    """POST /tickets and return the response."""
    return client.post("/api/v1/tickets", json={"service": service}, headers=headers)


def test_closed_service_is_refused(client: FlaskClient, app: Any, kiosk: dict[str, str]) -> None:
    app.extensions["luot"].engine.update_service("TPHT", is_open=False)
    response = post(client, kiosk)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "service_closed"
    listed = {s["code"]: s for s in client.get("/api/v1/services").get_json()}
    assert listed["TPHT"]["open"] is False


def test_outside_session_hours_is_refused(
    client: FlaskClient, app: Any, kiosk: dict[str, str], clock: ManualClock
) -> None:
    engine = app.extensions["luot"].engine
    engine.update_service("TPHT", hours="mon-sat 07:30-11:30, mon-sat 13:30-17:00")
    assert post(client, kiosk).status_code == 201  # Monday 09:00
    clock.advance(hours=3)  # 12:00, the lunch break
    lunch = post(client, kiosk)
    assert lunch.status_code == 409
    assert lunch.get_json()["error"]["code"] == "service_closed"
    clock.advance(hours=2)  # 14:00
    assert post(client, kiosk).status_code == 201
    clock.advance(days=6)  # Sunday 14:00
    assert post(client, kiosk).get_json()["error"]["code"] == "service_closed"


def test_daily_limit_refuses_and_never_skips_a_number(
    client: FlaskClient, app: Any, kiosk: dict[str, str], clock: ManualClock
) -> None:
    app.extensions["luot"].engine.update_service("DD", daily_limit=2)
    assert post(client, kiosk, "DD").get_json()["number"] == "B001"
    assert post(client, kiosk, "DD").get_json()["number"] == "B002"
    refused = post(client, kiosk, "DD")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "daily_limit_reached"
    app.extensions["luot"].engine.update_service("DD", daily_limit=3)
    assert post(client, kiosk, "DD").get_json()["number"] == "B003"  # the refusal used no number
    clock.advance(days=1)
    assert post(client, kiosk, "DD").get_json()["number"] == "B001"


def test_a_change_from_another_process_reaches_a_running_server(
    client: FlaskClient, kiosk: dict[str, str], runner: Any
) -> None:
    """The server keeps its services across requests; `luot service update` (another
    process, another connection) still takes effect at the next ticket."""
    assert post(client, kiosk).status_code == 201  # the services are now cached
    assert runner("service", "update", "TPHT", "--closed").exit_code == 0
    assert post(client, kiosk).get_json()["error"]["code"] == "service_closed"
    assert runner("service", "update", "TPHT", "--open", "--daily-limit", "2").exit_code == 0
    assert post(client, kiosk).status_code == 201
    assert post(client, kiosk).get_json()["error"]["code"] == "daily_limit_reached"


def test_a_rolled_back_change_leaves_no_trace_in_the_cache(
    client: FlaskClient, app: Any, kiosk: dict[str, str], runner: Any
) -> None:
    """A catalogue change that rolls back must not leave its services cached as current."""
    luot = app.extensions["luot"]
    try:
        with luot.engine.repo.write(luot.engine.site_id) as tx:
            service = next(s for s in tx.services() if s.code == "TPHT")
            tx.update_service(type(service)(**{**service.__dict__, "is_open": False}))
            assert not next(s for s in tx.services() if s.code == "TPHT").is_open
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    # Another process commits a change: the version is now the one the rollback had seen.
    assert runner("service", "update", "DD", "--daily-limit", "5").exit_code == 0
    assert post(client, kiosk).status_code == 201  # TPHT is still open
