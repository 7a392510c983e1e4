import re

from pgtheory.report import render_report, results_document
from pgtheory.verify import discover, select, verify

from conftest import CLAIMS_DIR


def test_report_is_self_contained_and_shows_every_claim():
    claims = select(discover([CLAIMS_DIR]), "score-zero-mean,is-identity")
    html = render_report(results_document(verify(claims, quick=True)))
    # nothing is fetched: no external scripts, styles, images or fonts
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    for c in claims:
        assert f'id="{c.id}"' in html
        assert c.sources[0].quote.replace('"', "&#34;") in html or c.sources[0].quote in html
    assert html.count("<svg") >= 2
