"""Approving in the MLflow UI's own tag editor (the model version page's Tags table, MLflow 3.17's bundled UI)
against `mlflow server --app-name modelguard`, in Debian's Chromium logged in with basic auth: an approver's
edit sticks and the server stamps who approved; a non-approver with EDIT sees the server's refusal sentence
in the UI's error notification and nothing changes. Screenshots of each outcome in the test's tmp folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_approval_server import MODEL, Server, _password, _requested, serving
from tests.test_health_page import _chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("approval_browser")) as found:
        yield found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class VersionPage:
    """The model version page (`/#/models/<name>/versions/<v>`) as `user`, logged in with basic auth."""

    def __init__(self, browser, server: Server, user: str, version: str) -> None:
        self.context = browser.new_context(http_credentials={"username": user, "password": _password(user)},
                                           viewport={"width": 1440, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.goto(f"{server.url}/#/models/{MODEL}/versions/{version}")
        self.row("approval").wait_for()

    def reload(self) -> None:
        """What the UI shows when the page is loaded afresh (it reads the version from the server)."""
        self.page.reload()
        self.row("approval").wait_for()

    def row(self, key: str):
        """The Tags table's row of `key` (MLflow's editable table keys its rows by the tag's name)."""
        return self.page.locator(f"[data-testid='editable-table'] tr[data-row-key='{key}']")

    def value(self, key: str) -> str:
        return self.row(key).get_by_role("cell").nth(1).inner_text().strip()

    def edit(self, key: str, value: str) -> int:
        """The row's pencil, the value field that opens in place, Save: what a person does."""
        row = self.row(key)
        row.get_by_test_id("editable-table-button-edit").click()  # an icon button without a name
        row.get_by_role("textbox").fill(value)
        with self.page.expect_response(lambda r: r.url.endswith("/model-versions/set-tag")) as answer:
            row.get_by_role("button", name="Save").click()
        return answer.value.status

    def add(self, key: str, value: str) -> int:
        """The Name / Value / Add form under the table."""
        form = self.page.locator("form").filter(has=self.page.get_by_placeholder("Name", exact=True))
        form.get_by_placeholder("Name", exact=True).fill(key)
        form.get_by_placeholder("Value", exact=True).fill(value)
        with self.page.expect_response(lambda r: r.url.endswith("/model-versions/set-tag")) as answer:
            form.get_by_role("button", name="Add", exact=True).click()  # not the aliases' "Add" link
        return answer.value.status

    def shot(self, path: Path) -> None:
        self.page.screenshot(path=str(path), full_page=True, animations="disabled")  # the notification slid in

    def close(self) -> None:
        self.context.close()


def test_an_approver_approves_in_the_uis_tag_editor_and_the_server_stamps_her(server, browser, tmp_path) -> None:
    version = _requested(server)
    page = VersionPage(browser, server, "alice", version)
    try:
        assert page.value("approval") == "pending" and page.row("approved_by").count() == 0
        assert page.edit("approval", "approved") == 200
        page.page.get_by_role("button", name="Save").wait_for(state="detached")
        assert page.value("approval") == "approved"
        assert page.page.get_by_role("alert").count() == 0  # no error notification
        tags = server.tags(version)
        assert (tags["approval"], tags["approved_by"]) == ("approved", "alice")
        assert tags["approved_at"].endswith("+00:00")
        page.reload()  # the stamps the server wrote beside her edit, read back by the UI
        assert page.value("approved_by") == "alice" and page.value("approved_at") == tags["approved_at"]
        page.row("approved_by").scroll_into_view_if_needed()
        page.shot(tmp_path / "approver-approved.png")
        assert (tmp_path / "approver-approved.png").stat().st_size > 10_000
    finally:
        page.close()


def test_a_non_approver_with_edit_sees_the_servers_refusal_and_nothing_changes(server, browser, tmp_path) -> None:
    version = _requested(server)
    page = VersionPage(browser, server, "bob", version)
    try:
        assert page.edit("approval", "approved") == 403
        alert = page.page.get_by_role("alert")  # MLflow's notification carries the server's JSON `message`
        alert.filter(has_text="only approval.approvers").wait_for()
        assert re.search(r"Failed to set tag\. Error: bob may not approve or reject versions of guarded: "
                         r"only approval\.approvers may \(alice, carol, role:oncall\)", alert.inner_text())
        page.page.get_by_role("button", name="Save").wait_for(state="detached")
        assert page.value("approval") == "pending"  # the editor closed on the server's value, not bob's
        page.shot(tmp_path / "non-approver-refused.png")
        assert (tmp_path / "non-approver-refused.png").stat().st_size > 10_000
        tags = server.tags(version)
        assert tags["approval"] == "pending" and "approved_by" not in tags and "approved_at" not in tags
        page.reload()
        assert page.value("approval") == "pending" and page.row("approved_by").count() == 0

        # nor can the stamp be typed in through the Add form
        assert page.add("approved_by", "bob") == 403
        page.page.get_by_role("alert").filter(has_text="written by the registry server only").wait_for()
        page.shot(tmp_path / "non-approver-forged-stamp.png")
        assert "approved_by" not in server.tags(version)
        page.reload()
        assert page.row("approved_by").count() == 0
    finally:
        page.close()
