"""axe-core in the browser (axe-playwright-python bundles axe.min.js): WCAG 2.0–2.2 A and AA
rules; serious and critical violations fail a test, moderate and minor are reported."""

from axe_playwright_python.sync_playwright import Axe

VIEWPORTS = {"tablet": {"width": 1024, "height": 768}, "phone": {"width": 390, "height": 844}}
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_AA}, "resultTypes": ["violations"]}
BLOCKING = {"serious", "critical"}

axe = Axe()


def audit(page, where: str, blocking: list, minor: list) -> None:
    """Run axe on the page as it is now; file each violation under blocking or minor."""
    results = axe.run(page, options=AXE_OPTIONS)
    for violation in results.response["violations"]:
        nodes = "; ".join(" ".join(map(str, node["target"])) for node in violation["nodes"][:5]) + (
            f" (+{len(violation['nodes']) - 5} more)" if len(violation["nodes"]) > 5 else ""
        )
        line = f"{violation['id']} [{violation['impact']}] {where}: {violation['help']} — {nodes}"
        (blocking if violation["impact"] in BLOCKING else minor).append(line)


def assert_accessible(page, where: str) -> None:
    """No serious or critical WCAG violation on the page as it is now."""
    blocking: list = []
    audit(page, where, blocking, [])
    assert not blocking, "\n".join(blocking)
