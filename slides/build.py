#!/usr/bin/env python3
"""Build the MyTorch lecture deck: slides/index.html and slides/figures/*.svg.

    python slides/build.py              # rebuild the deck in slides/
    python slides/build.py --check      # exit 1 if the files in slides/ are stale
    python slides/build.py --out DIR    # build into another folder (the tests use this)

Every number, colour and step order in the example figures comes from a real run of the engine:
the script imports ../mytorch.py, builds the example graphs, calls ``loss.backward(trace=...)`` and
draws what the engine reported (who sent which gradient to whom, in which order, and who had to
wait). The code slides are cut out of mytorch.py with ``inspect``/``ast`` at build time, so they
cannot drift from the engine. Only numpy and the standard library are needed. The output is
deterministic: rebuilding from the same mytorch.py gives byte-identical files.
"""
import argparse
import ast
import collections
import filecmp
import html
import importlib
import inspect
import io
import keyword
import os
import sys
import tempfile
import textwrap
import tokenize
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# =====================================================================================================
# MNIST_RESULT: the output of a real run of train_mnist.py on MNIST, pasted here by hand (a run takes a
# data set and ~15 s, too much for every build). After a new run, paste it again and rebuild.
# While it is None the "training result" slide shows a clearly marked placeholder.
MNIST_RESULT = """\
MNIST: 60000 training / 10000 test images; MLP 784-128-64-32-10 (sigmoid); SGD lr 0.1 momentum 0.9, batch 64, seed 0
epoch  1/12  train loss 1.8332  test accuracy 71.28%  0.73 s  (data loading 14%)
epoch  2/12  train loss 0.4417  test accuracy 92.63%  0.78 s  (data loading 13%)
epoch  3/12  train loss 0.2055  test accuracy 94.75%  0.79 s  (data loading 13%)
epoch  4/12  train loss 0.1424  test accuracy 95.92%  0.80 s  (data loading 13%)
epoch  5/12  train loss 0.1107  test accuracy 96.71%  0.81 s  (data loading 13%)
epoch  6/12  train loss 0.0934  test accuracy 96.66%  0.78 s  (data loading 13%)
epoch  7/12  train loss 0.0765  test accuracy 97.13%  0.79 s  (data loading 13%)
epoch  8/12  train loss 0.0649  test accuracy 97.48%  0.75 s  (data loading 13%)
epoch  9/12  train loss 0.0561  test accuracy 97.29%  0.83 s  (data loading 13%)
epoch 10/12  train loss 0.0485  test accuracy 97.65%  0.80 s  (data loading 13%)
epoch 11/12  train loss 0.0427  test accuracy 97.22%  0.79 s  (data loading 13%)
epoch 12/12  train loss 0.0374  test accuracy 97.46%  0.82 s  (data loading 12%)
final test accuracy: 97.46% (12 epochs, 9.8 s)
"""
# The command line that produced MNIST_RESULT (shown on the slide under the output).
MNIST_RESULT_COMMAND = "python train_mnist.py"
# =====================================================================================================

DECK_TITLE = "MyTorch: autograd from scratch"
W, H = 1600, 900  # slide size in CSS px (16:9)

# One colour per path of the walk (colour, text colour on it). Okabe-Ito-like, readable on white.
PATH_COLOURS = [
    ("#0A6FC2", "#ffffff"),  # blue
    ("#8A3FC7", "#ffffff"),  # purple
    ("#F0A500", "#111111"),  # amber
    ("#0E9F6E", "#ffffff"),  # green
    ("#D6337F", "#ffffff"),  # pink
    ("#D55E00", "#ffffff"),  # vermillion
    ("#008B8B", "#ffffff"),  # teal
]
INK = "#111111"
MUTED = "#5b6475"
SANS = "'DejaVu Sans', 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
MONO = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"
OP_SYMBOL = {"add": "+", "sub": "\u2212", "mul": "\u00d7", "div": "\u00f7", "neg": "\u2212",
             "exp": "exp", "log": "log", "pow": "**", "matmul": "@", "sum": "\u03a3", "mean": "mean",
             "sigmoid": "\u03c3"}


# ----------------------------------------------------------------------------------------------------
# The engine
# ----------------------------------------------------------------------------------------------------
def load_engine():
    """Import mytorch.py from the repo root."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        return importlib.import_module("mytorch")
    except ImportError as exc:
        raise SystemExit(f"build.py: cannot import mytorch from {REPO}: {exc}")


def fmt(v):
    """Fixed, short formatting of a number, with a real minus sign."""
    v = float(np.asarray(v, dtype=np.float64).reshape(-1)[0])
    if abs(v) < 5e-13:
        v = 0.0
    if abs(v - round(v)) < 1e-9 and abs(v) < 1e6:
        s = str(int(round(v)))
    else:
        s = f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) >= 1e-3 else f"{v:.3e}"
    return s.replace("-", "\u2212")


Delivery = collections.namedtuple(
    "Delivery", "n sender receiver grad waiting path complete total nth")


class Walk:
    """A run of loss.backward(trace=...) on a small named graph, in the engine's own order."""

    def __init__(self, mytorch, names, loss_name):
        self.names = dict(names)                       # label -> Tensor
        self.label = {id(t): k for k, t in self.names.items()}
        self.loss_name = loss_name
        loss = self.names[loss_name]
        raw = []
        loss.backward(trace=raw.append)
        self.deliveries = []
        got = collections.defaultdict(list)            # label -> grads received so far
        path = -1
        for i, st in enumerate(raw):
            s, r = self._lab(st.sender), self._lab(st.receiver)
            g = float(np.asarray(st.grad, dtype=np.float64).reshape(-1)[0])
            prev = self.deliveries[-1] if self.deliveries else None
            # A path goes on while the walk descends (the sender is the node that was just completed)
            # through a node that had only one gradient to collect; anything else starts a new path.
            if prev is None or not (prev.receiver == s and len(got[s]) == 1):
                path += 1
            got[r].append(g)
            waiting = int(st.waiting)
            self.deliveries.append(Delivery(i + 1, s, r, g, waiting, path, waiting == 0,
                                            sum(got[r]), len(got[r])))
        self.npaths = path + 1
        self.grad = {}
        for d in self.deliveries:
            if d.complete:
                self.grad[d.receiver] = d.total
        seed = 1.0
        self.grad[loss_name] = seed
        for k, t in self.names.items():  # leaves: the engine's own .grad must agree with the walk
            if k in self.grad and not getattr(t, "_edges", ()) and t.grad is not None:
                if abs(float(np.asarray(t.grad).reshape(-1)[0]) - self.grad[k]) > 1e-9:
                    raise SystemExit(f"build.py: {k}.grad disagrees with the traced walk")
        self.complete_step = {d.receiver: d for d in self.deliveries if d.complete}

    def _lab(self, t):
        try:
            return self.label[id(t)]
        except KeyError:
            raise SystemExit("build.py: the engine delivered a gradient to a tensor the example "
                             "did not name (a constant?); name it in the example or adapt build.py")

    def value(self, k):
        return float(np.asarray(self.names[k].data, dtype=np.float64).reshape(-1)[0])

    def inputs(self, k):
        """Named inputs of node k, from the graph the engine recorded (t._edges)."""
        out = []
        for edge in getattr(self.names[k], "_edges", ()) or ():
            t = edge[0]
            if id(t) in self.label:
                out.append(self.label[id(t)])
        return out

    def op(self, k):
        return getattr(self.names[k], "_op", None)


def T(mytorch, v):
    return mytorch.Tensor(np.array(float(v), dtype=np.float64), requires_grad=True)


def example1(mt):
    a, b, c, d = (T(mt, v) for v in (2, -1, 3, 4))
    p = a + b
    q = c + d
    y = p * q
    return Walk(mt, dict(a=a, b=b, c=c, d=d, p=p, q=q, y=y), "y")


