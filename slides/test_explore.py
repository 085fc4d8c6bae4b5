"""Tests of slides/explore.py: the engine's walk for any small program, a page in the deck's style.

- input it cannot draw: exit code 2, one line on stderr, no file written; the program is never run
  as Python (a call to __import__ is refused, not made);
- the walk on the page is the engine's: the same deliveries, gradients and waits as a run of the
  same graph built by hand with mytorch, and gradients the calculus gives;
- the gradients are checked against torch.autograd, or central finite differences without torch;
- the overlap check of drawing.Svg refuses a layout whose boxes touch;
- a graph too deep for one row goes on in a second one;
- in Chromium (through Playwright): four pages (a leaf used three times, a dead-end branch, a leaf
  used twice by one op, a chain in two rows) stepped through key press by key press, measured at
  every step: text at least 28 px on the 1600x900 stage and 4.5:1 against its background, every
  figure stroke (and arrowhead and disc) 3:1 against what it is drawn on (as test_slides.py measures
  the deck), nothing outside the stage or over the footer, box texts inside their boxes, the step's
  words those of the engine's delivery, and at the end the engine's gradients; and the deck's keys.
  Skipped without Chromium or Playwright.
"""
import math
import os
import re
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402

HERE = Path(__file__).resolve().parent

import explore          # noqa: E402  (pytest puts slides/ on sys.path, as for test_slides.py)
import test_slides      # noqa: E402  (its Chromium, Playwright and text measurements)

runs = explore.engine_runs
fmt = runs.fmt


# --------------------------------------------------------------------------------------------------
# Input it cannot draw
# --------------------------------------------------------------------------------------------------
LONG_CHAIN = "x = 0.3; y = x" + ".exp().tanh()" * 7
EIGHT_LEAVES = "a=1; b=2; c=3; d=4; e=5; f=6; g=7; h=8; y = ((a+b) + (c+d)) + ((e+f) + (g+h))"
REFUSED = [
    ("a = 2; y = a *", "syntax error at line 1"),
    ("a = 2; y = a * c", "unknown name c (defined so far: a)"),
    ("import os", "only assignments"),
    ("a = 2; y = a.grad", "an attribute (.grad) is not allowed"),
    ("a = 2; y = a % 3", "the operator % is not allowed"),
    ("a = 2; y = a.exp(2)", ".exp() takes no arguments"),
    ("a = 2; y = a", "gives a a second name"),
    ("a = 2; y = a * 2; y = a * 3", "y is assigned twice"),
    ("a = 2; b = 3", "the last statement must compute the loss"),
    ("a = 2; b = a * 3; b * 2", "only assignments"),
    ("", "no program"),
    ("a = 2; y = a * (1 / 0)", "1 \u00f7 0 divides by zero"),
    ("a = 0; y = a.log()", "y = log(a) is -inf: no finite value to draw"),
    ("a = 1; y = a" + ".exp()" * 15, "16 nodes (leaves and ops)"),
    (LONG_CHAIN, "cannot lay out this graph on one slide: in one row, 15 levels side by side "
                 "are too wide; in 3 rows, 5 levels side by side are too wide; shorter names "
                 "make narrower boxes"),
    (EIGHT_LEAVES, "cannot lay out this graph on one slide: level 1 holds 8 nodes and edges"),
]


