"""Read the rendered book in a real browser, as a learner would (headless Chromium).

    python tools/browser_check.py      # _build/html; screenshots in _build/screenshots
    python tools/browser_check.py --html DIR --shots DIR --widths 1280 390

Opens every chapter page of the built HTML book in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by selenium; nothing is downloaded) at a
desktop width (1280 CSS px) and a phone width (390 CSS px), saves a full-page
screenshot of each, and fails when

* an output, table or figure is wider than the page's content column (cut off, or
  only readable by scrolling sideways);
* a cell shows nothing but a "show code" toggle (a hidden input without any output);
* a glued value in the prose is set in another weight than the sentence around it;
* a figure's smallest text renders below 9 CSS px. Figures are PNGs: vitsd's figure
  formatter (``vitsd.book``'s ``setup()``) writes the smallest font size of each
  figure, in points, and its dpi into the PNG (``vitsd:min_font_pt``,
  ``vitsd:dpi``); the rendered size is that times ``dpi / 72`` times the ratio of the
  image's width on the page to its width in pixels. A figure without them cannot be
  measured and counts as a failure.

Exits 1 with one line per problem (page, width, what, where). Where Chromium or its
driver is missing it says how to install them and exits 2 -- never a silent pass.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from localserver import serve  # noqa: E402

MIN_TEXT_PX = 9.0
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")

#: Measures one page; returns the problems it sees (figures are measured in Python).
MEASURE = r"""
const column = ["article.bd-article", ".bd-article", "main article", "main"]
    .map(s => document.querySelector(s)).find(Boolean);
