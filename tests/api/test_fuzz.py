"""Random bodies, paths and headers never make a 500: every refusal is a JSON error with a code."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
fields = st.sampled_from(
    ["service", "procedure", "priority", "number", "counter", "username", "password", "x"]
)
bodies = st.dictionaries(
    fields, json_values | st.sampled_from(["TPHT", "DD", "A001", "Q01"]), max_size=4
)
raw = st.binary(max_size=300)
segments = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
ROUTES = [
    "/tickets",
    "/counters/{x}/call-next",
    "/counters/{x}/call",
    "/counters/{x}/transfer",
    "/counters/{x}/recall",
    "/counters/{x}/pause",
    "/tickets/{x}/cancel",
    "/auth/login",
]


#: Input handling lives above storage: the embedded database is enough to check it.
pytestmark = pytest.mark.sqlite_only


def assert_clean(response: Any) -> None:
    """Below 500, and an error carries {"error": {"code", "message"}}."""
    assert response.status_code < 500, response.get_data()
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["code"] and error["message"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(ROUTES), segment=segments, body=bodies)
def test_json_bodies(
    client: FlaskClient, admin: dict[str, str], route: str, segment: str, body: dict[str, Any]
) -> None:
    path = "/api/v1" + route.replace("{x}", segment.replace("/", "_"))
    assert_clean(client.post(path, json=body, headers=admin))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(ROUTES), data=raw, key=st.text(max_size=200))
def test_raw_bodies_and_headers(
    client: FlaskClient, kiosk: dict[str, str], route: str, data: bytes, key: str
) -> None:
    headers = {**kiosk}
    if key.isascii() and key.isprintable():
        headers["Idempotency-Key"] = key
    path = "/api/v1" + route.replace("{x}", "Q01")
    assert_clean(client.post(path, data=data, content_type="application/json", headers=headers))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(segment=segments, q=st.text(max_size=60))
def test_lookups_and_search(client: FlaskClient, segment: str, q: str) -> None:
    assert_clean(client.get("/api/v1/procedures", query_string={"q": q, "service": segment}))
    assert_clean(client.get(f"/api/v1/tickets/{segment.replace('/', '_')}"))
