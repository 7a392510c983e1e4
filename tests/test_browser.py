"""The report in a real browser (headless Chromium, Debian's `chromium`): no horizontal
overflow at desktop and phone width, the table of contents resolves, one rendered formula per
claim statement, and the filter hides and shows claims. Skipped where Chromium is absent."""

import json
import re
import shutil
import subprocess

import pytest

from pgtheory.report import render_report
from pgtheory.report import results_document
from pgtheory.verify import discover
from pgtheory.verify import select
from pgtheory.verify import verify

from conftest import CLAIMS_DIR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (apt install chromium)"
)

PROBE = """
<script>
window.addEventListener("load", function () {
  var claims = document.querySelectorAll("section.claim");
  var select = document.querySelector('select[data-filter="verdict"]');
  select.value = "refuted";
  select.dispatchEvent(new Event("change"));
  var hiddenAfter = document.querySelectorAll("section.claim.hidden").length;
  select.value = "";
  select.dispatchEvent(new Event("change"));
  var hiddenReset = document.querySelectorAll("section.claim.hidden").length;
  var maths = Array.prototype.filter.call(document.querySelectorAll("math"),
      function (m) { return m.getBoundingClientRect().height > 0; }).length;
  var result = {
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    claims: claims.length, renderedMath: maths,
    hiddenByFilter: hiddenAfter, hiddenAfterReset: hiddenReset,
  };
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    # a figure claim too: its reproduction sits beside 000's published figure when present
    claims = select(
        discover([CLAIMS_DIR]), "001-score-zero-mean,002-pseudo-loss,004-sampling-form,000-fig2"
    )
    html = render_report(results_document(verify(claims, quick=True)))
    path = tmp_path_factory.mktemp("report") / "index.html"
    path.write_text(html.replace("</body>", PROBE + "</body>"))
    return path, html


def _probe(path, width):
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--window-size={width},900",
            "--virtual-time-budget=5000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout)
    assert match, proc.stderr[-2000:]
    return json.loads(match.group(1).replace("&quot;", '"'))


@pytest.mark.parametrize("width", [1400, 390])
def test_the_report_reads_at_desktop_and_phone_width(report, width):
    path, html = report
    result = _probe(path, width)
    assert result["overflow"] <= 0, result
    assert result["renderedMath"] == result["claims"] == 4
    refuted = html.count('data-verdict="refuted" data-severity') - html.count(
        '<tr data-verdict="refuted"'
    )
    assert result["hiddenByFilter"] == 4 - refuted > 0 and result["hiddenAfterReset"] == 0
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert f'id="{anchor}"' in html, anchor
