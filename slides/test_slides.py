"""Tests of the lecture deck (slides/index.html, slides/figures/*.svg).

- the committed deck is exactly what build.py makes from the current mytorch.py (else: rebuild);
- the deck loads nothing over the network;
- the lecture walkers (walkers.py) read the engine's graph right: same order as the engine's own walk,
  same gradients in every order, the ungated walk's path count;
- in headless Chromium: Print -> PDF gives one page per slide, a link to #N opens slide N, the
  screenshots of the title slide and of an example slide are not blank;
- example 2 in the tutorial's path colours, no status colour a path colour, a legend; no figure label
  over an arrow, a node or the figure's edge;
- with Playwright driving that Chromium, on every slide at every step: no text under 28 px on the
  1600x900 stage (figures as rendered), every text at least 4.5:1 against what is behind it, every
  element inside the stage and above the footer, no code cut off, table headers on at most two
  lines, node values inside their circles; the presenter view (key p) opens without touching the
  audience window, shows current slide, next step, notes and a timer, and stays in step both ways;
  the printed handout keeps the "waits" ring.
The browser tests skip when no Chromium is installed (Debian: apt-get install -y chromium), the
Playwright ones also without Playwright (pip install playwright).
"""
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

# One BLAS thread, as test_mytorch.py and train_mnist.py set it: pytest may collect this file first, and
# numpy reads the setting once, when it loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

HERE = Path(__file__).resolve().parent
DECK = HERE / "index.html"
REBUILD = "python slides/build.py"


