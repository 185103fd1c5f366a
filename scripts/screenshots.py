"""Screenshots for the README, taken from a running `make up` on the demo's lake (after `make demo`).

    .venv/bin/python scripts/screenshots.py [--airflow http://127.0.0.1:8080] [--out docs/img]

Logs in through Airflow's own login page in headless Chromium (Debian's `chromium`, see
scripts/install_browser.sh), opens the Model health page inside the Airflow UI and on its own, and
an Evidently drift report of a campaign day.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def airflow_password() -> str:
    home = Path(os.environ.get("AIRFLOW_HOME", ROOT / ".airflow"))
    return json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--airflow", default="http://127.0.0.1:8080")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--drift-day", default="2026-09-26", help="a day whose Evidently report to show")
    args = parser.parse_args()
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium not found: run scripts/install_browser.sh or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{args.airflow}/modelguard/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(airflow_password())
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{args.airflow}/modelguard/**", timeout=60_000)
        page.wait_for_selector(".plotly", timeout=60_000)
        page.screenshot(path=str(args.out / "model-health-full.png"), full_page=True)
        page.goto(f"{args.airflow}/")
        page.get_by_role("link", name="Model health").click()
        page.wait_for_timeout(4000)
        page.screenshot(path=str(args.out / "model-health.png"))
        page.goto(f"{args.airflow}/modelguard/files/reports/{args.drift_day}/drift.html")
        page.wait_for_timeout(4000)
        page.screenshot(path=str(args.out / f"drift-{args.drift_day}.png"))
        browser.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
