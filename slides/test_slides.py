"""Tests of the lecture deck (slides/index.html, slides/figures/*.svg).

- the committed deck is exactly what build.py makes from the current mytorch.py (else: rebuild);
- the deck loads nothing over the network;
- in headless Chromium: Print -> PDF gives one page per slide, a link to #N opens slide N, and the
  screenshots of the title slide and of an example slide are not blank.
The browser tests skip when no Chromium is installed (Debian: apt-get install -y chromium).
"""
import importlib.util
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DECK = HERE / "index.html"
REBUILD = "python slides/build.py"


def _load_build():
    spec = importlib.util.spec_from_file_location("slides_build", HERE / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build = _load_build()


def slide_ids():
    return re.findall(r'<section class="slide[^"]*" id="([^"]+)"', DECK.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# The deck is up to date and self-contained
# --------------------------------------------------------------------------------------------------
def test_deck_is_up_to_date(tmp_path):
    assert DECK.is_file(), f"slides/index.html is missing: run {REBUILD}"
    build.build_all(tmp_path)
    stale = build.compare(tmp_path, HERE)
    assert not stale, (f"the deck is stale ({', '.join(stale)}): it no longer matches what "
                       f"mytorch.py gives. Rebuild it with: {REBUILD}")


def test_build_is_deterministic(tmp_path):
    build.build_all(tmp_path / "one")
    build.build_all(tmp_path / "two")
    assert build.compare(tmp_path / "one", tmp_path / "two") == []


def test_deck_loads_nothing_from_the_network():
    text = DECK.read_text(encoding="utf-8")
    assert not re.search(r"https?:|ftp:|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), "a URL in the deck"
    assert "@import" not in text and "@font-face" not in text
    assert not re.search(r"<(link|iframe|img|object|embed)\b", text, re.I)
    assert not re.search(r"\b(src|href)\s*=", text, re.I)
    assert not re.search(r"url\(", text, re.I)
    for svg in sorted((HERE / "figures").glob("*.svg")):
        t = svg.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?:|url\(|href", t, re.I), f"{svg.name} refers to something outside"


def test_figures_are_inlined_in_the_deck():
    text = DECK.read_text(encoding="utf-8")
    for svg in sorted((HERE / "figures").glob("*.svg")):
        body = svg.read_text(encoding="utf-8").replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
        assert body in text, f"figures/{svg.name} is not inlined in index.html: run {REBUILD}"


def test_example_walks_come_from_the_engine():
    """The orders drawn are the engine's: example 1 depth first, example 2 waits at h."""
    mt = build.load_engine()
    w1 = build.example1(mt)
    assert [(d.sender, d.receiver) for d in w1.deliveries] == [
        ("y", "p"), ("p", "a"), ("p", "b"), ("y", "q"), ("q", "c"), ("q", "d")]
    assert [d.path for d in w1.deliveries] == [0, 0, 1, 2, 2, 3]
    w2 = build.example2(mt)
    waits = [(d.n, d.receiver, d.waiting) for d in w2.deliveries if d.waiting]
    assert waits == [(3, "h", 1)]
    assert w2.grad["a"] == w2.grad["b"] == 7.0
    w3 = build.example3(mt)
    assert w3.naive_consumers["h"] == ["side", "y"]
    assert [d.receiver for d in w3.deliveries] == ["h", "a", "b", "c"]
    assert all(d.waiting == 0 for d in w3.deliveries)


# --------------------------------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------------------------------
def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install -y chromium)")


def run_chromium(*args, url):
    with tempfile.TemporaryDirectory() as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args, url]
        return subprocess.run(cmd, capture_output=True, timeout=90)


def deck_url(fragment=""):
    return DECK.resolve().as_uri() + fragment


def pdf_page_count(data):
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def png_pixels(data):
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) into (width, height, channels, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert depth == 8 and colour in (2, 6), f"unexpected PNG format {depth}/{colour}"
    ch = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * ch
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(ch, stride):
                line[i] = (line[i] + line[i - ch]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - ch] if i >= ch else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - ch] if i >= ch else 0
                b, c = prev[i], (prev[i - ch] if i >= ch else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, ch, rows


def assert_not_blank(png, what):
    width, height, ch, rows = png_pixels(png)
    counts = {}
    for row in rows[::4]:                      # every 4th row and column is plenty
        for x in range(0, width * ch, 4 * ch):
            px = row[x:x + 3]
            counts[px] = counts.get(px, 0) + 1
    total = sum(counts.values())
    background = max(counts.values())
    assert len(counts) > 8, f"{what}: only {len(counts)} colours, the screenshot looks blank"
    assert total - background > total * 0.02, f"{what}: less than 2% of the pixels are not background"


@needs_chromium
def test_print_to_pdf_gives_one_page_per_slide(tmp_path):
    pdf = tmp_path / "deck.pdf"
    run_chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url=deck_url())
    assert pdf.is_file(), "chromium wrote no PDF"
    data = pdf.read_bytes()
    n = len(slide_ids())
    assert n >= 10
    assert pdf_page_count(data) == n, f"{pdf_page_count(data)} PDF pages for {n} slides"
    # and the pages are 16:9 (1600 x 900 CSS px = 1200 x 675 pt)
    boxes = set(re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data))
    assert boxes, "no MediaBox in the PDF"
    for w, h in boxes:
        assert abs(float(w) / float(h) - 16 / 9) < 0.01, f"page is {w}x{h}, not 16:9"


@needs_chromium
def test_a_link_opens_that_slide():
    ids = slide_ids()
    n = ids.index("example-2") + 1
    out = run_chromium("--dump-dom", url=deck_url(f"#{n}"))
    dom = out.stdout.decode("utf-8", "replace")
    current = re.findall(r'<section class="slide[^"]*\bcurrent\b[^"]*" id="([^"]+)"', dom)
    assert current == ["example-2"], f"#{n} opened {current}"


@needs_chromium
def test_screenshots_are_not_blank(tmp_path):
    ids = slide_ids()
    shots = {"title slide": "#1", "example 1, all steps": f"#{ids.index('example-1') + 1}.99"}
    images = {}
    for what, frag in shots.items():
        png = tmp_path / (re.sub(r"\W+", "_", what) + ".png")
        run_chromium(f"--screenshot={png}", "--window-size=1280,720", url=deck_url(frag))
        assert png.is_file(), f"chromium wrote no screenshot of the {what}"
        images[what] = png.read_bytes()
        assert_not_blank(images[what], what)
    assert images["title slide"] != images["example 1, all steps"]