const col = column.getBoundingClientRect();
const problems = [];
const where = (el) => {
  const cell = el.closest(".cell");
  const source = cell && cell.querySelector(".cell_input pre, .cell_input code");
  const code = source ? source.textContent : "";
  const head = [...document.querySelectorAll("h1, h2, h3")]
      .filter(h => h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
  return (head ? head.textContent.replace("#", "").trim() : "(top)") +
         (code ? " | " + code.trim().split("\n")[0].slice(0, 60) : "");
};
const outputs = document.querySelectorAll(
    ".cell_output pre, .cell_output table, .cell_output img, .output pre, .output table, " +
    "article table, article img, .cell_output .output_html > *");
for (const el of outputs) {
  if (el.closest("header, footer, nav, .bd-sidebar, .bd-header")) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  const wide = r.right > col.right + 1 || r.left < col.left - 1;
  const scrolls = el.scrollWidth > el.clientWidth + 1 ||
      (el.parentElement && el.parentElement.scrollWidth > el.parentElement.clientWidth + 1);
  if (wide || scrolls) {
    problems.push({kind: "wider than the column", tag: el.tagName.toLowerCase(),
                   where: where(el),
                   detail: `${Math.round(Math.max(r.width, el.scrollWidth))} px in a ` +
                           `${Math.round(col.width)} px column`});
  }
}
// Prose: a long identifier in inline code must wrap, not run past the column's edge.
for (const el of document.querySelectorAll("article p code, article li code, article td code")) {
  if (el.closest("header, footer, nav, .bd-sidebar, .bd-header, .cell_output")) continue;
  const r = el.getBoundingClientRect();
  if (r.width > 0 && (r.right > col.right + 1 || r.left < col.left - 1)) {
    problems.push({kind: "wider than the column", tag: "code", where: where(el),
                   detail: `\`${el.textContent.slice(0, 40)}\` ends ` +
                           `${Math.round(r.right - col.right)} px beyond the column`});
  }
}
for (const cell of document.querySelectorAll(".cell")) {
  const toggle = cell.querySelector("details, .toggle-details, button.toggle-button");
  const input = cell.querySelector(".cell_input");
  const output = cell.querySelector(".cell_output");
  const inputHidden = cell.classList.contains("tag_hide-input") ||
      (input && toggle && input.closest("details"));
  const empty = !output ||
      (output.textContent.trim() === "" && !output.querySelector("img, svg, table"));
  if (inputHidden && empty) {
    problems.push({kind: "a toggle with no output", tag: "cell", where: where(cell),
                   detail: "a hidden input whose cell shows nothing else"});
  }
}
// Glued numbers read as part of their sentence: set in the weight of the text around
// them (myst-nb's own stylesheet makes every pasted value bold).
for (const el of document.querySelectorAll("span.pasted-text")) {
  const weight = getComputedStyle(el).fontWeight;
  const around = getComputedStyle(el.parentElement).fontWeight;
  if (weight !== around) {
    problems.push({kind: "a glued value in another weight than its sentence", tag: "span",
                   where: where(el), detail: `"${el.textContent.slice(0, 20)}" at ${weight}, ` +
                                             `the text around it at ${around}`});
  }
}
// Figures: the images that are cell outputs (not badges or logos in the prose).
const images = [...document.querySelectorAll(".cell_output img, .output img")]
    .filter(img => img.complete && img.naturalWidth > 0)
    .map(img => ({src: img.currentSrc || img.src, rendered: img.getBoundingClientRect().width,
                  natural: img.naturalWidth, where: where(img)}));
return {problems, images, column: col.width};
"""


class BrowserMissing(RuntimeError):
    pass


def find(paths):
    for path in paths:
        if Path(path).exists():
            return path
    found = shutil.which(Path(paths[0]).name)
    return found


def start_browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        raise BrowserMissing(f"selenium is not installed ({err}): pip install selenium") from None
    binary, driver = find(CHROMIUM), find(DRIVER)
    if not binary or not driver:
        raise BrowserMissing(
            "Chromium or its driver is missing: apt-get install chromium chromium-driver "
            f"(found chromium={binary}, chromedriver={driver})")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                 "--disable-dev-shm-usage"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    # Offline and deterministic: nothing from the internet (MathJax, badges from a CDN)
    # is waited for -- the book is served from 127.0.0.1 over plain http.
    browser.set_page_load_timeout(120)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["https://*"]})
    return browser


def figure_text_px(png: Path, rendered: float, natural: int):
    """The smallest text of a vitsd figure on the page, in CSS px (None: unmeasurable)."""
    from PIL import Image

    with Image.open(png) as image:
        info = getattr(image, "text", {}) or image.info
    try:
        points, dpi = float(info["vitsd:min_font_pt"]), float(info["vitsd:dpi"])
    except (KeyError, ValueError):
        return None
    return points * dpi / 72 * rendered / natural


def set_width(driver, width: int, height: int = 900) -> None:
    # A narrow desktop window, not mobile emulation: the page's CSS media queries see the
    # same width, and mobile emulation's visual viewport left the lower part of tall
    # pages out of the captured tiles.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def screenshot(driver, path: Path, width: int, tile: int = 8000) -> None:
    """The whole page: the viewport made ``tile`` px tall, scrolled tile by tile, each
    viewport captured and stitched (Chromium's own capture beyond the viewport shifts
    the layout of tall pages)."""
    from PIL import Image

    height = driver.execute_script("return document.documentElement.scrollHeight")
    view = min(tile, height)
    set_width(driver, width, view)
    # A taller viewport can change the page's height (the layout uses vh units): measure
    # again, and stop once scrolling no longer advances.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    page = Image.new("RGB", (width, height), "white")
    top, last = 0, -1
    while top < height:
        driver.execute_script(f"window.scrollTo(0, {top})")
        actual = int(driver.execute_script("return window.scrollY"))
        if actual <= last:
            break
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        with Image.open(io.BytesIO(base64.b64decode(shot["data"]))) as image:
            page.paste(image.convert("RGB"), (0, actual))
        last, top = actual, actual + view
    page.save(path)
    set_width(driver, width)


def pages(html: Path) -> list:
    chapters = sorted(p.relative_to(html).as_posix() for p in (html / "book").glob("*.html"))
    return [p for p in chapters if p[5:7].isdigit()]


def check(html: Path, shots: Path, widths=(1280, 390)) -> list:
    shots.mkdir(parents=True, exist_ok=True)
    driver = start_browser()
    problems = []
    try:
        with serve(html) as url:
            for page in pages(html):
                for width in widths:
                    started = time.monotonic()
                    set_width(driver, width)
                    driver.get(url + page)
                    driver.execute_script("return document.fonts.ready")
                    found = driver.execute_script(MEASURE)
                    name = f"{Path(page).stem}@{width}"
                    screenshot(driver, shots / f"{name}.png", width)
                    for p in found["problems"]:
                        problems.append(f"{name}: {p['kind']}: {p['tag']} at {p['where']} "
                                        f"({p['detail']})")
                    for img in found["images"]:
                        local = html / img["src"][len(url):].split("?")[0]
                        if not local.is_file():
                            continue
                        px = figure_text_px(local, img["rendered"], img["natural"])
                        if px is None:
                            problems.append(f"{name}: figure without vitsd's font record: "
                                            f"{local.name} at {img['where']}")
                        elif px < MIN_TEXT_PX:
                            problems.append(f"{name}: figure text {px:.1f} px < {MIN_TEXT_PX:g} "
                                            f"px: {local.name} at {img['where']}")
                    print(f"  {name}: {time.monotonic() - started:.0f} s", file=sys.stderr,
                          flush=True)
    finally:
        driver.quit()
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--shots", default=str(ROOT / "_build" / "screenshots"))
    parser.add_argument("--widths", type=int, nargs="+", default=[1280, 390])
    parser.add_argument("--json", help="also write the problems to this file")
    args = parser.parse_args(argv)
    html = Path(args.html)
    if not (html / "index.html").is_file():
        print(f"browser_check: no built book at {html} (python tools/build_book.py "
              "--html-only)", file=sys.stderr)
        return 2
    try:
        problems = check(html, Path(args.shots), args.widths)
    except BrowserMissing as err:
        print(f"browser_check: cannot run: {err}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(problems, indent=1))
    n = len(pages(html))
    if problems:
        print(f"browser_check: {len(problems)} problems on {n} pages x {len(args.widths)} "
              "widths:\n  " + "\n  ".join(problems))
        return 1
    print(f"browser_check: {n} pages at {args.widths} px: every output fits its column, no "
          f"empty toggles, figure text >= {MIN_TEXT_PX:g} px; screenshots in {args.shots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