def example2(mt):
    a, b, c, d = (T(mt, v) for v in (2, -1, 3, 4))
    h = a + b
    m1 = c * h
    m2 = h * d
    y = m1 + m2
    return Walk(mt, dict(a=a, b=b, c=c, d=d, h=h, m1=m1, m2=m2, y=y), "y")


def example3(mt):
    a, b, c = (T(mt, v) for v in (2, -1, 3))
    h = a * b
    side = h * 3          # computed for logging only: never reaches y
    y = h * c
    w = Walk(mt, dict(a=a, b=b, c=c, h=h, side=side, y=y), "y")
    # What a naive engine would count: every tensor we built that uses h, reachable from y or not.
    w.naive_consumers = {k: [n for n in w.names if k in w.inputs(n)] for k in w.names}
    return w


def sigmoid_chain(mt):
    x = T(mt, 1)
    n = -x
    a = n.exp()
    b = 1 + a
    s = 1 / b
    return Walk(mt, {"x": x, "n": n, "a": a, "b": b, "\u03c3": s}, "\u03c3")


def exercise_graph(mt):
    a, b, c = (T(mt, v) for v in (2, -1, 3))
    h = a * b
    k = h + c
    y = k * h
    return Walk(mt, dict(a=a, b=b, c=c, h=h, k=k, y=y), "y")


# ----------------------------------------------------------------------------------------------------
# SVG drawing
# ----------------------------------------------------------------------------------------------------
def esc(s):
    return html.escape(str(s), quote=True)


