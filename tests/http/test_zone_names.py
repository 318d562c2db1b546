"""Zone names: canonical IANA zones and their backward-compatible links only, one check for
the API, the CLI, the dashboard and the client (issue 15, item 13)."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from creditmeter.client.calls import BillWindow
from creditmeter.days import is_zone, zone, zone_names
from tests.conftest import bearer
from tests.http.support import BILL_PAGE, DECEMBER, assert_error

NOT_ZONES = [
    "localtime",
    "posixrules",
    "posix/Asia/Shanghai",
    "right/UTC",
    "zone.tab",
    "leapseconds",
]
LINKS = ["Asia/Calcutta", "US/Eastern", "Etc/GMT+12", "UTC", "GMT", "Asia/Kolkata"]


@pytest.mark.parametrize("name", NOT_ZONES)
def test_files_beside_the_zones_are_not_zones(name: str) -> None:
    assert not is_zone(name)
    with pytest.raises(ValueError, match="not an IANA time zone"):  # the client's own check
        BillWindow(date(2024, 12, 1), date(2024, 12, 1), name, None, None, {})


@pytest.mark.parametrize("name", LINKS)
def test_canonical_names_and_backward_links_are_zones(name: str) -> None:
    assert is_zone(name)
    assert zone(name).key == name
    window = BillWindow(date(2024, 12, 1), date(2024, 12, 1), name, None, None, {})
    assert ("timezone", name) in window.params(name)


def test_every_listed_name_opens() -> None:
    assert len(zone_names()) > 500
    assert all(is_zone(name) for name in zone_names())


@pytest.mark.parametrize("name", ["localtime", "posix/Asia/Shanghai", "right/UTC", "posixrules"])
def test_the_api_refuses_them_everywhere(
    client: TestClient, admin_key: str, shanghai: str, name: str
) -> None:
    admin = bearer(admin_key)
    created = client.post("/v1/admin/accounts", json={"id": "z1", "timezone": name}, headers=admin)
    assert_error(created, 400, 40000, "timezone")
    patched = client.patch("/v1/admin/accounts/acme", json={"timezone": name}, headers=admin)
    assert_error(patched, 400, 40000, "timezone")
    page = client.get(BILL_PAGE, params={**DECEMBER, "timezone": name}, headers=bearer(shanghai))
    assert_error(page, 400, 40000, "timezone")
    assert (
        client.get("/v1/admin/accounts/acme", headers=admin).json()["timezone"] == "Asia/Shanghai"
    )