@pytest.mark.parametrize("program, says", REFUSED, ids=[s for _, s in REFUSED])
def test_input_it_cannot_draw_exits_2_with_one_line_and_no_file(program, says, tmp_path, capsys):
    out = tmp_path / "walk.html"
    assert explore.main([program, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("explore.py: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert says in err
    assert not out.exists()


def test_the_command_line_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "walk.html"
    cmd = [sys.executable, str(HERE / "explore.py"), "a = 2; y = a * c", "--out", str(out)]
    got = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert got.returncode == 2 and got.stdout == ""
    assert got.stderr == "explore.py: statement 2 (y = a * c): unknown name c (defined so far: a)\n"
    assert not out.exists()


def test_the_program_is_never_run_as_python(tmp_path, capsys):
    marker = tmp_path / "still-here"
    marker.write_text("")
    program = f"a = 2; y = a * __import__('os').remove({str(marker)!r})"
    assert explore.main([program, "--out", str(tmp_path / "walk.html")]) == 2
    assert "that call is not allowed" in capsys.readouterr().err
    assert marker.exists()


# --------------------------------------------------------------------------------------------------
# The walk is the engine's
# --------------------------------------------------------------------------------------------------
def leaf(mt, v):
    return mt.tensor(float(v), dtype=mt.float64, requires_grad=True)


def used_three_times(mt):
    a, b = leaf(mt, 2), leaf(mt, 3)
    p = a * b
    q = p + a
    return dict(a=a, b=b, p=p, q=q, y=q * a)


def dead_end_branch(mt):
    a, b, c = leaf(mt, 2), leaf(mt, -1), leaf(mt, 3)
    h = a * b
    return dict(a=a, b=b, c=c, h=h, side=h * 3, y=h * c)


def used_twice_by_one_op(mt):
    a, b = leaf(mt, 3), leaf(mt, 2)
    t1 = a * a
    return dict(a=a, b=b, t1=t1, y=t1 + b)


def deep_chain(mt):
    x = leaf(mt, 0.5)
    t1 = x.exp()
    t2 = t1.tanh()
    t3 = t2.exp()
    t4 = t3.tanh()
    return dict(x=x, t1=t1, t2=t2, t3=t3, t4=t4, y=t4.exp())


def deep_chain_grad(x):
    """d/dx exp(tanh(exp(tanh(exp(x))))), link by link."""
    t1 = math.exp(x)
    t2 = math.tanh(t1)
    t3 = math.exp(t2)
    t4 = math.tanh(t3)
    return math.exp(t4) * (1 - t4 ** 2) * t3 * (1 - t2 ** 2) * t1


# name: (program, the same graph built by hand, the leaves' gradients by calculus)
PAGES = {
    "a leaf used three times": ("a = 2; b = 3; p = a * b; q = p + a; y = q * a", used_three_times,
                                dict(a=2 * 2 * 3 + 2 * 2, b=2 * 2)),       # y = a²b + a²
    "a dead-end branch": ("a = 2; b = -1; c = 3; h = a * b; side = h * 3; y = h * c",
                          dead_end_branch, dict(a=-1 * 3, b=2 * 3, c=2 * -1)),   # y = abc
    "a leaf used twice by one op": ("a = 3; b = 2; y = a * a + b", used_twice_by_one_op,
                                    dict(a=2 * 3, b=1)),                        # y = a² + b
    "a chain in two rows": ("x = 0.5; t1 = x.exp(); t2 = t1.tanh(); t3 = t2.exp(); "
                            "t4 = t3.tanh(); y = t4.exp()", deep_chain,          # (two lines)
                            dict(x=deep_chain_grad(0.5))),
}


def by_hand(name):
    """The engine's walk of the page's graph, built by hand (not by explore.py's parser)."""
    program, build_graph, _ = PAGES[name]
    mt = runs.load_engine()
    names = build_graph(mt)
    return runs.Walk(mt, names, "y")


def delivered(walk):
    return [(d.sender, d.receiver, d.grad, d.waiting) for d in walk.deliveries]


@pytest.mark.parametrize("name", PAGES)
def test_the_walk_is_the_engines(name):
    program, _, calculus = PAGES[name]
    _, walk = explore.walk_program(explore.Program(program))
    hand = by_hand(name)
    assert delivered(walk) == delivered(hand)
    assert explore.leaf_grads(explore.Program(program), walk) == pytest.approx(calculus, 1e-12)
    # every edge on the path to y is walked once, and every node waits for all its consumers
    on_path = [k for k in hand.names if k in hand.grad and k != "y"]
    assert len(walk.deliveries) == sum(len(hand.inputs(k)) for k in ["y"] + on_path)
    for k in on_path:
        waits = [d.waiting for d in walk.deliveries if d.receiver == k]
        assert waits == list(range(len(waits) - 1, -1, -1)), (k, waits)


def test_the_walk_waits_where_a_leaf_is_used_twice_by_one_op():
    _, walk = explore.walk_program(explore.Program(PAGES["a leaf used twice by one op"][0]))
    assert walk.inputs("t1") == ["a", "a"]                    # two edges from one node
    into_a = [(d.sender, d.grad, d.waiting) for d in walk.deliveries if d.receiver == "a"]
    assert into_a == [("t1", 3.0, 1), ("t1", 3.0, 0)]         # b·g = a·1 on each edge, then 3 + 3
    program = explore.Program(PAGES["a leaf used twice by one op"][0])
    figure = explore.Figure(program, walk, explore.FIG_H_ONE_LINE)
    assert [figure.edge_of[d.n].slot for d in walk.deliveries if d.receiver == "a"] == [0, 1]


def test_a_dead_end_branch_is_drawn_but_never_walked():
    program = explore.Program(PAGES["a dead-end branch"][0])
    _, walk = explore.walk_program(program)
    assert "side" not in walk.grad and all("side" not in d[:2] for d in delivered(walk))
    figure = explore.Figure(program, walk, explore.FIG_H_ONE_LINE)
    assert figure.kind("side") == "dead"
    assert figure.lines["side"][2] == [(0, "off the path", "#444444", "normal")]


# --------------------------------------------------------------------------------------------------
# The check of the gradients
# --------------------------------------------------------------------------------------------------
def checked(program, how):
    mt = runs.load_engine()
    p = explore.Program(program)
    _, walk = explore.walk_program(p)
    return explore.check_gradients(mt, p, walk, how)


SMOOTH = "w = 0.5; x = 2; b = -0.3; z = w * x + b; y = z.sigmoid() * z.tanh() + (w ** 2).exp() / x"


def test_finite_differences_agree_with_the_engine():
    c = checked(SMOOTH, "differences")
    assert c.method == "central finite differences" and c.ok and c.bad == []
    assert 0 < c.max_diff < 1e-7


def test_finite_differences_disagree_at_a_kink():
    c = checked("a = 0; y = a.relu() + a", "differences")
    assert not c.ok and c.bad == ["a"]
    assert c.theirs["a"] == pytest.approx(1.5)        # (relu(h) - relu(-h)) / 2h = 1/2, plus 1


def test_without_torch_the_check_is_finite_differences(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)   # import torch now raises ImportError
    c = checked(SMOOTH, "auto")
    assert c.method == "central finite differences" and c.ok
    with pytest.raises(explore.ExploreError, match="torch cannot be imported"):
        checked(SMOOTH, "torch")


def test_with_torch_the_check_is_torch_autograd():
    pytest.importorskip("torch")
    c = checked(SMOOTH, "auto")
    assert c.method == "torch.autograd" and c.ok and c.max_diff < 1e-12
    dead = checked(PAGES["a dead-end branch"][0] + "; z = 7; y2 = y * 2", "torch")
    assert dead.ok and dead.theirs["z"] is None        # a leaf off the path: None in both


# --------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PAGES)
def test_the_page_has_a_step_per_delivery_and_the_result(name):
    html, program, walk, check = explore.make_page(PAGES[name][0])
    steps = {int(s) for s in re.findall(r'data-step="(\d+)"', html)}
    assert max(steps) == len(walk.deliveries) + 1           # the last key press: the result
    for d in walk.deliveries:
        assert f"{d.sender} \u2192 {d.receiver} sends {fmt(d.grad)}</text>" in html
    assert f"\u2714 checked with {check.method}: the same (" in html
    assert not re.search(r"https?:|url\(|<(link|img|iframe)\b|\b(src|href)\s*=", html)


def test_a_deep_graph_goes_on_in_a_second_row():
    program = explore.Program(PAGES["a chain in two rows"][0])
    _, walk = explore.walk_program(program)
    lay = explore.Figure(program, walk, explore.FIG_H_ONE_LINE).lay
    assert lay.per == 3 and [lay.row(k) for k in program.labels] == [0, 0, 0, 1, 1, 1]
    boxes = [lay.boxes[k] for k in program.labels]
    assert boxes[3][1] > boxes[2][3] + explore.ROW_GAP           # t3 under t2, the gutter between
    assert boxes[3][0] < boxes[2][0]                               # and back at the left
    t2_to_t3 = lay.points[2]                                       # right, down, left, down, in
    assert len(t2_to_t3) == 6 and t2_to_t3[1][0] > boxes[2][2] and t2_to_t3[4][0] < boxes[3][0]


def test_the_heading_is_the_program():
    """The program over the graph, in lines of HEAD_CHARS at most, a long statement broken at its
    spaces; if the graph needs the room, one line cut short (every statement is in its box)."""
    statements = ["a = 2", "b = -1", "y = " + " + ".join(["a * b"] * 14)]
    lines = explore.heading_lines(statements)
    assert len(lines) == 3 and all(len(ln) <= explore.HEAD_CHARS for ln in lines)
    assert lines[0].startswith("a = 2; b = -1;") and " ".join(lines[1:]) == statements[2]
    program = "a = 0.5; b = 0.25; y = ((a * b).exp() + (a * b).tanh()) + ((a + b).sigmoid() + " \
              "a.relu())"
    assert len(explore.heading_lines(explore.Program(program).statements)) == 2
    html = explore.make_page(program)[0]
    head = re.search(r"<h2>(.*?)</h2>", html).group(1)
    assert head == f"<code>{program[:explore.HEAD_CHARS - 1].rstrip()}\u2026</code>"


def test_a_figure_that_overlaps_under_a_longer_heading_gets_a_one_line_heading(monkeypatch):
    """The overlap check is part of laying out: a figure that fails it under a heading of two lines
    is drawn again under one line cut short, with the room the other line took."""
    program = "alpha = 2; beta = 3; gamma = alpha * beta; delta = gamma + alpha; y = delta * beta"
    assert len(explore.heading_lines(explore.Program(program).statements)) == 2
    heights, check_every_step = [], explore.Figure.check_every_step

    def overlaps_unless_tall(figure):
        heights.append(figure.svg.h)
        if figure.svg.h < explore.FIG_H_ONE_LINE:
            raise explore.ExploreError("cannot lay out this graph without overlaps: (as if)")
        check_every_step(figure)
    monkeypatch.setattr(explore.Figure, "check_every_step", overlaps_unless_tall)
    html = explore.make_page(program)[0]
    assert heights == [explore.FIG_H_ONE_LINE - explore.HEAD_LINE, explore.FIG_H_ONE_LINE]
    head = re.search(r"<h2>(.*?)</h2>", html).group(1)
    assert head == f"<code>{program[:explore.HEAD_CHARS - 1].rstrip()}\u2026</code>"


def test_overlapping_boxes_are_refused(monkeypatch):
    """The layout is checked by drawing.Svg.collisions: boxes pushed into each other fail it."""
    monkeypatch.setattr(explore, "GAP_Y", -40)
    with pytest.raises(explore.ExploreError, match="without overlaps: node .* covers node"):
        explore.make_page(PAGES["a leaf used three times"][0])


# --------------------------------------------------------------------------------------------------
# In Chromium: every step of four pages, measured
# --------------------------------------------------------------------------------------------------
needs_playwright = test_slides.needs_playwright

BOXES_JS = r"""
() => {
  // what the boxes and the panel show now: every visible text of each box (and whether it fits in
  // the box), the panel's lines
  const shown = e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden';
  const boxes = {};
  document.querySelectorAll('g.box').forEach(g => {
    const r = g.querySelector('rect').getBBox();
    boxes[g.dataset.node] = Array.from(g.querySelectorAll('text')).filter(shown).map(t => {
      const b = t.getBBox();
      const fits = b.x >= r.x + 2 && b.x + b.width <= r.x + r.width - 2 &&
                   b.y >= r.y && b.y + b.height <= r.y + r.height;
      return {text: t.textContent, colour: getComputedStyle(t).fill, fits: fits};
    });
  });
  const panel = Array.from(document.querySelectorAll('text.panel')).filter(shown)
    .map(t => t.textContent);
  return {boxes: boxes, panel: panel, hash: location.hash};
}
"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The four pages, written by the command line (the second one checked with finite
    differences, as where torch is not installed)."""
    out = tmp_path_factory.mktemp("explore")
    made = {}
    for n, name in enumerate(PAGES):
        path = out / f"walk{n}.html"
        check = "differences" if n == 1 else "auto"
        assert explore.main([PAGES[name][0], "--out", str(path), "--check", check]) == 0
        made[name] = path
    return made


browser = test_slides.browser        # the fixture: one Chromium for this file's tests


def measure(page, at):
    """Problems on the stage now: text size and contrast, figure marks (strokes, arrowheads, discs)
    against what they are drawn on, spills, box texts."""
    got = page.evaluate(test_slides.MEASURE_JS)
    problems = [f"{at}: {t['size']:.1f}px {t['text']!r}" for t in got["texts"]
                if t["size"] < test_slides.MIN_PX - 0.05]
    problems += [f"{at}: text {t['contrast']:.2f}:1 {t['text']!r}" for t in got["texts"]
                 if t["contrast"] < test_slides.MIN_CONTRAST]
    problems += [f"{at}: {s}" for s in got["spill"] + got["outside"]]
    problems += [f"{at}: a figure's mark {m['what']} {m['contrast']:.2f}:1" for m in got["marks"]
                 if m["contrast"] < test_slides.MIN_MARK_CONTRAST]
    shown = page.evaluate(BOXES_JS)
    problems += [f"{at}: {t['text']!r} sticks out of the box of {k}"
                 for k, texts in shown["boxes"].items() for t in texts if not t["fits"]]
    return problems, shown


RED = "rgb(179, 38, 30)"     # drawing.WAIT


def running_total(walk, k, n):
    """What the box of k says at step n: the loss 1, else the total after the deliveries so far;
    and whether it is red (the node waits for more)."""
    if k == "y":
        return "grad 1", False
    got = [d for d in walk.deliveries if d.receiver == k and d.n <= n]
    if k not in walk.grad:
        return "off the path", False
    if not got:
        return "grad ?", False
    return f"grad {fmt(got[-1].total)}", got[-1].waiting > 0


@needs_playwright
@pytest.mark.parametrize("name", PAGES)
def test_every_step_is_the_engines_and_legible(browser, pages, name):
    hand = by_hand(name)
    steps = len(hand.deliveries) + 1
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(pages[name].resolve().as_uri())
    problems = []
    for n in range(steps + 1):
        found, shown = measure(page, f"{name}, step {n}")
        problems += found
        assert shown["hash"] == ("#1" if n == 0 else f"#1.{n}")
        for k, texts in shown["boxes"].items():           # each node's running total
            said, waits = running_total(hand, k, n)
            assert texts[-1]["text"] == said and (texts[-1]["colour"] == RED) == waits, (n, k)
        if 1 <= n < steps:                                  # the delivery, in the engine's words
            d = hand.deliveries[n - 1]
            assert f"{d.sender} \u2192 {d.receiver} sends {fmt(d.grad)}" in shown["panel"]
            assert f"step {n} of {steps - 1}" in shown["panel"]
        page.keyboard.press("ArrowRight" if n % 2 else " ")
    assert not problems, "\n".join(problems)
    # the end: the check passed, and the gradients shown are the engine's
    text = " ".join(shown["panel"])
    methods = "(torch.autograd|central finite differences)"
    assert re.match(r"\u2714 checked with " + methods + ": the same", text)
    shown_grads = dict(re.findall(r"(\w+)\.grad = (\S+?),? ", text + " "))
    engine = {k: fmt(runs.number(t.grad)) for k, t in hand.names.items()
              if not hand.inputs(k) and t.grad is not None}
    assert shown_grads == engine
    assert engine == {k: fmt(v) for k, v in PAGES[name][2].items()}
    page.close()


@needs_playwright
def test_the_decks_keys_move_through_the_walk(browser, pages):
    name = "a leaf used three times"
    last = len(by_hand(name).deliveries) + 1
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(pages[name].resolve().as_uri())
    for key, hash_after in (("End", f"#1.{last}"), ("ArrowLeft", f"#1.{last - 1}"),
                            ("Home", "#1"), ("PageDown", "#1.1"), ("Backspace", "#1")):
        page.keyboard.press(key)
        assert page.evaluate("location.hash") == hash_after, key
    page.keyboard.press("f")
    page.wait_for_function("!!document.fullscreenElement")
    page.close()


@needs_playwright
def test_keys_in_a_page_leave_the_deck_open_beside_it_alone(browser, pages):
    """The deck and these pages keep their windows in step through a BroadcastChannel; each page
    has its own, so a key in walk.html does not move the deck open in another tab."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    deck = ctx.new_page()
    deck.goto(test_slides.deck_url("#12"))
    walk = ctx.new_page()
    walk.goto(pages["a dead-end branch"].resolve().as_uri())
    for key in ("ArrowRight", "End", "Home"):
        walk.keyboard.press(key)
    deck.keyboard.press("ArrowRight")
    walk.wait_for_timeout(300)           # what a message would take to arrive (it takes < 10 ms)
    assert walk.evaluate("location.hash") == "#1"
    assert deck.evaluate("location.hash") in ("#12.1", "#13")
    ctx.close()