def n2(v):
    """Coordinates: fixed formatting (deterministic, compact)."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


class Svg:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=26, fill=INK, weight="normal", anchor="middle", family=None,
             extra=""):
        fam = f' font-family="{family}"' if family else ""
        self.add(f'<text x="{n2(x)}" y="{n2(y)}" font-size="{size}" fill="{fill}" '
                 f'font-weight="{weight}" text-anchor="{anchor}"{fam}{extra}>{esc(s)}</text>')

    def render(self, title):
        body = "\n".join(self.parts)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {self.h}" '
                f'width="{self.w}" height="{self.h}" font-family="{SANS}" role="img" '
                f'aria-label="{esc(title)}">\n<title>{esc(title)}</title>\n'
                f'<rect width="{self.w}" height="{self.h}" fill="#ffffff"/>\n{body}\n</svg>\n')


def text_w(s, size, bold=False):
    """Rough width of a text run in DejaVu Sans (good enough to size pills and boxes)."""
    return len(str(s)) * size * (0.64 if bold else 0.6)


def pill(svg, x, y, s, colour, size=24, anchor="middle", text_colour=INK, fill="#ffffff"):
    w = text_w(s, size, True) + 22
    h = size + 16
    x0 = x - w / 2 if anchor == "middle" else (x if anchor == "start" else x - w)
    svg.add(f'<rect x="{n2(x0)}" y="{n2(y - h / 2)}" width="{n2(w)}" height="{n2(h)}" rx="{n2(h / 2)}" '
            f'fill="{fill}" stroke="{colour}" stroke-width="4"/>')
    svg.text(x0 + w / 2, y + size * 0.36, s, size, text_colour, "bold")
    return w


def disc(svg, x, y, num, colour, text_colour, r=21):
    svg.add(f'<circle cx="{n2(x)}" cy="{n2(y)}" r="{r}" fill="{colour}" stroke="#ffffff" stroke-width="3"/>')
    svg.text(x, y + 9, str(num), 25, text_colour, "bold")


def arrow(svg, x1, y1, x2, y2, colour, width=8, dash=None, head=22):
    dx, dy = x2 - x1, y2 - y1
    L = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    ux, uy = dx / L, dy / L
    bx, by = x2 - ux * head, y2 - uy * head
    d = f' stroke-dasharray="{dash}"' if dash else ""
    svg.add(f'<line x1="{n2(x1)}" y1="{n2(y1)}" x2="{n2(bx + ux * 2)}" y2="{n2(by + uy * 2)}" '
            f'stroke="{colour}" stroke-width="{width}" stroke-linecap="round"{d}/>')
    px, py = -uy, ux
    hw = head * 0.62
    svg.add(f'<polygon points="{n2(x2)},{n2(y2)} {n2(bx + px * hw)},{n2(by + py * hw)} '
            f'{n2(bx - px * hw)},{n2(by - py * hw)}" fill="{colour}"/>')


NODE_R = 50
OP_R = 25
OP_GAP = 92  # distance from an op badge to the centre of the node it produces


def node_style(kind):
    return {
        "leaf": ("#FFE6D5", "#E0662B", INK),
        "inner": ("#EAF0F8", "#41526E", INK),
        "loss": ("#FFF4CC", "#B08900", INK),
        "barrier": ("#D9E8FF", "#1F63C6", INK),
        "dead": ("#F3F3F3", "#9A9A9A", "#555555"),
    }[kind]


def draw_graph(svg, walk, layout, show_walk=True, opt=None):
    """Draw the recorded graph (forward edges, ops, values) and, optionally, the traced walk.

    layout: label -> dict(x, y, kind, glabel=(dx, dy) for the "grad" pill, op=override symbol)
    """
    opt = opt or {}
    pos = {k: (v["x"], v["y"]) for k, v in layout.items()}
    opc = {}
    # forward edges and op badges
    for k, spec in layout.items():
        ins = walk.inputs(k)
        if not ins and k not in opt.get("force_op", ()):
            continue
        x, y = pos[k]
        ox, oy = x - OP_GAP, y
        opc[k] = (ox, oy)
        dead = spec.get("kind") == "dead"
        col = "#9A9A9A" if dead else "#3a3a3a"
        dash = ' stroke-dasharray="10 8"' if dead else ""
        for i in ins:
            ix, iy = pos[i]
            dx, dy = ox - ix, oy - iy
            L = (dx * dx + dy * dy) ** 0.5
            ux, uy = dx / L, dy / L
            sx, sy = ix + ux * NODE_R, iy + uy * NODE_R
            ex, ey = ox - ux * (OP_R + 2), oy - uy * (OP_R + 2)
            svg.add(f'<line x1="{n2(sx)}" y1="{n2(sy)}" x2="{n2(ex - ux * 9)}" y2="{n2(ey - uy * 9)}" '
                    f'stroke="{col}" stroke-width="3"{dash}/>')
            svg.add(f'<polygon points="{n2(ex)},{n2(ey)} {n2(ex - ux * 13 - uy * 6)},{n2(ey - uy * 13 + ux * 6)} '
                    f'{n2(ex - ux * 13 + uy * 6)},{n2(ey - uy * 13 - ux * 6)}" fill="{col}"/>')
        svg.add(f'<line x1="{n2(ox + OP_R)}" y1="{n2(oy)}" x2="{n2(x - NODE_R - 10)}" y2="{n2(y)}" '
                f'stroke="{col}" stroke-width="3"{dash}/>')
        svg.add(f'<polygon points="{n2(x - NODE_R)},{n2(y)} {n2(x - NODE_R - 13)},{n2(y - 6)} '
                f'{n2(x - NODE_R - 13)},{n2(y + 6)}" fill="{col}"/>')
        sym = spec.get("op") or OP_SYMBOL.get(walk.op(k), walk.op(k) or "?")
        svg.add(f'<circle cx="{n2(ox)}" cy="{n2(oy)}" r="{OP_R}" fill="#ffffff" stroke="{col}" '
                f'stroke-width="3"{dash}/>')
        size = 30 if len(sym) == 1 else (19 if len(sym) <= 3 else 15)
        svg.text(ox, oy + size * 0.36, sym, size, "#555555" if dead else INK, "bold")
    # the walk: one coloured arrow per delivery, from the op that produced the sender to the receiver
    if show_walk:
        for d in walk.deliveries:
            colour, tcol = PATH_COLOURS[d.path % len(PATH_COLOURS)]
            ox, oy = opc[d.sender]
            rx, ry = pos[d.receiver]
            dx, dy = rx - ox, ry - oy
            L = (dx * dx + dy * dy) ** 0.5
            ux, uy = dx / L, dy / L
            nx, ny = uy, -ux          # normal on the left of the backward direction
            side = layout[d.receiver].get("side", {}).get(d.sender, 1)
            off = 17 * side
            x1, y1 = ox + ux * (OP_R + 8) + nx * off, oy + uy * (OP_R + 8) + ny * off
            x2, y2 = rx - ux * (NODE_R + 8) + nx * off, ry - uy * (NODE_R + 8) + ny * off
            g = f'<g data-step="{d.n}">'
            svg.add(g)
            arrow(svg, x1, y1, x2, y2, colour)
            t = layout[d.receiver].get("t", {}).get(d.sender, 0.5)
            mx, my = x1 + (x2 - x1) * t + nx * 30 * side, y1 + (y2 - y1) * t + ny * 30 * side
            if opt.get("edge_label", "full") == "full":
                label = fmt(d.grad)
                pw = text_w(label, 24, True) + 22
                disc(svg, mx - pw / 2 - 16, my, d.n, colour, tcol)
                pill(svg, mx + 8, my, label, colour)
            else:
                disc(svg, mx, my, d.n, colour, tcol)
            svg.add("</g>")
    # nodes
    for k, spec in layout.items():
        x, y = pos[k]
        fill, stroke, tcol = node_style(spec.get("kind", "inner"))
        dash = ' stroke-dasharray="9 6"' if spec.get("kind") == "dead" else ""
        svg.add(f'<circle cx="{n2(x)}" cy="{n2(y)}" r="{NODE_R}" fill="{fill}" stroke="{stroke}" '
                f'stroke-width="4"{dash}/>')
        name = spec.get("name", k)
        svg.text(x, y - 4, name, 30 if len(name) <= 2 else 24, tcol, "bold")
        val = fmt(walk.value(k))
        svg.text(x, y + 30, val, 25 if len(val) <= 4 else 20, tcol)
    # gradients held by nodes once complete
    if show_walk:
        for k, spec in layout.items():
            if "glabel" not in spec or k not in walk.grad:
                continue
            gx, gy = pos[k][0] + spec["glabel"][0], pos[k][1] + spec["glabel"][1]
            if k == walk.loss_name:
                pill(svg, gx, gy, f"grad {fmt(walk.grad[k])}", "#B08900", 22)
                continue
            d = walk.complete_step[k]
            colour = PATH_COLOURS[d.path % len(PATH_COLOURS)][0]
            parts = _got(walk, d)
            s = f"grad {fmt(walk.grad[k])}" if len(parts) == 1 else \
                f"grad {' + '.join(fmt(g) for g in parts)} = {fmt(walk.grad[k])}"
            svg.add(f'<g data-step="{d.n}">')
            pill(svg, gx, gy, s, colour, 22, fill="#F7F7F7")
            svg.add("</g>")


def walk_rows(walk, mark=None):
    """Rows for the step list: (delivery, note)."""
    rows = []
    for d in walk.deliveries:
        if d.waiting > 0:
            note = f"{d.receiver} has {d.nth}, waits for {d.waiting} more"
        elif d.nth > 1:
            note = f"{d.receiver} complete: {' + '.join(fmt(g) for g in _got(walk, d))} = {fmt(d.total)}, goes on"
        else:
            note = ""
        rows.append((d, note))
    return rows


def _got(walk, d):
    return [e.grad for e in walk.deliveries if e.receiver == d.receiver and e.n <= d.n]


def draw_step_list(svg, walk, x, y, width, title="the engine's walk", row_h=50, note_h=32):
    svg.text(x, y, title, 26, MUTED, "bold", "start")
    y += 46
    svg.text(x + 4, y, f"start: grad {walk.loss_name} = 1", 24, INK, "normal", "start")
    y += 40
    svg.text(x + 36, y, "step", 19, MUTED, "normal", "middle")
    svg.text(x + 66, y, "edge", 19, MUTED, "normal", "start")
    svg.text(x + 215, y, "gradient sent", 19, MUTED, "normal", "start")
    y -= 8
    for d, note in walk_rows(walk):
        y += row_h
        h = row_h - 8 + (note_h if note else 0)
        colour, tcol = PATH_COLOURS[d.path % len(PATH_COLOURS)]
        svg.add(f'<g data-step="{d.n}">')
        svg.add(f'<rect x="{n2(x)}" y="{n2(y - 30)}" width="{n2(width)}" height="{h}" rx="8" '
                f'fill="{colour}" fill-opacity="0.10"/>')
        svg.add(f'<rect x="{n2(x)}" y="{n2(y - 30)}" width="8" height="{h}" fill="{colour}"/>')
        disc(svg, x + 36, y - 8, d.n, colour, tcol, r=19)
        svg.text(x + 66, y, f"{d.sender} \u2192 {d.receiver}", 25, INK, "bold", "start")
        svg.text(x + 215, y, fmt(d.grad), 25, INK, "normal", "start")
        if note:
            wait = d.waiting > 0
            svg.text(x + 66, y + note_h, note, 22, "#B3261E" if wait else "#1B6E3A", "bold", "start")
            y += note_h
        svg.add("</g>")
    return y


def figure_example(walk, layout, title, width=1520, height=640, list_x=1040, callouts=(),
                   list_title="the engine's walk"):
    svg = Svg(width, height)
    for c in callouts:
        c(svg)
    draw_graph(svg, walk, layout)
    draw_step_list(svg, walk, list_x, 40, width - list_x - 10, list_title)
    return svg.render(title)


# ----------------------------------------------------------------------------------------------------
# The figures
# ----------------------------------------------------------------------------------------------------
def fig_example1(w):
    layout = {
        "a": dict(x=190, y=95, kind="leaf", glabel=(-126, 0)),
        "b": dict(x=190, y=265, kind="leaf", glabel=(-126, 0)),
        "c": dict(x=190, y=405, kind="leaf", glabel=(-126, 0)),
        "d": dict(x=190, y=575, kind="leaf", glabel=(-126, 0)),
        "p": dict(x=580, y=180, kind="inner", glabel=(0, -84)),
        "q": dict(x=580, y=490, kind="inner", glabel=(0, 84)),
        "y": dict(x=940, y=335, kind="loss", glabel=(0, -84)),
    }
    return figure_example(w, layout, "Example 1: the depth-first walk through y = (a + b) \u00b7 (c + d)")


def fig_example2(w):
    layout = {
        "a": dict(x=95, y=165, kind="leaf", glabel=(0, -82)),
        "b": dict(x=95, y=520, kind="leaf", glabel=(0, 82)),
        "h": dict(x=340, y=345, kind="barrier"),
        "c": dict(x=580, y=75, kind="leaf", glabel=(140, 0)),
        "d": dict(x=580, y=588, kind="leaf", glabel=(150, 22)),
        "m1": dict(x=780, y=210, kind="inner"),
        "m2": dict(x=780, y=480, kind="inner"),
        "y": dict(x=985, y=345, kind="loss", glabel=(0, -84)),
    }
    waits = [d for d in w.deliveries if d.waiting > 0]

    def barrier(svg):
        if not waits:
            return
        first = waits[0]
        k = first.receiver
        done = w.complete_step[k]
        x, y = layout[k]["x"], layout[k]["y"]
        # while h waits: a red dashed ring (on screen only, until the last gradient arrives)
        svg.add(f'<g data-step="{first.n}" data-until="{done.n}">')
        svg.add(f'<circle cx="{x}" cy="{y}" r="{NODE_R + 16}" fill="none" stroke="#B3261E" '
                f'stroke-width="5" stroke-dasharray="12 8"/>')
        svg.add("</g>")
        # the record of the wait, and of the release, in a callout above h
        bx, by, bw = 165, 16, 350
        arrivals = [d for d in w.deliveries if d.receiver == k]
        bh = 24 + 46 * len(arrivals)
        svg.add(f'<g data-step="{first.n}">')
        svg.add(f'<line x1="{x}" y1="{by + bh}" x2="{x}" y2="{y - NODE_R - 18}" stroke="#B3261E" '
                f'stroke-width="3" stroke-dasharray="6 5"/>')
        svg.add(f'<rect x="{bx}" y="{by}" width="{bw}" height="{bh}" rx="10" fill="#FFF6F5" '
                f'stroke="#B3261E" stroke-width="3"/>')
        svg.add("</g>")
        for i, d in enumerate(arrivals):
            colour, tcol = PATH_COLOURS[d.path % len(PATH_COLOURS)]
            ty = by + 40 + 46 * i
            svg.add(f'<g data-step="{d.n}">')
            disc(svg, bx + 30, ty, d.n, colour, tcol, r=18)
            if d.waiting > 0:
                msg, col = f"{k} has {fmt(d.total)}: waits", "#B3261E"
            else:
                msg, col = f"{' + '.join(fmt(g) for g in _got(w, d))} = {fmt(d.total)}: goes on", "#1B6E3A"
            svg.text(bx + 60, ty + 8, msg, 25, col, "bold", "start")
            svg.add("</g>")

    return figure_example(w, layout, "Example 2: h has two consumers and waits for both",
                          height=650, callouts=[barrier])


def fig_example3(w):
    layout = {
        "a": dict(x=120, y=150, kind="leaf", glabel=(0, -82)),
        "b": dict(x=120, y=440, kind="leaf", glabel=(0, 82)),
        "h": dict(x=470, y=295, kind="inner", glabel=(-8, -88), t={"y": 0.42}),
        "c": dict(x=560, y=560, kind="leaf", glabel=(140, 0)),
        "y": dict(x=880, y=400, kind="loss", glabel=(0, -84)),
        "side": dict(x=880, y=110, kind="dead", op="\u00d73"),
    }
    svg = Svg(1520, 640)
    draw_graph(svg, w, layout)
    svg.text(880, 195, "for logging only", 22, "#555555", "normal")
    svg.text(880, 222, "never reaches y", 22, "#555555", "normal")
    y = draw_step_list(svg, w, 1030, 40, 480, "the engine's walk")
    naive = w.naive_consumers["h"]
    counted = sum(1 for d in w.deliveries if d.receiver == "h")
    y += 60
    svg.text(1030, y, f"h has {len(naive)} consumers in the program", 24, INK, "bold", "start")
    y += 34
    svg.text(1030, y, f"({', '.join(naive)}), only {counted} on a path to y.", 24, INK, "normal", "start")
    y += 50
    box_y = y - 8
    svg.add(f'<rect x="1030" y="{box_y}" width="480" height="136" rx="10" fill="#FDECEA" '
            f'stroke="#B3261E" stroke-width="3"/>')
    svg.text(1048, box_y + 38, f"naive count: h waits for {len(naive)}", 24, "#B3261E", "bold", "start")
    svg.text(1048, box_y + 74, f"gets {counted} \u2192 waits forever:", 24, "#B3261E", "normal", "start")
    missing = [k for k in w.names if not w.inputs(k) and k not in w.grad and k != "side"] or \
        [k for k in w.names if not w.inputs(k) and w.complete_step.get(k) and
         any(e.sender == "h" for e in w.deliveries if e.receiver == k)]
    svg.text(1048, box_y + 110, f"{' and '.join(missing)} never get a gradient", 24, "#B3261E",
             "normal", "start")
    return svg.render("Example 3: a branch that never reaches the loss")


def fig_graph(w):
    """The computational graph of example 1, forward only, with what one node records."""
    layout = {
        "a": dict(x=190, y=70, kind="leaf"),
        "b": dict(x=190, y=230, kind="leaf"),
        "c": dict(x=190, y=360, kind="leaf"),
        "d": dict(x=190, y=520, kind="leaf"),
        "p": dict(x=580, y=150, kind="inner"),
        "q": dict(x=580, y=440, kind="inner"),
        "y": dict(x=940, y=295, kind="loss"),
    }
    svg = Svg(1520, 580)
    draw_graph(svg, w, layout, show_walk=False)
    x0, y0 = 1040, 110
    svg.add(f'<rect x="{x0}" y="{y0}" width="470" height="320" rx="12" fill="#F4F6FA" '
            f'stroke="#41526E" stroke-width="3"/>')
    svg.text(x0 + 24, y0 + 50, "what y recorded:", 26, MUTED, "bold", "start")
    lines = [f"y._op    == '{w.op('y')}'",
             "y._edges == (",
             *[f"  ({i}, rule_{i}),  # {i} = {fmt(w.value(i))}" for i in w.inputs("y")],
             ")"]
    for i, line in enumerate(lines):
        svg.text(x0 + 24, y0 + 104 + 44 * i, line, 25, INK, "normal", "start", MONO,
                 ' xml:space="preserve"')
    svg.text(x0, y0 + 370, "grey arrows: the forward pass,", 24, MUTED, "normal", "start")
    svg.text(x0, y0 + 402, "input \u2192 op \u2192 output", 24, MUTED, "normal", "start")
    return svg.render("The computational graph of y = (a + b) \u00b7 (c + d)")


def fig_sigmoid(w, backward):
    order = ["x", "n", "a", "b", "\u03c3"]
    cy = 190 if backward else 150
    layout = {k: dict(x=110 + 330 * i, y=cy,
                      kind="leaf" if k == "x" else ("loss" if i == 4 else "inner"),
                      glabel=(0, -92)) for i, k in enumerate(order)}
    layout["b"]["op"] = "1+"
    layout["\u03c3"]["op"] = "1/"
    svg = Svg(1520, 400 if backward else 300)
    draw_graph(svg, w, layout, show_walk=backward, opt={"edge_label": "disc"})
    exprs = {"n": "n = \u2212x", "a": "a = exp(n)", "b": "b = 1 + a", "\u03c3": "\u03c3 = 1 / b"}
    if not backward:
        for k, e in exprs.items():
            svg.text(layout[k]["x"], cy + 100, e, 30, INK, "bold")
        svg.text(layout["x"]["x"], cy + 100, "input", 30, MUTED, "bold")
        return svg.render("sigmoid as a composition of four ops")
    # local derivatives, from the walk: what each delivery multiplied the incoming gradient by
    for d in w.deliveries:
        colour = PATH_COLOURS[0][0]
        local = d.grad / w.grad[d.sender]
        x = (layout[d.sender]["x"] - OP_GAP + layout[d.receiver]["x"]) / 2
        svg.add(f'<g data-step="{d.n}">')
        pill(svg, x, cy + 125, f"\u00d7 {fmt(local)}", colour, 26)
        svg.text(x, cy + 185, f"\u2202{d.sender}/\u2202{d.receiver}", 28, MUTED, "normal")
        svg.add("</g>")
    return svg.render("the chain rule through sigmoid, from the engine's walk")


# ----------------------------------------------------------------------------------------------------
# Code extraction and highlighting
# ----------------------------------------------------------------------------------------------------
def called_module_functions(mod, func):
    """Module-level functions of `mod` that `func` calls, in order of first appearance."""
    src = textwrap.dedent(inspect.getsource(func))
    tree = ast.parse(src)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            names.append((node.lineno, node.col_offset, node.func.id))
    out = []
    for _, _, name in sorted(names):
        obj = getattr(mod, name, None)
        if inspect.isfunction(obj) and obj.__module__ == mod.__name__ and name not in out:
            out.append(name)
    return out


def strip_docstring(src):
    tree = ast.parse(src)
    fn = tree.body[0]
    if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(getattr(fn.body[0], "value", None), ast.Constant) \
            and isinstance(fn.body[0].value.value, str):
        lines = src.splitlines(True)
        ds = fn.body[0]
        del lines[ds.lineno - 1:ds.end_lineno]
        return "".join(lines), True
    return src, False


def elide_before_call(src, name):
    """Replace the statements of a function that come before its first call of `name` (argument
    checks, say) by one `...` line. Returns (source, elided?)."""
    fn = ast.parse(src).body[0]
    body = fn.body
    start = 1 if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                                        ast.Constant) else 0
    first = None
    for i, stmt in enumerate(body):
        if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
               for n in ast.walk(stmt)):
            first = i
            break
    if first is None or first <= start:
        return src, False
    lines = src.splitlines(True)
    a, b = body[start].lineno, body[first - 1].end_lineno
    indent = " " * body[start].col_offset
    lines[a - 1:b] = [f"{indent}...  # checks of the arguments (omitted here)\n"]
    return "".join(lines), True


def source_of(obj):
    lines, start = inspect.getsourcelines(obj)
    src = textwrap.dedent("".join(lines))
    return src, start, start + len(lines) - 1


def highlight(src):
    """Python source -> HTML with <span class=...> (keywords, strings, comments, numbers, defs)."""
    lines = src.splitlines(True)
    offs = [0]
    for ln in lines:
        offs.append(offs[-1] + len(ln))

    def off(pos):
        return offs[pos[0] - 1] + pos[1]

    spans = []
    prev = None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            cls = None
            if tok.type == tokenize.COMMENT:
                cls = "c"
            elif tok.type == tokenize.STRING:
                cls = "s"
            elif tok.type == tokenize.NUMBER:
                cls = "n"
            elif tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
                cls = "k"
            elif tok.type == tokenize.NAME and prev is not None and prev.string in ("def", "class"):
                cls = "f"
            elif tok.type == tokenize.NAME and tok.string in ("self", "None", "True", "False"):
                cls = "k"
            if cls:
                spans.append((off(tok.start), off(tok.end), cls))
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                prev = tok
    except (tokenize.TokenError, IndentationError):
        pass
    out, i = [], 0
    for s, e, cls in spans:
        out.append(esc(src[i:s]))
        out.append(f'<span class="{cls}">{esc(src[s:e])}</span>')
        i = e
    out.append(esc(src[i:]))
    return "".join(out).rstrip("\n")


def code_block(src, max_w=1420, max_h=610, max_size=28):
    lines = src.rstrip("\n").splitlines()
    longest = max((len(l) for l in lines), default=1)
    size = min(max_size, max_h / (len(lines) * 1.25), max_w / (longest * 0.61))
    size = max(14, int(size))
    return f'<pre class="code" style="font-size:{size}px">{highlight(src)}</pre>'


# ----------------------------------------------------------------------------------------------------
# The MNIST slide: the model code is checked against the engine at build time
# ----------------------------------------------------------------------------------------------------
MNIST_LOOP_CODE = '''\
model = MyTorchMNIST()
loss_fn = nn.CrossEntropyLoss()
opt = optim.SGD(model.parameters(),
                lr=LR)

for epoch in range(EPOCHS):
    for images, labels in loader:
        pred = model(images)
        loss = loss_fn(pred, labels)
        loss.backward()     # the walk
        opt.step()
        opt.zero_grad()
'''


def mnist_code():
    """The model class as train_mnist.py defines it (cut out with ast, not imported: that file needs
    torch), and a short training loop with train_mnist.py's default hyper-parameters."""
    text = (REPO / "train_mnist.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    model = None
    defaults = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "MyTorchMNIST":
            model = ast.get_source_segment(text, node)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and node.args \
                and isinstance(node.args[0], ast.Constant):
            for kw in node.keywords:
                if kw.arg == "default" and isinstance(kw.value, ast.Constant):
                    defaults[node.args[0].value] = kw.value.value
    if model is None:
        raise SystemExit("build.py: train_mnist.py defines no class MyTorchMNIST; adapt build.py")
    model = "import mytorch.nn as nn\nimport mytorch.optim as optim\n\n" + model + "\n"
    lr, mom = defaults.get("--lr", 0.1), defaults.get("--momentum", 0)
    opt = f"lr={lr}" + (f", momentum={mom}" if mom else "")
    loop = MNIST_LOOP_CODE.replace("lr=LR", opt).replace("EPOCHS", str(defaults.get("--epochs", "EPOCHS")))
    return strip_trailing_comments(model), loop, "train_mnist.py", defaults.get("--batch-size")


def strip_trailing_comments(src):
    """Drop comments that follow code on the same line (they make the lines too long for a slide)."""
    lines = src.splitlines(True)
    cuts = {}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT and lines[tok.start[0] - 1][:tok.start[1]].strip():
            cuts[tok.start[0] - 1] = tok.start[1]
    for i, col in cuts.items():
        lines[i] = lines[i][:col].rstrip() + "\n"
    return "".join(lines)


def check_mnist_model(mt, code):
    """Run the slide's model code against the engine: it must build and give 10 outputs."""
    ns = {}
    exec(compile(code, "<slide: MNIST model>", "exec"), ns)
    model = ns["MyTorchMNIST"]()
    x = mt.Tensor(np.zeros((2, 784), dtype=np.float32))
    out = model(x)
    if tuple(np.shape(out.data)) != (2, 10):
        raise SystemExit(f"build.py: the MNIST model on the slide gives shape {np.shape(out.data)}")
    n_params = sum(int(np.size(p.data)) for p in model.parameters())
    return n_params, len(list(model.parameters()))


# ----------------------------------------------------------------------------------------------------
# The deck
# ----------------------------------------------------------------------------------------------------
Slide = collections.namedtuple("Slide", "sid title body notes cls", defaults=("",))


def ul(*items, cls=""):
    c = f' class="{cls}"' if cls else ""
    return f"<ul{c}>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def build_all(out_dir):
    out_dir = Path(out_dir)
    mt = load_engine()
    w1, w2, w3 = example1(mt), example2(mt), example3(mt)
    ws = sigmoid_chain(mt)
    wx = exercise_graph(mt)

    figures = collections.OrderedDict()
    figures["sigmoid_composition.svg"] = fig_sigmoid(ws, backward=False)
    figures["sigmoid_chain_rule.svg"] = fig_sigmoid(ws, backward=True)
    figures["computational_graph.svg"] = fig_graph(w1)
    figures["example1_walk.svg"] = fig_example1(w1)
    figures["example2_barrier.svg"] = fig_example2(w2)
    figures["example3_side_branch.svg"] = fig_example3(w3)

    def inline(name):
        svg = figures[name].replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
        return f'<div class="figure" data-file="figures/{name}">{svg}</div>'

    # ---- code from the engine ----
    bw = mt.Tensor.backward
    helpers = called_module_functions(mt, bw)
    # the helper that counts consumers: by name if possible, else the first helper backward calls
    helpers = [h for h in helpers if "count" in h or "consumer" in h] or helpers
    if not helpers:
        raise SystemExit("build.py: Tensor.backward calls no module-level helper; adapt build.py")
    mt_file = Path(inspect.getsourcefile(mt)).name
    code_slides = []
    for name in helpers[:1]:
        src, a, b = source_of(getattr(mt, name))
        src, cut = strip_docstring(src) if src.count("\n") > 24 else (src, False)
        code_slides.append((name, src, a, b, cut))
    src, a, b = source_of(bw)
    src, cut = strip_docstring(src) if src.count("\n") > 24 else (src, False)
    elided = False
    if src.count("\n") > 24:
        src, elided = elide_before_call(src, helpers[0])
    code_slides.append(("Tensor.backward", src, a, b,
                        " and argument checks" if elided and cut else ("argument checks" if elided else cut)))

    model_code, loop_code, model_origin, batch = mnist_code()
    n_params, n_tensors = check_mnist_model(mt, model_code)

    # ---- walk facts used in the text ----
    d1 = w1.deliveries
    wait2 = [d for d in w2.deliveries if d.waiting > 0]
    order1 = ", ".join(f"{d.sender}\u2192{d.receiver}" for d in d1)
    order2 = ", ".join(f"{d.sender}\u2192{d.receiver}" for d in w2.deliveries)
    order3 = ", ".join(f"{d.sender}\u2192{d.receiver}" for d in w3.deliveries)
    orderx = "; ".join(f"{d.n}. {d.sender}\u2192{d.receiver} ({fmt(d.grad)}"
                       + (f", {d.receiver} waits" if d.waiting else "") + ")" for d in wx.deliveries)
    sval = ws.value("\u03c3")
    slides = []
    S = lambda *a, **k: slides.append(Slide(*a, **k))  # noqa: E731

    S("title", DECK_TITLE,
      '<div class="title-block"><h1 class="big">MyTorch</h1>'
      '<p class="subtitle">autograd from scratch, in one file</p>'
      '<p class="lead">how <code>loss.backward()</code> finds every gradient: '
      'a depth-first walk that waits where paths meet</p></div>'
      '<p class="keys">\u2192 / space / click: next \u00b7 \u2190: back \u00b7 n: speaker notes</p>',
      "Welcome. Today: how an autograd engine works, using MyTorch, a tiny engine in one Python file "
      "built on numpy. By the end you will be able to predict, step by step, the order in which it "
      "hands out gradients, and say why it sometimes has to wait.", "title")

    S("why", "Why autograd?",
      ul("Every layer needs a <b>forward</b> and a hand-written <b>backward</b>",
         "New layer, new loss, new activation: derive and code the backward again",
         "One wrong sign in one backward: it still trains, just badly",
         "Idea: build everything from a <b>few ops</b> whose derivatives we know, "
         "and let the <b>chain rule</b> do the rest") +
      '<div class="twocol"><div class="box bad"><div class="boxhead">by hand</div>'
      '<code>forward(x)</code> + <code>backward(grad)</code><br>for every layer, every loss</div>'
      '<div class="box good"><div class="boxhead">autograd</div>'
      '<code>forward(x)</code> only<br>+ one <code>loss.backward()</code></div></div>',
      "In the previous part (ManualGrad) every module had a forward and a backward written by hand. "
      "That works, but it does not scale: every new function means a new derivation and new code, "
      "and the bugs are silent. Autograd: write only the forward pass out of a handful of ops, "
      "each of which knows its local derivative, and let the engine chain them.")

    S("compose", "Functions are compositions",
      '<p class="formula">\u03c3(x) = 1 / (1 + e<sup>\u2212x</sup>) &nbsp;=&nbsp; '
      'negate \u2192 exp \u2192 add 1 \u2192 divide</p>' + inline("sigmoid_composition.svg") +
      f'<p class="caption">values for x = {fmt(ws.value("x"))}, as computed by mytorch</p>',
      "Sigmoid is not a new primitive. It is four ops the engine already knows: negate, exp, add, "
      "divide. The engine records each op as it runs (the forward pass), with its value. "
      f"With x = 1 the forward values are n = {fmt(ws.value('n'))}, a = {fmt(ws.value('a'))}, "
      f"b = {fmt(ws.value('b'))}, sigma = {fmt(sval)}.")

    chain = " \u00b7 ".join(fmt(d.grad / ws.grad[d.sender]) for d in ws.deliveries)
    S("chain", "The chain rule, through sigmoid",
      '<p class="formula">d\u03c3/dx = \u2202\u03c3/\u2202b \u00b7 \u2202b/\u2202a \u00b7 '
      '\u2202a/\u2202n \u00b7 \u2202n/\u2202x</p>' + inline("sigmoid_chain_rule.svg") +
      f'<p class="caption">{chain} = <b>{fmt(ws.grad["x"])}</b> &nbsp;= \u03c3(1 \u2212 \u03c3) = '
      f'{fmt(sval)} \u00b7 {fmt(1 - sval)} \u2714</p>',
      "Backward: start with gradient 1 at sigma and walk back. Each op multiplies the incoming "
      "gradient by its local derivative (shown under each arrow). Multiply them all and you get "
      f"{fmt(ws.grad['x'])}, exactly sigma times (1 minus sigma), the textbook derivative. Nobody "
      "wrote a sigmoid backward; it fell out of the chain rule. Press right to reveal the steps.")

    S("graph", "The computational graph",
      '<p class="formula small">each op <b>records its inputs</b> in the tensor it returns: '
      '<code>._op</code>, <code>._edges</code></p>' + inline("computational_graph.svg") +
      '<p class="caption">backward walks these records from the loss back to the leaves</p>',
      "When an op runs, its output tensor remembers which op made it and its inputs, each with the "
      "rule that turns the output's gradient into the input's gradient. That is the whole graph: "
      "there is no separate graph object. Note the direction: a tensor knows its inputs, not its "
      "consumers. Keep that in mind for example 3.")

    S("example-1", "Example 1: gradient propagation",
      '<p class="formula small">y = (a + b) \u00b7 (c + d) &nbsp; with a = 2, b = \u22121, c = 3, d = 4'
      '</p>' + inline("example1_walk.svg"),
      "Two paths meet at the final multiply. The engine walks depth-first: it sends "
      f"{fmt(d1[0].grad)} to p (the value of q), p is complete so it goes straight down to a, comes "
      "back up and sends to b, then back to y which sends to q, then c, then d. Each colour is one "
      "path of the walk, the numbers are the step order, the pills the gradient carried. "
      f"Order from the engine: {order1}. Step through it with the arrow keys.")

    S("example-2", "Example 2: the barrier",
      '<p class="formula small">h = a + b; &nbsp; y = (c \u00b7 h) + (h \u00b7 d) &nbsp; '
      'with a = 2, b = \u22121, c = 3, d = 4</p>' + inline("example2_barrier.svg"),
      "h is used twice: by m1 and by m2. The walk reaches h first from m1 "
      + (f"(step {wait2[0].n}, gradient {fmt(wait2[0].grad)}). " if wait2 else ". ") +
      "If h went on now, a and b would get only part of their gradient, and everything below h "
      "would be walked twice. So h waits (red dashed ring). The walk goes back up to y, down through "
      "m2, and when the second gradient arrives h holds the full sum, and only then passes it on to "
      f"a and b. Order from the engine: {order2}.")

    S("why-wait", "Why wait?",
      ul("A node's gradient is the <b>sum over its consumers</b>: for h, "
         f"{' + '.join(fmt(d.grad) for d in w2.deliveries if d.receiver == 'h')} = "
         f"{fmt(w2.grad['h'])}",
         "Waiting until the sum is complete means every node sends <b>once</b>, with its full gradient",
         "So every edge is walked <b>exactly once</b>: backward costs about what forward does",
         "Without the wait: send partial sums down every path. The number of paths can grow "
         "exponentially with depth"),
      "Strictly, sending partial gradients down and adding them up at the leaves also gives the right "
      "numbers, since the chain rule is linear. But it walks everything below h once per path into "
      "h: a stack of such diamonds doubles the work at each level. Counting how many gradients each "
      "node must collect and waiting for all of them is what makes the walk linear in graph size.")

    S("example-3", "Example 3: a dead-end branch",
      '<p class="formula small">h = a \u00b7 b; &nbsp; side = h \u00b7 3 &nbsp;(logged, never reaches y); '
      '&nbsp; y = h \u00b7 c</p>' + inline("example3_side_branch.svg"),
      "Beyond the tutorial. side uses h but never feeds y. A naive engine that counts every consumer "
      "(the tutorial's 'children' list, filled in during the forward pass) would make h wait for a "
      "gradient from side that never comes: a and b would silently get no gradient. MyTorch counts "
      "consumers by walking from the loss, so only consumers on a path to y count, and h goes on at "
      f"once. Order from the engine: {order3}.")

    for title_fn, src, a, b, cut in code_slides:
        what = ("counts, from the loss, how many gradients each tensor must collect"
                if title_fn != "Tensor.backward" else "the gated depth-first walk")
        note = (f" ({cut} omitted)" if isinstance(cut, str) and not cut.startswith(" ")
                else f" (docstring{cut} omitted)" if isinstance(cut, str) else " (docstring omitted)" if cut else "")
        S("code-" + title_fn.replace(".", "-").replace("_", "-").strip("-").lower(),
          f"The code: <code>{esc(title_fn)}</code>",
          f'<p class="caption top">{what} \u2014 {esc(mt_file)}, lines {a}\u2013{b}{note}</p>'
          + code_block(src, max_h=610),
          "This is the real code, cut out of mytorch.py when the deck was built, so it always matches "
          "the engine. " + ("First the helper: walk from the loss and count, for each tensor, how many "
                            "of its consumers lie on a path to the loss." if title_fn != "Tensor.backward"
                            else "backward: seed the loss with gradient 1, then walk depth-first; "
                                 "each delivery lowers the receiver's count, and only a receiver whose "
                                 "count reached zero is descended into. The trace argument is what "
                                 "drew the figures in this deck."), "code")

    S("mnist", "Using it: an MNIST classifier",
      '<div class="twocol code2">' + code_block(model_code, max_w=660, max_h=640, max_size=26)
      + '<div>' + code_block(loop_code, max_w=660, max_h=380, max_size=26)
      + f'<p class="fact">784 \u2192 128 \u2192 64 \u2192 32 \u2192 10, sigmoid<br>'
        f'<b>{n_params:,}</b> parameters in {n_tensors} tensors<br>'
        + (f'batches of {batch} images<br>' if batch else '')
        + 'fc4 gives logits; the loss applies softmax</p>'
        f'<p class="caption left">model code: from {model_origin}, checked against mytorch '
        f'at build time</p></div></div>',
      "Same API as PyTorch: nn.Module, nn.Linear, nn.Sigmoid, nn.CrossEntropyLoss, optim.SGD. "
      "The model code on this slide is run against mytorch when the deck is built (that is where "
      "the parameter count comes from). The data still comes from torchvision's MNIST.", "code")

    if MNIST_RESULT is None:
        result = ('<div class="placeholder"><b>PLACEHOLDER</b> \u2014 no training run pasted yet.<br>'
                  'Paste the output of a real <code>' + esc(MNIST_RESULT_COMMAND) + '</code> run into '
                  '<code>MNIST_RESULT</code> in <code>slides/build.py</code>, then run '
                  '<code>python slides/build.py</code>.</div>')
    else:
        result = (f'<pre class="code result">{esc(MNIST_RESULT.strip())}</pre>'
                  f'<p class="caption">output of <code>{esc(MNIST_RESULT_COMMAND)}</code></p>')
    S("mnist-result", "Result: training on MNIST", result,
      "A real run of train_mnist.py: a sigmoid MLP trained with plain SGD, every gradient computed "
      "by the walk we just stepped through.")

    S("exercises", "Exercises",
      '<ol class="ex">'
      '<li>Add <code>sin</code>: forward <code>np.sin</code>; what is the rule on its edge?</li>'
      '<li>Add an element-wise <code>min(x, y)</code>. Where does the gradient go? And on a tie?</li>'
      '<li>Predict the walk: <code>h = a*b; k = h + c; y = k*h</code>. '
      'Order of deliveries? Who waits? Check with <code>y.backward(trace=print)</code></li>'
      '<li>Why can\u2019t the engine count consumers during the forward pass instead?</li>'
      '</ol>',
      "Answers. 1: the edge rule is grad times cos(x). 2: the gradient goes to the input that was "
      "smaller; on a tie you must pick a rule: all to one input, or split it evenly (as MyTorch's x.max() "
      "over all elements does). "
      f"3 (from the engine, a=2, b=-1, c=3): {orderx}. 4: in the forward pass you do not yet know "
      "which tensors will end up on a path to the loss (example 3).")

    S("summary", "Takeaways",
      ul("Build functions from a few ops with known local derivatives",
         "Each op records its inputs: that <b>is</b> the graph",
         "<code>backward</code> = depth-first walk from the loss, multiplying by local derivatives",
         "A node with several consumers <b>waits</b> until all their gradients have arrived",
         "Consumers are counted <b>from the loss</b>: side branches cannot block the walk"),
      "That is the whole engine. Everything else (nn, optim, the MNIST loop) is a thin layer on top.")

    html_text = render_deck(slides, inline)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "figures").mkdir(exist_ok=True)
    written = []
    for name, text in figures.items():
        p = out_dir / "figures" / name
        p.write_text(text, encoding="utf-8", newline="\n")
        written.append(p)
    p = out_dir / "index.html"
    p.write_text(html_text, encoding="utf-8", newline="\n")
    written.append(p)
    return written


