"""deploy/nginx/luot.conf in front of two `luot serve`: Debian's nginx, started by the test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from tests.conftest import LiveServer, free_port
from tests.realtime.live import KIOSK, STAFF_Q01, Listener, act, issue, start, tokens

pytestmark = pytest.mark.slow
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "luot.conf"


def nginx_config(tmp: Path, port: int, upstreams: list[int]) -> Path:
    """The site file as deployed, its upstream and listen lines pointed at the test's ports,
    inside a main configuration that keeps every file of nginx's in `tmp`."""
    site = SITE.read_text()
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in upstreams)
    site, count = re.subn(r"(    server 127\.0\.0\.1:\d+;\n)+", servers, site)
    assert count == 1, "the upstream block of deploy/nginx/luot.conf changed shape"
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (tmp / "luot.conf").write_text(site)
    temp = " ".join(f"{name}_temp_path {tmp}/{name};" for name in ("client_body", "proxy"))
    main = f"""
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    {temp}
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    include {tmp}/luot.conf;
}}
"""
    path = tmp / "nginx.conf"
    path.write_text(main)
    return path


@pytest.fixture
def behind_nginx(
    db_url: str, tmp_path: Path
) -> Iterator[tuple[SimpleNamespace, LiveServer, LiveServer]]:
    """nginx on a free port in front of two servers on one database."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing: scripts/test.sh installs Debian's package")
        pytest.skip("nginx is not installed (scripts/test.sh installs it)")
    servers = (
        LiveServer(db_url, tmp_path, LUOT_TRUSTED_PROXIES="1"),
        LiveServer(db_url, tmp_path, LUOT_TRUSTED_PROXIES="1"),
    )
    start(*servers)
    port = free_port()
    config = nginx_config(tmp_path, port, [s.port for s in servers])
    proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(config)])
    front = SimpleNamespace(url=f"http://127.0.0.1:{port}", port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if requests.get(f"{front.url}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert proxy.poll() is None, (tmp_path / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
        yield front, *servers
    finally:
        proxy.terminate()
        proxy.wait(10)
        for server in servers:
            server.stop()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_a_tv_behind_nginx_sees_the_calls_made_through_either_server(
    behind_nginx: tuple[SimpleNamespace, LiveServer, LiveServer],
    listen: Callable[..., Listener],
    transports: list[str],
) -> None:
    """Through the deployed site file, over WebSocket or long-polling (each poll a request
    of its own, which must reach the process that holds the session)."""
    front, a, b = behind_nginx
    kiosk, staff = tokens(a, KIOSK, STAFF_Q01)
    tv = listen(front, transports=transports)  # type: ignore[arg-type]
    state = tv.wait_for("state")
    assert state == requests.get(f"{front.url}/api/v1/display/state", timeout=10).json()
    issue(a, kiosk), issue(b, kiosk)
    first = act(a, staff, "Q01", "call-next")
    second = act(b, staff, "Q01", "call-next")
    calls = [tv.wait_for("ticket_called"), tv.wait_for("ticket_called")]
    assert [c["number"] for c in calls] == [first["number"], second["number"]]
    assert state["seq"] < calls[0]["seq"] < calls[1]["seq"]
    assert tv.client.transport() == transports[0]  # no upgrade refused, no fallback
