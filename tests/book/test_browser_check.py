"""tools/browser_check.py against pages made to fail and to pass, in real headless
Chromium. Where Chromium is missing the tests skip -- except in CI (``CI`` set), where
.ci/run installs it and a missing browser is a failure, never a silent pass."""

import importlib.util
import os
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("browser_check", ROOT / "tools" / "browser_check.py")
browser_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(browser_check)

HAVE_BROWSER = bool(browser_check.find(browser_check.CHROMIUM)
                    and browser_check.find(browser_check.DRIVER)
                    and importlib.util.find_spec("selenium"))

PAGE = """<!doctype html><html><head><style>
article.bd-article {{ width: 600px; margin: 0 auto; }}
.cell_output pre {{ overflow-x: auto; }}
</style></head><body><main><article class="bd-article">
<h1>Chapter</h1>
{body}
</article></main></body></html>"""


def _png(path, width_px, min_font_pt=None, dpi=100):
    info = PngImagePlugin.PngInfo()
    if min_font_pt is not None:
        info.add_text("vitsd:min_font_pt", str(min_font_pt))
        info.add_text("vitsd:dpi", str(dpi))
    Image.new("RGB", (width_px, 50), "white").save(path, pnginfo=info)


def _site(tmp_path, body):
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "index.html").write_text("<html></html>")
    (html / "book" / "01_chapter.html").write_text(PAGE.format(body=body))
    return html


def _check(html, tmp_path, widths=(1280,)):
    if not HAVE_BROWSER:
        if os.environ.get("CI"):
            pytest.fail("Chromium, chromium-driver and selenium must be installed in CI "
                        "(.ci/run and requirements.txt do it)")
        pytest.skip("no Chromium here (apt-get install chromium chromium-driver; "
                    "pip install selenium)")
    return browser_check.check(html, tmp_path / "shots", widths)


def test_a_clean_page_passes_and_is_screenshotted(tmp_path):
    html = _site(tmp_path, '<div class="cell"><div class="cell_output"><pre>short</pre>'
                           '</div><img src="fig.png">')
    # 10 pt at 100 dpi: 13.9 px, shown at its natural width.
    _png(html / "book" / "fig.png", 500, min_font_pt=10)
    assert _check(html, tmp_path) == []
    shot = tmp_path / "shots" / "01_chapter@1280.png"
    assert shot.is_file() and Image.open(shot).size[0] == 1280


def test_what_a_learner_trips_over_is_found(tmp_path):
    wide = "x" * 400
    body = (
        f'<div class="cell"><div class="cell_output"><pre>{wide}</pre></div></div>'
        '<div class="cell"><div class="cell_output"><table><tr>'
        + "".join(f"<td>column{i}wide</td>" for i in range(40)) + "</tr></table></div></div>"
        '<div class="cell tag_hide-input"><details><summary>Show code</summary>'
        '<div class="cell_input"><pre>x = 1</pre></div></details>'
        '<div class="cell_output"></div></div>'
        '<div class="cell"><div class="cell_output"><img src="small.png" style="width: 300px">'
        '<img src="plain.png"></div></div><p><img src="badge.png"></p>'
        f'<p>Call <code style="white-space: nowrap">vitsd.{"a" * 120}()</code> then.</p>'
        '<p>A short <code>name</code> fits.</p>'
        '<style>span.pasted-text.bold { font-weight: bold; }</style>'
        '<p>It is <span class="pasted-text bold">1.55</span> points lower, '
        '<strong>or <span class="pasted-text">2.8</span> at most</strong>, and '
        '<span class="pasted-text">0.4</span> here.</p>'
    )
    html = _site(tmp_path, body)
    _png(html / "book" / "small.png", 900, min_font_pt=10)  # 13.9 px * 300/900 = 4.6 px
    _png(html / "book" / "plain.png", 200)  # no font record: cannot be measured
    _png(html / "book" / "badge.png", 80)  # an image in the prose is not a figure
    problems = _check(html, tmp_path)
    text = "\n".join(problems)
    assert sum("wider than the column: pre" in p for p in problems) == 1, text
    assert any("wider than the column: table" in p for p in problems), text
    assert any("a toggle with no output" in p for p in problems), text
    assert any("figure text 4.6 px < 9 px: small.png" in p for p in problems), text
    assert any("without vitsd's font record: plain.png" in p for p in problems), text
    assert not any("badge.png" in p for p in problems), text
    # inline code in the prose that does not wrap runs past the column's edge
    assert sum("wider than the column: code" in p for p in problems) == 1, text
    assert any("`vitsd.aaaa" in p for p in problems), text
    # a glued value in bold inside a plain sentence; one inside bold text is in its weight
    glued = [p for p in problems if "a glued value in another weight" in p]
    assert len(glued) == 1 and '"1.55" at 700' in glued[0], text


def test_figure_text_size_is_points_times_dpi_times_scale(tmp_path):
    path = tmp_path / "f.png"
    _png(path, 1000, min_font_pt=9, dpi=144)
    # 9 pt at 144 dpi = 18 px in the image; shown at half its width: 9 CSS px.
    assert browser_check.figure_text_px(path, rendered=500, natural=1000) == pytest.approx(9.0)
    _png(path, 100)
    assert browser_check.figure_text_px(path, 100, 100) is None
