"""Open a Snakemake HTML report in headless Chromium and show its landing page or one of its results, as a
reader would.

The report is a self-contained React page: results appear only after its scripts run and a result is
selected. A copy of the report gets a small script appended that selects the result (through the
page's own ``app`` object, as its menu buttons do) and marks the page once the image has decoded;
Chromium's ``--dump-dom`` then returns the rendered page for checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

# Flags for a headless run that reaches no network service and keeps no state between runs.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

# Shows the image result whose path ends with SUFFIX with its description (as its menu entry's view and
# info buttons do) and, once the image has decoded, records its size on
# <body data-shown-result="PATH" data-shown-size="WxH">.
SHOW_RESULT_SCRIPT = """
<script>
(function showResult(suffix, attempts) {
  if (typeof app === "undefined" || !app) {
    if (attempts > 0) { setTimeout(() => showResult(suffix, attempts - 1), 100); }
    return;
  }
  const path = Object.keys(results).find((key) => key.endsWith(suffix));
  if (path === undefined) { document.body.setAttribute("data-shown-result", "missing"); return; }
  const entry = results[path];
  // one setView: React batches state updates, so consecutive calls would overwrite each other
  app.setView({navbarMode: "resultinfo", resultPath: path, content: "img", contentPath: entry.data_uri});
  (function markLoaded(left) {
    const image = Array.from(document.querySelectorAll("#app img")).find((img) => img.src === entry.data_uri);
    if (image && image.complete && image.naturalWidth > 0) {
      document.body.setAttribute("data-shown-result", path);
      document.body.setAttribute("data-shown-size", image.naturalWidth + "x" + image.naturalHeight);
    } else if (left > 0) {
      setTimeout(() => markLoaded(left - 1), 100);
    }
  })(50);
})(SUFFIX, 50);
</script>
"""


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH (tests/tools/ensure_chromium.sh installs Debian's)."""
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


def render_result(report: str | os.PathLike, suffix: str, chromium: str, timeout: float = 120) -> str:
    """The rendered DOM of ``report`` with the result whose path ends with ``suffix`` on show."""
    return render_page(report, chromium, SHOW_RESULT_SCRIPT.replace("SUFFIX", json.dumps(suffix)), timeout)


def render_page(report: str | os.PathLike, chromium: str, script: str = "", timeout: float = 120) -> str:
    """The rendered DOM of ``report`` (with ``script`` appended to a copy): without one, the page a reader
    sees on opening the report."""
    with tempfile.TemporaryDirectory(prefix="melanoflow-report-") as folder:
        page = Path(folder) / "report.html"
        page.write_text(Path(report).read_text(encoding="utf-8") + script, encoding="utf-8")
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(folder) / 'profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            page.as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0 or "<html" not in result.stdout:
        raise RuntimeError(
            f"{chromium} could not render {report} ({result.returncode}): {result.stderr[-2000:]}"
        )
    return result.stdout


def visible_markup(dom: str) -> str:
    """The DOM without <script> and <style> elements: only what the page renders, not the data it carries."""
    return re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.DOTALL | re.IGNORECASE)


class _DescriptionText(HTMLParser):
    """Collects the text inside the report's workflow description (its element of class ``prose``)."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # nesting depth inside the description; 0: outside
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag not in VOID_ELEMENTS
        elif "prose" in (dict(attrs).get("class") or "").split():
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
            self.parts.append(" ")

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def description_text(dom: str) -> str:
    """The text of the workflow description as rendered in ``dom`` (whitespace collapsed): what the
    report's landing page says beside the workflow graph."""
    parser = _DescriptionText()
    parser.feed(dom)
    return " ".join("".join(parser.parts).split())