# ----------------------------------------------------------------------------------------------------
# HTML, CSS, JS
# ----------------------------------------------------------------------------------------------------
CSS = """
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { background: #1d2129; overflow: hidden; font-family: %(sans)s; color: %(ink)s;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
#stage { position: absolute; left: 50%%; top: 50%%; width: %(w)dpx; height: %(h)dpx;
  transform-origin: 50%% 50%%; transform: translate(-50%%, -50%%); }
.slide { display: none; position: absolute; left: 0; top: 0; width: %(w)dpx; height: %(h)dpx;
  overflow: hidden; background: #ffffff; padding: 44px 64px 0 64px; }
.slide.current { display: block; }
.slide h2 { font-size: 58px; line-height: 1.1; margin: 0 0 18px 0; color: #0b2a55; font-weight: 800;
  letter-spacing: -0.5px; border-bottom: 5px solid #0A6FC2; padding-bottom: 12px; }
.slide h2 code { font-size: 52px; }
.slide ul, .slide ol { font-size: 38px; line-height: 1.35; margin: 26px 0 0 0; padding-left: 48px; }
.slide li { margin: 0 0 18px 0; }
.slide ul.tight { margin-top: 6px; font-size: 34px; }
.slide ol.ex { font-size: 37px; }
.slide ol.ex li { margin-bottom: 30px; }
code { font-family: %(mono)s; font-size: 0.92em; background: #eef1f6; padding: 1px 8px; border-radius: 6px; }
b { color: #0b2a55; }
.figure svg { display: block; width: 100%%; height: auto; }
.figure { margin: 4px auto 0 auto; width: 1472px; }
.formula { font-size: 40px; margin: 8px 0 4px 0; text-align: center; font-weight: 600; }
.formula.small { font-size: 34px; margin: 2px 0 0 0; color: #2c3a52; }
.caption { font-size: 32px; text-align: center; margin: 6px 0 0 0; color: #2c3a52; }
.caption.left { text-align: left; font-size: 26px; color: %(muted)s; margin: 14px 0 0 4px; }
.caption.top { font-size: 28px; text-align: left; margin: 0 0 12px 0; color: %(muted)s; }
.twocol { display: flex; gap: 40px; margin-top: 34px; }
.twocol > * { flex: 1; }
.box { font-size: 34px; line-height: 1.5; padding: 22px 30px; border-radius: 14px; border: 4px solid; }
.box.bad { border-color: #B3261E; background: #FDECEA; }
.box.good { border-color: #1B6E3A; background: #E7F5EC; }
.boxhead { font-weight: 800; font-size: 30px; text-transform: uppercase; letter-spacing: 1px; margin-bottom: 6px; }
pre.code { font-family: %(mono)s; line-height: 1.25; background: #f6f8fb; color: #1a1a1a; margin: 0;
  padding: 16px 24px; border-radius: 12px; border: 2px solid #d5dbe5; white-space: pre; overflow: hidden; }
pre.code .k { color: #8a1fa0; font-weight: bold; }
pre.code .f { color: #0a58b0; font-weight: bold; }
pre.code .s { color: #1d7a35; }
pre.code .c { color: #6a6f7a; font-style: italic; }
pre.code .n { color: #b34700; }
.code2 { margin-top: 4px; gap: 28px; }
.code2 pre.code { margin-bottom: 20px; }
.fact { font-size: 32px; line-height: 1.45; margin: 8px 0 0 4px; }
pre.result { font-size: 25px; margin-top: 24px; white-space: pre-wrap; }
.placeholder { margin-top: 60px; font-size: 36px; line-height: 1.6; padding: 40px 48px;
  border: 6px dashed #B3261E; background: #FFF4F2; color: #7a1710; border-radius: 16px; }
.slide.title { background: #0b2a55; color: #ffffff; }
.title-block { position: absolute; left: 110px; top: 190px; right: 110px; }
h1.big { font-size: 150px; margin: 0; letter-spacing: -3px; font-weight: 800; color: #ffffff; }
.subtitle { font-size: 56px; margin: 10px 0 40px 0; color: #9cc8ff; font-weight: 600; }
.lead { font-size: 40px; line-height: 1.4; margin: 0; color: #ffffff; max-width: 1250px; }
.slide.title code { background: #21467c; color: #ffffff; }
.keys { position: absolute; left: 110px; bottom: 70px; font-size: 26px; color: #b8c8e0; margin: 0; }
.slide footer { position: absolute; left: 64px; right: 64px; bottom: 18px; font-size: 22px;
  color: #7a8494; display: flex; justify-content: space-between; }
.slide.title footer { color: #8fa6c8; }
.notes { display: none; }
.future { visibility: hidden; }
.past { display: none; }
#notes-panel { display: none; position: fixed; left: 0; right: 0; bottom: 0; height: 30vh;
  overflow: auto; background: #fffbe6; color: #111; border-top: 4px solid #F0A500;
  font-size: 24px; line-height: 1.45; padding: 16px 28px; }
#notes-panel .nh { font-weight: 800; color: #8a5a00; margin-bottom: 6px; }
body.show-notes #notes-panel { display: block; }
@page { size: %(w)dpx %(h)dpx; margin: 0; }
@media print {
  html, body { background: #ffffff; overflow: visible; width: %(w)dpx; }
  #stage { position: static; transform: none !important; width: %(w)dpx; height: auto; }
  .slide { display: block !important; position: relative; break-after: page; page-break-after: always; }
  .slide:last-child { break-after: auto; page-break-after: auto; }
  .future { visibility: visible !important; }
  .past, [data-until] { display: none !important; }
  #notes-panel { display: none !important; }
}
""" % dict(sans=SANS, mono=MONO, ink=INK, muted=MUTED, w=W, h=H)