def _load_build():
    spec = importlib.util.spec_from_file_location("slides_build", HERE / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build = _load_build()
runs = build.engine_runs      # build.py put slides/ on sys.path: these are slides/*.py
walkers = importlib.import_module("walkers")


def slide_ids():
    return re.findall(r'<section class="slide[^"]*" id="([^"]+)"', DECK.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# The deck is up to date and self-contained
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory):
    """The deck built from the current mytorch.py into a temporary folder (once for this file)."""
    out = tmp_path_factory.mktemp("deck")
    build.build_all(out)
    return out


def test_deck_is_up_to_date(fresh_build):
    assert DECK.is_file(), f"slides/index.html is missing: run {REBUILD}"
    stale = build.compare(fresh_build, HERE)
    assert not stale, (f"the deck is stale ({', '.join(stale)}): it no longer matches what "
                       f"mytorch.py gives. Rebuild it with: {REBUILD}")


# Run in a fresh interpreter before it builds: another hash seed, tracemalloc on, the garbage
# collector off, memory churned and numpy's random state moved. Nothing the deck shows may depend
# on any of it.
OTHER_PROCESS_STATE = """
import gc, sys, tracemalloc
tracemalloc.start()
junk = [bytearray(n % 997) for n in range(20000)]
gc.disable()
import numpy as np
np.random.rand(1000)
sys.path.insert(0, sys.argv[1])
import build
sys.exit(build.main(["--out", sys.argv[2]]))
"""


def test_build_is_the_same_in_another_process_state(fresh_build, tmp_path):
    """fresh_build was made inside this test process, after whatever ran before it; a second build
    in a fresh interpreter in another state must give the same bytes (the suite once failed 4 runs
    in 10 when a figure was measured with tracemalloc). So the build is deterministic: a second
    build in this process would tell nothing more."""
    env = dict(os.environ, PYTHONHASHSEED="12345", OPENBLAS_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", OTHER_PROCESS_STATE, str(HERE), str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert build.compare(tmp_path, fresh_build) == []


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
    mt = runs.load_engine()
    w1 = runs.example1(mt)
    assert [(d.sender, d.receiver) for d in w1.deliveries] == [
        ("y", "p"), ("p", "a"), ("p", "b"), ("y", "q"), ("q", "c"), ("q", "d")]
    assert [d.path for d in w1.deliveries] == [0, 0, 1, 2, 2, 3]
    w2 = runs.example2(mt)
    waits = [(d.n, d.receiver, d.waiting) for d in w2.deliveries if d.waiting]
    assert waits == [(3, "h", 1)]
    assert w2.grad["a"] == w2.grad["b"] == 7.0
    w3 = runs.example3(mt)
    assert w3.naive_consumers["h"] == ["side", "y"]
    assert [d.receiver for d in w3.deliveries] == ["h", "a", "b", "c"]
    assert all(d.waiting == 0 for d in w3.deliveries)


def test_example2_uses_the_tutorials_path_colours():
    """Each path of example 2 in the tutorial's colour, in its order (blue, orange, yellow, purple,
    green, pink: computational_graph_2.png), and no status colour is a path colour."""
    drawing = importlib.import_module("drawing")
    w2 = runs.example2(runs.load_engine())
    svg = (HERE / "figures" / "example2_barrier.svg").read_text(encoding="utf-8")
    colour_of_path = {}
    for d in w2.deliveries:
        group = re.search(r'<g data-step="%d">\s*<line [^>]*stroke="(#[0-9A-Fa-f]{6})"' % d.n, svg)
        assert group, f"no arrow for step {d.n} in example2_barrier.svg"
        colour_of_path.setdefault(d.path, group.group(1))
        assert colour_of_path[d.path] == group.group(1), f"step {d.n}: not its path's colour"
    names = {c: n for n, (c, _) in drawing.TUTORIAL.items()}
    got = [names.get(colour_of_path[p], colour_of_path[p]) for p in sorted(colour_of_path)]
    assert got == ["blue", "orange", "yellow", "purple", "green", "pink"], got
    path_colours = {c.upper() for c, _ in drawing.TUTORIAL.values()}
    assert drawing.WAIT.upper() not in path_colours and drawing.DONE.upper() not in path_colours
    for fill, stroke, text, _ in drawing.NODE_STYLE.values():
        assert not {fill.upper(), stroke.upper(), text.upper()} & path_colours
    # no text (a status, a note) is written in a path colour
    for fill in re.findall(r'<text [^>]*fill="(#[0-9A-Fa-f]{6})"', svg):
        assert fill.upper() not in path_colours, f"a text in path colour {fill}"
    # the legend names every node fill used and the waiting ring
    for word in ("input", "op output", "loss", "2 consumers", "waits"):
        assert f">{word}</text>" in svg, f"the legend has no {word!r}"


def test_example3_punchline_comes_with_the_last_step():
    w3 = runs.example3(runs.load_engine())
    svg = (HERE / "figures" / "example3_side_branch.svg").read_text(encoding="utf-8")
    at = svg.index("waits forever")
    stack = []                                       # the groups open where the text is
    for m in re.finditer(r'<g\b[^>]*>|</g>', svg[:at]):
        if m.group().startswith("</"):
            stack.pop()
        else:
            step = re.search(r'data-step="(\d+)"', m.group())
            stack.append(int(step.group(1)) if step else None)
    steps = [s for s in stack if s is not None]
    assert steps and steps[-1] == w3.deliveries[-1].n, "'waits forever' shows before the walk's last step"


def test_figure_labels_never_cover_arrows_or_nodes():
    """Every figure is checked when it is rendered (drawing.Svg.collisions); the check does fire."""
    drawing = importlib.import_module("drawing")
    svg = drawing.Svg(400, 200)
    drawing.arrow(svg, 20, 100, 380, 100, "#0A6FC2", what="the arrow of step 4")
    drawing.pill(svg, 200, 100, "grad 1", "#0A6FC2", what="the label of step 4")
    with pytest.raises(ValueError, match="the label of step 4 covers the arrow of step 4"):
        svg.render("overlap")
    svg = drawing.Svg(400, 200)
    drawing.pill(svg, 10, 100, "grad 1", "#0A6FC2", what="a pill")
    with pytest.raises(ValueError, match="a pill is not inside the figure"):
        svg.render("outside")
    mt = runs.load_engine()
    for fig in (drawing.fig_example1(runs.example1(mt)), drawing.fig_example2(runs.example2(mt)),
                drawing.fig_example3(runs.example3(mt))):
        assert fig.count("<g data-step=") >= 6


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


# --------------------------------------------------------------------------------------------------
# The lecture walkers of "Gated walk or topological sort?"
# --------------------------------------------------------------------------------------------------
def test_lecture_walkers_agree_with_the_engine():
    mt = runs.load_engine()
    oc = runs.order_compare(mt, walkers)      # also checks: walkers.gated_depth_first == engine order
    assert [(s, r) for s, r, _ in oc["engine"]] == [
        ("y", "m1"), ("m1", "c"), ("m1", "h"), ("y", "m2"), ("m2", "h"), ("h", "a"), ("h", "b"), ("m2", "d")]
    assert oc["grads"] == {"a": 7.0, "b": 7.0, "c": 1.0, "d": 1.0}
    orders = {name: [(s, r) for s, r, _ in order] for name, _, order in oc["orders"]}
    assert list(orders) == ["MyTorch", "breadth-first", "PyTorch", "micrograd"]
    assert orders["breadth-first"] == [("y", "m1"), ("y", "m2"), ("m1", "c"), ("m1", "h"),
                                       ("m2", "h"), ("m2", "d"), ("h", "a"), ("h", "b")]
    # m2 was created after m1: PyTorch's order takes it first; here that is micrograd's sorted list
    assert orders["PyTorch"] == orders["micrograd"] == [("y", "m1"), ("y", "m2"), ("m2", "h"),
                                                        ("m2", "d"), ("m1", "c"), ("m1", "h"),
                                                        ("h", "a"), ("h", "b")]
    # the list puts every node after all the nodes that use it
    assert oc["topo_list"].index("h") > max(oc["topo_list"].index("m1"), oc["topo_list"].index("m2"))


def torch_node_order(root):
    """The order in which PyTorch's engine runs the nodes of root's graph: their sequence numbers.
    """
    order, seen, todo = [], set(), [root.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        if type(fn).__name__ != "AccumulateGrad":      # the leaves' .grad, not a node of ours
            fn.register_prehook(lambda grads, fn=fn: order.append(fn._sequence_nr()))
        todo += [f for f, _ in fn.next_functions]
    root.backward()
    return order


def ranks(numbers):
    place = {n: i for i, n in enumerate(sorted(set(numbers)))}
    return [place[n] for n in numbers]


def test_pytorchs_order_is_what_pytorch_does():
    """walkers.gated_by_creation (the deck's "PyTorch" order) runs the nodes of example 2 and of the
    reused layer in the order torch's own engine runs the same graphs."""
    torch = pytest.importorskip("torch")
    mt = runs.load_engine()
    with runs.creation_order(mt) as created:
        ours = [runs.example2_graph(mt)[0], runs.reused_layer(mt, 8)]
    a, b, c, d = (torch.tensor(float(v), requires_grad=True) for v in (2, -1, 3, 4))
    h = a + b
    theirs = [c * h + h * d]
    w = torch.randn(256, 256, requires_grad=True)
    bias = torch.zeros(256, requires_grad=True)
    x = torch.rand(8, 256)
    for _ in range(4):
        x = (x @ w.T + bias).sigmoid()
    theirs.append(x.sum())
    for mine, root in zip(ours, theirs):
        senders = []
        for s, _, _ in walkers.gated_by_creation(mine, created).deliveries:
            if not senders or senders[-1] != created[id(s)]:
                senders.append(created[id(s)])
        got = torch_node_order(root)
        assert len(senders) == len(got) and len(got) in (4, 17)
        assert ranks(senders) == ranks(got)


def test_ungated_walk_count_doubles_per_rung():
    mt = runs.load_engine()
    rows = runs.ladder_counts(mt, walkers, depths=(1, 3, 6), walk_up_to=6)
    # each rung has 4 edges; without the gate rung k (from the top) is walked 2**k times
    assert [r["gated"] for r in rows] == [4, 12, 24]
    assert [r["ungated"] for r in rows] == [4 * (2 ** n - 1) for n in (1, 3, 6)]
    assert [r["grad"] for r in rows] == [5.0 ** n for n in (1, 3, 6)]


def test_buffer_peaks_on_a_chain():
    """On a chain of n ops, every order holds 2 gradients at a time (sender and receiver): the gated
    depth-first walk lets a node's gradient go once it has sent along its last edge. A node whose
    other input is still to come (here a weight w, after the chain) waits on the stack with its
    gradient: then the depth-first walk holds one per level, n."""
    mt = runs.load_engine()
    for n in (3, 7):
        x, w = runs.T(mt, 2), runs.T(mt, 1)
        chain = x
        for _ in range(n):
            chain = chain * 3
        peaks = [walk(chain).peak_buffers for walk in
                 (walkers.gated_depth_first, walkers.gated_queue, walkers.topological_list)]
        assert peaks == [2, 2, 2]
        assert float(walkers.gated_queue(chain).grads[id(x)]) == 3.0 ** n
        weighted = x
        for _ in range(n):
            weighted = weighted * w
        assert walkers.gated_depth_first(weighted).peak_buffers == n
        assert float(walkers.gated_depth_first(weighted).grads[id(w)]) == n * 2.0


def test_worked_solutions_are_checked():
    mt = runs.load_engine()
    s = runs.solutions(mt, runs.exercise_graph(mt))
    assert s["tie"] == (0.5, 0.5)
    assert s["trace"][0].startswith("Step(sender=y, receiver=k") and len(s["trace"]) == 6
    assert [d.receiver for d in s["waits"]] == ["h"]
    assert s["sin"] is True and s["min"] is True and s["sin_wrong"] is False


# --------------------------------------------------------------------------------------------------
# Legibility and the presenter view, measured in Chromium through Playwright
# --------------------------------------------------------------------------------------------------
try:
    from playwright.sync_api import sync_playwright
except ImportError:      # the tests below skip
    sync_playwright = None

needs_playwright = pytest.mark.skipif(sync_playwright is None or CHROMIUM is None,
                                      reason="needs playwright (pip install playwright) and chromium")

MEASURE_JS = r"""
() => {
  const stage = document.getElementById('stage');
  const sbox = stage.getBoundingClientRect();
  const scale = sbox.width / 1600;
  const slide = stage.querySelector('section.slide.current');
  const rgb = s => { const m = s.match(/[\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                     return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const over = (top, under) => { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)); };
  function htmlBackground(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  }
  function svgBackground(el) {
    const r = el.getBoundingClientRect();
    return backgroundAt(el, r.left + r.width / 2, r.top + r.height / 2);
  }
  function backgroundAt(el, x, y) {
    const hits = document.elementsFromPoint(x, y);
    let bg = [255, 255, 255];
    const shapes = hits.filter(h => h !== el && ['rect', 'circle', 'ellipse', 'polygon', 'path'].includes(h.tagName)
                                   && getComputedStyle(h).fill !== 'none');
    for (let i = shapes.length - 1; i >= 0; i--) {
      const st = getComputedStyle(shapes[i]);
      const c = rgb(st.fill);
      c[3] = parseFloat(st.fillOpacity) * parseFloat(st.opacity);
      bg = over(c, bg);
    }
    return bg;
  }
  const px = r => '(' + [r.left, r.top, r.right, r.bottom].map(v => Math.round((v - (v === r.left || v === r.right ? sbox.left : sbox.top)) / scale)).join(', ') + ')';
  const out = [], spill = [], outside = [];
  const walker = document.createTreeWalker(slide, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    if (!t.textContent.trim()) continue;
    const el = t.parentElement;
    if (el.closest('.notes') || el.closest('title')) continue;
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    const st = getComputedStyle(el);
    let size, colour, bg;
    if (el instanceof SVGElement) {
      const ctm = el.getScreenCTM();
      size = parseFloat(st.fontSize) * Math.hypot(ctm.a, ctm.b) / scale;
      colour = rgb(st.fill); bg = svgBackground(el);
      // a figure's text inside the figure
      const fig = el.ownerSVGElement.getBoundingClientRect(), r = el.getBoundingClientRect();
      if (r.left < fig.left - 1 || r.right > fig.right + 1 || r.top < fig.top - 1 || r.bottom > fig.bottom + 1)
        spill.push('text cut off at the figure\'s edge: ' + t.textContent.trim().slice(0, 40));
    } else {
      size = parseFloat(st.fontSize);
      colour = rgb(st.color); bg = htmlBackground(el);
    }
    out.push({text: t.textContent.trim().slice(0, 40), size: size, contrast: ratio(over(colour, bg), bg)});
  }
  // every mark a figure draws (a stroke, or the fill of a shape with no stroke: an arrowhead, a
  // step's disc) at least 3:1 against what is behind it, and a stroke also against its own fill.
  // Translucent tints, the figure's own background and white halos (a gap drawn round a disc) are
  // not marks. What is behind a shape is found at its centre when the shape is painted there (a
  // filled shape, a straight line). A stroke that is not (an outline drawn round something, a bent
  // polyline) is measured against what is behind it at 15 points along it, and three quarters of
  // them count: the least but three (where another mark crosses it, like an edge meeting a ring,
  // it is drawn on that mark).
  function strokeBackgrounds(el) {
    const r = el.getBoundingClientRect();
    if (document.elementsFromPoint(r.left + r.width / 2, r.top + r.height / 2).includes(el))
      return [svgBackground(el)];
    const ctm = el.getScreenCTM(), len = el.getTotalLength(), out = [];
    for (let i = 1; i < 16; i++) {
      const at = el.getPointAtLength(len * i / 16);
      const q = new DOMPoint(at.x, at.y).matrixTransform(ctm);
      out.push(backgroundAt(el, q.x, q.y));
    }
    return out;
  }
  const marks = [];
  const col = s => s && s !== 'none' && s.startsWith('rgb') ? rgb(s) : null;
  const shapes = 'svg line, svg polyline, svg polygon, svg path, svg circle, svg ellipse, svg rect';
  slide.querySelectorAll(shapes).forEach(el => {
    if (!el.getClientRects().length) return;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none') return;
    const svg = el.ownerSVGElement;
    const wide = +el.getAttribute('width') >= +svg.viewBox.baseVal.width;
    if (el.tagName === 'rect' && el === svg.querySelector('rect') && wide) return;
    const bg = svgBackground(el);
    const stroke = col(st.stroke), fill = col(st.fill);
    const alpha = fill ? fill[3] * parseFloat(st.fillOpacity) * parseFloat(st.opacity) : 0;
    const fillOpaque = el.tagName !== 'line' && alpha >= 0.99;
    const halo = stroke && stroke[0] === 255 && stroke[1] === 255 && stroke[2] === 255;
    const step = el.closest('g[data-step]');
    const what = el.tagName + ' ' + (step ? 'of step ' + step.getAttribute('data-step') + ' ' : '');
    if (stroke && !halo && parseFloat(st.strokeWidth) > 0) {
      const rs = strokeBackgrounds(el).map(b => ratio(stroke, b)).sort((a, b) => a - b);
      let r = rs[Math.floor(rs.length / 4)];
      if (fillOpaque) r = Math.min(r, ratio(stroke, fill));
      marks.push({what: what + 'stroke ' + st.stroke, contrast: r});
    } else if (fillOpaque) {
      marks.push({what: what + 'fill ' + st.fill, contrast: ratio(fill, bg)});
    }
  });
  // everything inside the stage and above the footer; code not cut off
  const foot = slide.querySelector('footer').getBoundingClientRect();
  const box = slide.getBoundingClientRect();
  slide.querySelectorAll('*').forEach(e => {
    if (e.closest('footer') || e.closest('.notes') || e.closest('svg') && e.tagName !== 'svg') return;
    const st = getComputedStyle(e);
    if (st.visibility === 'hidden') return;
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height) return;
    const what = e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className : '') +
                 ' ' + px(r) + ' "' + (e.textContent || '').trim().slice(0, 30) + '"';
    if (r.left < box.left - 1 || r.top < box.top - 1 || r.right > box.right + 1 || r.bottom > box.bottom + 1)
      spill.push('outside the 1600x900 stage: ' + what);
    else if (r.bottom > foot.top + 2)
      spill.push('over the footer: ' + what);
    if ((st.overflow === 'hidden' || e.tagName === 'PRE') && (e.scrollWidth > e.clientWidth + 2 || e.scrollHeight > e.clientHeight + 2))
      spill.push('cut off (' + e.scrollWidth + 'x' + e.scrollHeight + ' in ' + e.clientWidth + 'x' + e.clientHeight + '): ' + what);
  });
  // a table's header on at most two lines
  slide.querySelectorAll('th').forEach(th => {
    const range = document.createRange();
    range.selectNodeContents(th);
    const lines = new Set(Array.from(range.getClientRects()).filter(r => r.width > 1).map(r => Math.round(r.top))).size;
    if (lines > 2) spill.push('table header on ' + lines + ' lines: "' + th.textContent.trim() + '"');
  });
  // node values and names inside their circles: the text's outermost points within the radius
  slide.querySelectorAll('g.node').forEach(g => {
    const c = g.querySelector('circle');
    if (!c || !g.getClientRects().length || getComputedStyle(g).visibility === 'hidden') return;
    const cx = +c.getAttribute('cx'), cy = +c.getAttribute('cy'), r = +c.getAttribute('r');
    g.querySelectorAll('text').forEach(t => {
      const b = t.getBBox(), my = b.y + b.height / 2, mx = b.x + b.width / 2;
      const pts = [[b.x, my], [b.x + b.width, my], [mx, b.y + 0.2 * b.height], [mx, b.y + b.height]];
      if (pts.some(p => Math.hypot(p[0] - cx, p[1] - cy) > r))
        outside.push('"' + t.textContent + '" sticks out of its circle (r ' + r + ', text ' + Math.round(b.width) + ' wide)');
    });
  });
  return {texts: out, spill: spill, outside: outside, marks: marks};
}
"""


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


MIN_PX = 28          # the smallest text on the 1600 x 900 stage
MIN_CONTRAST = 4.5   # WCAG AA for normal text
MIN_MARK_CONTRAST = 3   # WCAG's non-text contrast: a figure's strokes, arrowheads and discs


@needs_playwright
def test_every_slide_and_step_is_legible_and_fits(browser):
    """Walk the whole deck with the arrow key, one step at a time, and measure what is on screen at
    each step: every text at least 28 px on the 1600x900 stage and 4.5:1 against what is behind it,
    every stroke of a figure (and every mark drawn as a fill: arrowheads, discs) at least 3:1,
    every element inside the stage and above the footer, no code cut off, node values inside their
    circles."""
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    ids = slide_ids()
    page.goto(deck_url("#1"))
    where = "document.querySelector('section.slide.current').id + '#' + location.hash"
    small, faint, pale, spills, seen = {}, {}, {}, {}, set()
    for _ in range(400):
        got = page.evaluate(MEASURE_JS)
        slide_no = page.evaluate("location.hash").lstrip("#").split(".")
        sid = ids[int(slide_no[0]) - 1]
        at = f"slide {slide_no[0]} ({sid}), step {slide_no[1] if len(slide_no) > 1 else 0}"
        seen.add(sid)
        assert len(got["texts"]) >= 3, f"{at}: found almost no text to measure"
        for t in got["texts"]:      # each problem once, at the first step it shows
            if t["size"] < MIN_PX - 0.05:
                small.setdefault((sid, t["text"]), f"{at}: {t['size']:.1f}px {t['text']!r}")
            if t["contrast"] < MIN_CONTRAST:
                faint.setdefault((sid, t["text"]), f"{at}: {t['contrast']:.2f}:1 {t['text']!r}")
        for m in got["marks"]:
            if m["contrast"] < MIN_MARK_CONTRAST:
                pale.setdefault((sid, m["what"]), f"{at}: {m['contrast']:.2f}:1 {m['what']}")
        for s in got["spill"] + got["outside"]:
            spills.setdefault((sid, s), f"{at}: {s}")
        before = page.evaluate(where)
        page.keyboard.press("ArrowRight")
        if page.evaluate(where) == before:
            break
    page.close()
    assert seen == set(ids), f"the arrow key never reached {sorted(set(ids) - seen)}"
    problems = ([f"under {MIN_PX}px on the 1600x900 stage: {m}" for m in small.values()]
                + [f"contrast under {MIN_CONTRAST}:1: {m}" for m in faint.values()]
                + [f"a figure's mark under {MIN_MARK_CONTRAST}:1: {m}" for m in pale.values()]
                + [f"does not fit: {m}" for m in spills.values()])
    assert not problems, f"{len(problems)} legibility problems:\n" + "\n".join(problems)


def open_presenter_view(browser):
    """The deck at example 2 in an audience window, and the presenter view that key p opens from it:
    (context, audience page, presenter page, slide ids, example 2's slide number)."""
    ids = slide_ids()
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    audience = ctx.new_page()
    start = ids.index("example-2") + 1
    audience.goto(deck_url(f"#{start}"))
    with ctx.expect_page() as popup:
        audience.keyboard.press("p")
    pres = popup.value
    pres.wait_for_selector("#pv")
    return ctx, audience, pres, ids, start


@needs_playwright
def test_presenter_view_stays_in_step_both_ways(browser):
    ctx, audience, pres, ids, start = open_presenter_view(browser)
    current = "document.querySelector('#stage section.slide.current').id"
    # the audience window shows no notes unless asked
    assert audience.evaluate("getComputedStyle(document.getElementById('notes-panel')).display") == "none"
    assert pres.evaluate(current) == "example-2"
    notes = pres.evaluate("document.getElementById('pv-notes').textContent")
    assert "h is used twice" in notes
    assert re.fullmatch(r"\d\d:\d\d", pres.evaluate("document.getElementById('pv-timer').textContent"))
    # audience -> presenter: one step, then the next slide
    audience.keyboard.press("ArrowRight")
    pres.wait_for_function("location.hash === '#%d.1'" % start)
    audience.keyboard.press("End")
    pres.wait_for_function(f"{current} === '{ids[-1]}'")
    # presenter -> audience
    pres.keyboard.press("Home")
    audience.wait_for_function(f"{current} === '{ids[0]}'")
    for _ in range(3):
        pres.keyboard.press("ArrowRight")
    audience.wait_for_function(f"{current} === '{ids[3]}'")
    assert audience.evaluate("location.hash") == pres.evaluate("location.hash") == "#4"
    assert audience.evaluate("getComputedStyle(document.getElementById('notes-panel')).display") == "none"
    assert not audience.evaluate("document.getElementById('pv')")
    ctx.close()


NEXT_JS = """() => {
  const s = document.querySelector('#pv-next-stage section.slide.current');
  const shown = Array.from(s.querySelectorAll('[data-step]'))
    .filter(e => getComputedStyle(e).visibility !== 'hidden' && getComputedStyle(e).display !== 'none')
    .map(e => +e.getAttribute('data-step'));
  return {slide: s.dataset.id, upto: Math.max(0, ...shown), label: document.getElementById('pv-next-label').textContent};
}"""


@needs_playwright
def test_presenter_view_previews_the_next_step(browser):
    ctx, audience, pres, ids, start = open_presenter_view(browser)
    steps = pres.evaluate("Math.max(...Array.from(document.querySelectorAll('#stage section.slide.current [data-step]'))"
                          ".map(e => +e.getAttribute('data-step')))")
    assert steps >= 6
    for s in range(steps):            # on every step, "next" shows this slide one step further
        got = pres.evaluate(NEXT_JS)
        assert (got["slide"], got["upto"]) == ("example-2", s + 1), f"at step {s}: next shows {got}"
        assert f"step {s + 1}" in got["label"]
        pres.keyboard.press("ArrowRight")
        pres.wait_for_function("location.hash === '#%d.%d'" % (start, s + 1))
    got = pres.evaluate(NEXT_JS)      # on the last step: the next slide, as it opens (step 0)
    assert (got["slide"], got["upto"]) == (ids[start], 0) and f"slide {start + 1}" in got["label"], got
    ctx.close()


GEOMETRY_JS = """() => ({screenX: screenX, screenY: screenY, outerWidth: outerWidth, outerHeight: outerHeight,
  innerWidth: innerWidth, innerHeight: innerHeight, fullscreen: !!document.fullscreenElement,
  stage: JSON.stringify(document.getElementById('stage').getBoundingClientRect()), hash: location.hash,
  visible: document.visibilityState})"""


@needs_playwright
def test_opening_the_presenter_view_leaves_the_audience_window_alone(browser):
    """Key p opens the presenter view in a window of its own: the audience window keeps its place, size,
    full screen and slide. If the browser drops full screen when a window opens (Chrome does, on
    screen), the next key in the audience window brings it back."""
    n = slide_ids().index("example-2") + 1               # a slide with steps
    ctx = browser.new_context(no_viewport=True)        # real window sizes, as on a lecturer's screen
    audience = ctx.new_page()
    audience.goto(deck_url(f"#{n}.2"))
    audience.keyboard.press("f")
    audience.wait_for_function("!!document.fullscreenElement")
    before = audience.evaluate(GEOMETRY_JS)
    with ctx.expect_page() as popup:
        audience.keyboard.press("p")
    pres = popup.value
    pres.wait_for_selector("#pv")
    pres.wait_for_function(f"location.hash === '#{n}.2'")
    audience.wait_for_timeout(300)
    after = audience.evaluate(GEOMETRY_JS)
    assert after == before, f"opening the presenter view changed the audience window: {before} -> {after}"
    assert pres.evaluate("window.opener !== null && !document.getElementById('pv').hidden")
    # the browser leaves full screen as the window opens: the next key in the audience window restores it
    audience.evaluate("document.exitFullscreen()")
    audience.wait_for_function("!document.fullscreenElement")
    audience.keyboard.press("ArrowRight")
    audience.wait_for_function("!!document.fullscreenElement")
    assert audience.evaluate("location.hash") == f"#{n}.3"
    ctx.close()


@needs_playwright
def test_printed_handout_keeps_the_waits_ring(browser):
    ids = slide_ids()
    n = ids.index("example-2") + 1
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    ring = "document.querySelector('#example-2 g.ring')"
    shown = f"(() => {{ const r = {ring}; const s = getComputedStyle(r); " \
            "return s.display !== 'none' && s.visibility !== 'hidden' && r.getBoundingClientRect().width > 100; })()"
    page.goto(deck_url(f"#{n}.99"))        # on screen, the ring goes once h has its second gradient
    assert page.evaluate(ring) is not None, "example 2 has no waiting ring (g.ring)"
    assert not page.evaluate(shown)
    page.emulate_media(media="print")      # printed, every slide shows everything, the ring included
    for frag in (f"#{n}.99", "#1"):
        page.goto(deck_url(frag))
        assert page.evaluate(shown), f"the printed handout (opened at {frag}) has no waits ring"
    page.close()


# --- content tests (deck3a)
def _slides_with_notes():
    import html
    text = DECK.read_text(encoding="utf-8")
    return [(sid, body, html.unescape(notes)) for sid, body, notes in re.findall(
        r'<section class="slide[^"]*" id="([^"]+)"[^>]*>(.*?)<aside class="notes">(.*?)</aside>', text, re.S)]


def test_speaker_notes_are_short_bullets():
    """What to say, at most 80 words a slide, as bullets; sources go on the Sources slide, not here.
    """
    for sid, _, notes in _slides_with_notes():
        lines = notes.split("\n")
        assert all(ln.startswith("- ") and len(ln) > 3 for ln in lines), f"{sid}: notes not as bullets"
        words = len(notes.replace("- ", " ").split())
        assert words <= 80, f"{sid}: {words} words of notes"
        source = re.search(r"\w+/\w+\.(py|h|cpp)\b|#\d{3,}", notes)
        assert not source, f"{sid}: a source in the notes: {source.group()}"


MAIN_LINE_MINUTES, BUFFER_MINUTES = 40, 5


def test_main_line_then_appendix():
    ids = slide_ids()
    order = ["graph", "local-rules", "example-1", "example-2", "predict", "why-wait", "example-3",
             "code-recursive", "code-count-consumers", "code-backward-walk", "code-backward-gate",
             "gate-or-sort", "gate-order", "gate-verdict", "summary", "appendix"]
    first, last = ids.index("graph"), ids.index("appendix")
    assert [ids.index(sid) for sid in order] == list(range(first, last + 1))
    for sid in ("exercises", "solutions-1", "solutions-2", "predict-check", "gate-memory", "mnist",
                "mnist-loop", "mnist-result", "code-backward-setup", "free-graph", "sources"):
        assert ids.index(sid) > ids.index("appendix"), sid
    # the README's timing plan: 40 minutes over the main line's slides exactly, a 5-minute buffer
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+)(?:\u2013(\d+))? \| [^|]+ \| (\d+) \|$", readme, re.M)
    assert sum(int(m) for _, _, m in rows) == MAIN_LINE_MINUTES
    covered = [n for a, b, _ in rows for n in range(int(a), int(b or a) + 1)]
    assert covered == list(range(1, ids.index("summary") + 2))
    assert re.search(r"^\| +\| buffer[^|]*\| %d \|$" % BUFFER_MINUTES, readme, re.M)
    assert f"| | total | {MAIN_LINE_MINUTES + BUFFER_MINUTES} |" in readme
    # and says which slides to skip when late, by number and name, all in the main line
    late = re.search(r"^## When you run late\n(.*?)^## ", readme, re.M | re.S)
    assert late, "the README has no section 'When you run late'"
    for n, title in re.findall(r"^- slide (\d+), \*([^*]+)\*", late.group(1), re.M):
        assert int(n) <= ids.index("summary"), f"slide {n} is not in the main line"
        assert re.sub("<[^>]+>", "", _titles()[int(n) - 1]) == title, f"slide {n} is not {title!r}"


def _titles():
    import html
    text = DECK.read_text(encoding="utf-8")
    titles = re.findall(r'<section class="slide[^"]*" id="[^"]+" data-title="([^"]*)"', text)
    return [html.unescape(t) for t in titles]


def test_punchlines_appear_on_the_last_step():
    bodies = {sid: body for sid, body, _ in _slides_with_notes()}
    body = bodies["chain"]
    last = max(int(n) for n in re.findall(r'data-step="(\d+)"', body))
    m = re.search(r'<span data-step="(\d+)">[^<]*<b>[^<]*</b>[^<]*\u2714', body)
    assert m and int(m.group(1)) == last, "the chain rule's result must appear on the last step"
    # the exercise: one answer per step, each with the trace lines that show it
    pred = bodies["predict"]
    answers = re.findall(r'<span data-step="(\d+)"><span class="reveal" data-answer="1">', pred)
    assert answers == ["1", "2", "3"], "the exercise's three answers are revealed one at a time"
    trace = re.search(r'<pre class="code trace"[^>]*>(.*?)</pre>', pred, re.S).group(1)
    lines = re.findall(r'<span data-step="(\d)">([^<]*)</span>', trace)
    shown_at = [s for s, _ in lines]
    assert shown_at == sorted(shown_at) and set(shown_at) == {"1", "2", "3"}
    assert "waiting: 1" in [t for st, t in lines if st == "1"][-1], "step 1 ends with the wait"


def test_no_code_block_longer_than_14_lines():
    for sid, body, _ in _slides_with_notes():
        for block in re.findall(r'<pre class="code[^"]*"[^>]*>(.*?)</pre>', body, re.S):
            n = len(block.strip("\n").split("\n"))
            assert n <= 14, f"{sid}: a code block of {n} lines"


def test_kahn_with_a_stack_is_not_the_engines_walk():
    """Kahn's algorithm with a stack takes the newest ready node, as the engine does, but only after
    all of the sender's edges: the engine goes down at once."""
    mt = runs.load_engine()
    y, names = runs.example2_graph(mt)
    lab = {id(t): k for k, t in names.items()}
    stack = walkers.gated_queue(y, first_in_first_out=False)
    kahn = [(lab[id(s)], lab[id(r)]) for s, r, _ in stack.deliveries]
    engine = [(lab[id(s)], lab[id(r)]) for s, r, _ in walkers.gated_depth_first(y).deliveries]
    assert engine[:2] == [("y", "m1"), ("m1", "c")]     # the engine descends into m1 at once
    assert kahn[:2] == [("y", "m1"), ("y", "m2")]       # Kahn finishes y's edges first
    assert sorted(kahn) == sorted(engine)


def test_the_recursive_walk_is_the_engines_walk_and_stops_at_the_limit():
    mt = runs.load_engine()
    rc = runs.recursive_walk_check(mt, walkers)           # raises SystemExit if order or gradients differ
    assert "def recursive_gated" in rc["src"] and len(rc["src"].strip().split("\n")) <= 14
    d = runs.recursion_depths(mt, walkers, deep=3000)
    assert d["fails_about"] in (980, 990) and d["recursive_fails_about"] in (980, 990)
    assert d["deep_grad"] == 1.0 and sys.getrecursionlimit() >= 1000


def test_memory_counts_distinct_bytes_and_the_verdict_numbers():
    a = walkers.np.zeros(4, walkers.np.float32)
    assert walkers.distinct_bytes([a, a, a[:2]]) == 16         # one block, counted once
    assert walkers.distinct_bytes([a, a.copy()]) == 32
    mt = runs.load_engine()
    model_code, _, _, batch = runs.mnist_code()
    bp = runs.buffer_peaks(mt, walkers, model_code, batch)
    mlp, layer = bp["graphs"]
    names = [o for o, _ in bp["orders"]]
    assert names == ["MyTorch", "breadth-first", "PyTorch", "micrograd"]
    peaks = {g: [bp["table"][(g, o)][0] for o in names] for g in bp["graphs"]}
    assert peaks[mlp][:3] == [2, 2, 2]
    assert peaks[layer] == [9, 3, 3, bp["nodes"][layer]] and bp["nodes"][layer] == 17
    assert peaks[mlp][3] == bp["nodes"][mlp]          # micrograd as written: every node's gradient
    assert bp["stack_kahn"][layer][0] == 3             # Kahn with a stack: no extra memory here
    # the reused layer at batch B: the others hold two activation-sized gradients (B x 256 float32)
    # and one of W.T (256 x 256) at once; MyTorch two activation-sized ones more
    by = {o: bp["table"][(layer, o)][1] for o in names}
    assert by["breadth-first"] == by["PyTorch"] == 4 * (2 * batch * 256 + 256 * 256)
    assert by["MyTorch"] - by["PyTorch"] == 4 * 2 * batch * 256
    assert len({bp["table"][(g, o)][2] for g in [layer] for o in names}) == 1


def test_forwarding_the_running_total_is_the_tutorials_wrong_walk():
    mt = runs.load_engine()
    fw = runs.ungated_example2(mt, walkers)
    assert fw["totals"]["a"] == fw["totals"]["b"] == 10.0
    assert fw["increments"] == {"a": 7.0, "b": 7.0, "c": 1.0, "d": 1.0}
    assert fw["increments_edges"] == 10


def test_kept_loss_memory_is_counted_from_the_arrays():
    """What a kept loss holds is counted, not measured: a view counts as the array it views; after
    backward() a loss holds only its own value; with the graph kept, its arrays grow with the batch.
    """
    a = walkers.np.zeros((8, 8), walkers.np.float32)
    mt = runs.load_engine()
    t = mt.Tensor(a)                                    # a float32 copy of a
    found = runs.arrays_reachable([(t, a[:2]), [a.T]], mt.Tensor)
    assert len(found) == 2 and id(a) in found             # a (through two views), and t's copy
    assert sum(x.nbytes for x in found.values()) == 2 * 8 * 8 * 4
    model_code = runs.mnist_code()[0]
    got = {b: runs.kept_loss_memory(mt, model_code, b) for b in (2, 4, 8)}
    for k in got.values():
        assert k["freed"] == 4 and k["freed_arrays"] == 1      # the loss's own float32 value
        assert k["kept"] > 4 * k["batch"] * (128 + 64 + 32 + 10)  # at least every layer's output
    # the same arrays at every batch size: only the batch dimension grows
    assert got[8]["kept"] - got[4]["kept"] == 2 * (got[4]["kept"] - got[2]["kept"])
    assert got[2]["kept_arrays"] == got[4]["kept_arrays"] == got[8]["kept_arrays"]


def test_engine_lines_are_shown_as_written_or_the_build_stops():
    """The code slides show mytorch.py's lines as written (never rewrapped): a line wider than a
    code block holds at 28 px stops the build, naming the line; one exactly as wide passes."""
    limit = runs.code_chars()
    assert limit == 84
    fits = runs.project([(7, "    if x:  # " + "c" * (limit - 9)), (8, "        y = 1")],
                        "m.py", "s")
    assert fits.too_big == [] and fits.src.splitlines()[0] == "if x:  # " + "c" * (limit - 9)
    assert (fits.first, fits.last) == (7, 8)
    runs.stop_if_too_big(fits.too_big)                                   # goes on
    wide = runs.project([(7, "    if x:  # " + "c" * (limit - 8)), (8, "        y = 1")],
                        "m.py", "s")
    said = r"m\.py line 7: 85 characters on the slide 's' \(89 in the file, where the block starts 4"
    with pytest.raises(SystemExit, match=said):
        runs.stop_if_too_big(fits.too_big + wide.too_big)
    # whole-line comments stay while the block fits a slide, else they all go (the caption says so)
    short = runs.project([(1, "# why"), (2, "a = 1")], "m.py", "s")
    assert short.src == "# why\na = 1\n" and not short.comments_left_out and short.too_big == []
    long = runs.project([(n, "# why" if n % 2 else "a = 1") for n in range(1, 21)], "m.py", "s")
    assert long.src == "a = 1\n" * 10 and long.comments_left_out and long.too_big == []
    tall = runs.project([(n, "a = 1") for n in range(1, 16)], "m.py", "s")      # 15 lines of code
    with pytest.raises(SystemExit, match=r"m\.py lines 1-15: 15 lines of code on the slide 's'"):
        runs.stop_if_too_big(tall.too_big)
    # and the deck's engine code is never wrapped in the browser
    for sid, body, _ in _slides_with_notes():
        if sid.startswith("code-") and sid != "code-recursive":
            assert '<pre class="code"' in body and "code wrap" not in body, sid


def test_engine_code_too_tall_for_its_slide_stops_the_build():
    """Lines of mytorch.py within MAX_CODE_LINES can still be too many for the room their slide
    gives them (the freeing of the graph gets 230 px): at 28 px that stops the build. They are
    never shrunk (no comment is cut), and they take the slide's width, to which project holds them."""
    drawing = importlib.import_module("drawing")
    five = "a = 1  # as written\n" * 5
    assert drawing.code_block(five, max_h=230, as_written=True).count("# as written") == 5
    with pytest.raises(SystemExit, match=r"6 lines of mytorch\.py do not fit their slide \(230 px "
                                         r"high\) at 28 px"):
        drawing.code_block(five + "b = 2\n", max_h=230, as_written=True)
    with pytest.raises(ValueError, match="takes the slide's width"):
        drawing.code_block(five, max_w=900, as_written=True)


@needs_playwright
def test_a_code_line_of_code_chars_fits_at_28px(browser):
    """engine_runs.code_chars() characters at 28 px fit a code block across the slide; one more
    does not."""
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(deck_url("#1"))
    js = """n => {
      const s = document.querySelector('section.slide'), p = document.createElement('pre');
      p.className = 'code'; p.style.fontSize = '28px'; p.textContent = 'x'.repeat(n);
      s.appendChild(p);
      const over = p.scrollWidth > p.clientWidth;
      p.remove();
      return over; }"""
    assert page.evaluate(js, runs.code_chars()) is False
    assert page.evaluate(js, runs.code_chars() + 1) is True
    page.close()


@needs_chromium
def test_handout_prints_without_the_answers(tmp_path):
    """index.html?handout prints one page per slide, without the slides of worked solutions."""
    text = DECK.read_text(encoding="utf-8")
    answer_slides = len(re.findall(r'<section class="slide answers"', text))
    assert answer_slides == 2
    pdf = tmp_path / "handout.pdf"
    run_chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url=deck_url("?handout"))
    assert pdf.is_file(), "chromium wrote no PDF"
    assert pdf_page_count(pdf.read_bytes()) == len(slide_ids()) - answer_slides


@needs_playwright
def test_handout_has_no_answers_and_the_lecturers_print_has_them(browser):
    import html
    bodies = {sid: body for sid, body, _ in _slides_with_notes()}
    answers = [html.unescape(re.sub(r"<[^>]+>", "", a)) for a in
               re.findall(r'<span class="reveal" data-answer="1">(.*?)</span>', bodies["predict"])]
    assert len(answers) == 3
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.emulate_media(media="print")
    shown = "document.getElementById('stage').innerText"
    page.goto(deck_url("#1"))
    full = page.evaluate(shown)
    assert all(a in full for a in answers), "the lecturer's print lacks the exercise's answers"
    assert "Appendix: solutions 1\u20132" in full
    page.goto(deck_url("?handout#1"))
    handout = page.evaluate(shown)
    for a in answers + ["Appendix: solutions", "waiting: 1"]:
        assert a not in handout, f"the handout shows {a!r}"
    assert "Your turn: predict, then reveal" in handout and "Exercises" in handout
    assert page.evaluate("document.querySelectorAll('aside.notes').length") == 0
    n = page.evaluate("document.querySelectorAll('#stage section.slide').length")
    last = "#stage section.slide:last-child footer span:last-child"
    assert page.evaluate(f"document.querySelector('{last}').textContent") == f"{n} / {n}"
    # the example figures keep what they show, the waits ring included
    assert page.evaluate("!!document.querySelector('#example-2 g.ring')")
    page.close()
