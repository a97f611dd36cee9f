"""Screenshots of the main pages at a tablet's and a phone's size, for docs/screenshots/.

Run against a server with the demo data (`make run` in another terminal), then:

    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8000] [--out docs/screenshots]

It logs in through the login form as the demo nurse (worklist, check page, result page, course
page, handover) and the demo care-team member (board), at 1024×768 and 390×844, and saves one PNG
per page and size (``worklist-tablet.png``, ``worklist-phone.png``…). Saving the check writes one
check to the demo data, as a nurse would. Uses Debian's Chromium (PLATFORM: Playwright cannot
download browsers here).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

SIZES = {"tablet": (1024, 768), "phone": (390, 844)}
PASSWORD = "cartmonitor-demo"


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state("load")


def shoot(page: Page, out: Path, name: str, size: str) -> None:
    page.wait_for_load_state("networkidle")
    path = out / f"{name}-{size}.png"
    page.screenshot(path=path, full_page=False)
    print(path)


def nurse_pages(page: Page, url: str, out: Path, size: str) -> None:
    log_in(page, url, "demo-nurse")
    page.goto(f"{url}/worklist/")
    shoot(page, out, "worklist", size)
    check_link = page.locator("a[href$='/check/']").first
    check_url = check_link.get_attribute("href")
    course_url = check_url.removesuffix("check/")
    page.goto(url + check_url)
    shoot(page, out, "check", size)
    page.fill("input[name$='temperature']", "38.6")
    # drafts.js sends the form itself and then goes to the result page.
    with page.expect_navigation(url="**/checks/**"):
        page.locator("form [type=submit]").last.click()
    shoot(page, out, "check-result", size)
    page.goto(url + course_url)
    shoot(page, out, "course", size)
    page.goto(f"{url}/handover/")
    shoot(page, out, "handover", size)


def care_team_pages(page: Page, url: str, out: Path, size: str) -> None:
    log_in(page, url, "demo-care")
    page.goto(f"{url}/flags/")
    shoot(page, out, "board", size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="docs/screenshots", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        for size, (width, height) in SIZES.items():
            for walk in (nurse_pages, care_team_pages):
                context = browser.new_context(viewport={"width": width, "height": height})
                walk(context.new_page(), args.url.rstrip("/"), args.out, size)
                context.close()
        browser.close()


if __name__ == "__main__":
    main()