JS = r"""
(function () {
  var stage = document.getElementById('stage');
  var panel = document.getElementById('notes-panel');
  var slides = Array.prototype.slice.call(stage.querySelectorAll('section.slide'));
  var cur = 0, step = 0;
  function maxStep(i) {
    var m = 0;
    slides[i].querySelectorAll('[data-step]').forEach(function (e) {
      m = Math.max(m, +e.getAttribute('data-step'));
    });
    return m;
  }
  function fit() {
    var h = window.innerHeight - (document.body.classList.contains('show-notes') ? panel.offsetHeight : 0);
    var s = Math.min(window.innerWidth / %(w)d, h / %(h)d);
    stage.style.top = (h / 2) + 'px';
    stage.style.transform = 'translate(-50%%, -50%%) scale(' + s + ')';
  }
  function render() {
    slides.forEach(function (s, i) { s.classList.toggle('current', i === cur); });
    slides[cur].querySelectorAll('[data-step]').forEach(function (e) {
      e.classList.toggle('future', +e.getAttribute('data-step') > step);
      var u = e.getAttribute('data-until');
      e.classList.toggle('past', u !== null && step >= +u);
    });
    var want = '#' + (cur + 1) + (step ? '.' + step : '');
    if (location.hash !== want) {
      try { history.replaceState(null, '', want); } catch (err) { location.hash = want; }
    }
    var n = slides[cur].querySelector('.notes');
    panel.innerHTML = '<div class="nh">Notes \u00b7 slide ' + (cur + 1) + ' / ' + slides.length +
      (maxStep(cur) ? ' \u00b7 step ' + step + ' / ' + maxStep(cur) : '') + '</div>' + (n ? n.innerHTML : '');
  }
  function go(i, s) {
    cur = Math.max(0, Math.min(slides.length - 1, i));
    step = s === 'end' ? maxStep(cur) : Math.max(0, Math.min(maxStep(cur), s));
    render();
  }
  function next() { if (step < maxStep(cur)) { step++; render(); } else if (cur < slides.length - 1) go(cur + 1, 0); }
  function prev() { if (step > 0) { step--; render(); } else if (cur > 0) go(cur - 1, 'end'); }
  function fromHash() {
    var m = /^#(\d+)(?:\.(\d+))?$/.exec(location.hash);
    if (m) go(+m[1] - 1, m[2] ? +m[2] : 0); else go(0, 0);
  }
  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var k = e.key;
    if (k === 'ArrowRight' || k === 'ArrowDown' || k === 'PageDown' || k === 'Enter' || (k === ' ' && !e.shiftKey)) next();
    else if (k === 'ArrowLeft' || k === 'ArrowUp' || k === 'PageUp' || k === 'Backspace' || k === ' ') prev();
    else if (k === 'Home') go(0, 0);
    else if (k === 'End') go(slides.length - 1, 'end');
    else if (k === 'n' || k === 'N') { document.body.classList.toggle('show-notes'); fit(); return; }
    else if (k === 'f' || k === 'F') {
      if (!document.fullscreenElement) document.documentElement.requestFullscreen(); else document.exitFullscreen();
      return;
    } else return;
    e.preventDefault();
  });
  document.addEventListener('click', function (e) {
    if (panel.contains(e.target)) return;
    if (e.clientX < window.innerWidth * 0.2) prev(); else next();
  });
  window.addEventListener('hashchange', fromHash);
  window.addEventListener('resize', fit);
  fromHash();
  fit();
})();
""" % dict(w=W, h=H)


