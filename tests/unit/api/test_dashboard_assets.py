"""The dashboard's files: served by the API, nothing from another origin, the vendored chart
library exactly the recorded version."""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files

from api_fakes import FakeKpiStore, api_settings, services_of
from fastapi.testclient import TestClient
from shopflow_api.app import create_app

STATIC = files("shopflow_api") / "static"


def test_the_vendored_chart_library_matches_its_record() -> None:
    # Given the note that records what was vendored
    note = (STATIC / "vendor" / "uplot" / "VENDORED.md").read_text()
    recorded = dict((name, digest) for digest, name in re.findall(r"([0-9a-f]{64})\s+(\S+)", note))
    # Then every recorded file is there, byte for byte, the licence among them
    assert set(recorded) == {"uPlot.iife.min.js", "uPlot.min.css", "LICENSE"}
    for name, digest in recorded.items():
        data = (STATIC / "vendor" / "uplot" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
    assert "1.6.32" in note


def test_the_page_loads_nothing_from_another_origin() -> None:
    page = (STATIC / "index.html").read_text()
    script = (STATIC / "dashboard.js").read_text()
    for text in (page, script):
        assert not re.search(r"(src|href)=\"(https?:)?//", text)
        assert 'fetch("http' not in text
    # Every control is labelled
    for control in re.findall(r"<input[^>]*id=\"(\w+)\"", page):
        assert f'for="{control}"' in page, control


def test_the_api_serves_the_page_and_its_files() -> None:
    app = create_app(api_settings(), services_of(FakeKpiStore([], [])))
    with TestClient(app) as api:
        page = api.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for asset in re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", page.text):
            assert api.get(asset).status_code == 200, asset