def render_deck(slides, inline):
    n = len(slides)
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f'<title>{esc(DECK_TITLE)}</title>',
           '<!-- Generated by slides/build.py from mytorch.py. Do not edit by hand: run python slides/build.py -->',
           f'<style>{CSS}</style>', '</head>', '<body>', '<div id="stage">']
    for i, s in enumerate(slides, 1):
        cls = f"slide {s.cls}" if s.cls else "slide"
        head = "" if s.sid == "title" else f"<h2>{s.title}</h2>\n"
        out.append(f'<section class="{cls}" id="{s.sid}" data-title="{esc(strip_tags(s.title))}">')
        out.append(head + s.body)
        out.append(f'<aside class="notes">{esc(s.notes)}</aside>')
        out.append(f'<footer><span>MyTorch \u00b7 autograd</span><span>{i} / {n}</span></footer>')
        out.append('</section>')
    out += ['</div>', '<div id="notes-panel"></div>', f'<script>{JS}</script>', '</body>', '</html>', '']
    return "\n".join(out)


def strip_tags(s):
    import re
    return re.sub(r"<[^>]+>", "", s)


# ----------------------------------------------------------------------------------------------------
def compare(built_dir, committed_dir):
    """Names of files that differ between a fresh build and the committed deck."""
    built_dir, committed_dir = Path(built_dir), Path(committed_dir)
    bad = []
    built = sorted(p.relative_to(built_dir) for p in built_dir.rglob("*") if p.is_file())
    for rel in built:
        c = committed_dir / rel
        if not c.is_file() or not filecmp.cmp(built_dir / rel, c, shallow=False):
            bad.append(str(rel))
    figs = committed_dir / "figures"
    if figs.is_dir():
        for p in sorted(figs.glob("*.svg")):
            if not (built_dir / "figures" / p.name).is_file():
                bad.append(f"figures/{p.name} (no longer built)")
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(HERE), help="output folder (default: slides/)")
    ap.add_argument("--check", action="store_true",
                    help="build into a temp folder and fail if slides/ differs from it")
    args = ap.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            build_all(tmp)
            bad = compare(tmp, args.out)
        if bad:
            print("slides are stale: " + ", ".join(bad) + "\nrebuild with: python slides/build.py",
                  file=sys.stderr)
            return 1
        print("slides are up to date")
        return 0
    for p in build_all(args.out):
        print(f"wrote {os.path.relpath(p)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
