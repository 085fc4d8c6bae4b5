"""How the deck's figures are drawn: an SVG kit (text, pills, arrows, the graph, the step list), the
figures of the example walks, and the code highlighter. Everything drawn comes from a run of the
engine (see engine_runs.py); nothing here decides what the engine does.
"""
import ast
import html
import io
import keyword
import textwrap
import tokenize

from engine_runs import (CODE_CHAR, CODE_LINE, CODE_MIN, CODE_PAD_H, CODE_PAD_W, docstring, fmt,
                         strip_trailing_comments)


# The tutorial's path colours (computational_graph_1.png / _2.png), in its order, darkened until
# every arrow, arrowhead, disc and pill border drawn in them is at least 3:1 against white and
# against the pills' pale fill (test_slides.py measures it): its yellow is a dark amber (#AD7E00,
# 3.6:1; the tutorial's #F2B705 is 1.8:1), its orange a deeper orange (#C96000, 4.1:1).
# Each: (colour, colour of a step number written on it), every pair at least 4.5:1.
TUTORIAL = {
    "blue": ("#0A6FC2", "#ffffff"),
    "orange": ("#C96000", "#111111"),
    "yellow": ("#AD7E00", "#111111"),
    "purple": ("#8A3FC7", "#ffffff"),
    "green": ("#2E9D3A", "#111111"),
    "pink": ("#E0409F", "#111111"),
}
# The tutorial's order of paths: example 1 goes blue, purple, yellow, green; example 2 blue, orange,
# yellow, purple, green, pink. Path k of a walk (engine_runs.Walk) gets colour k of its figure's order.
EXAMPLE1_ORDER = ("blue", "purple", "yellow", "green", "orange", "pink")
EXAMPLE2_ORDER = ("blue", "orange", "yellow", "purple", "green", "pink")
# Status colours are none of the path colours: red for "waits", ink for "complete".
WAIT = "#B3261E"
DONE = "#111111"
# Figures are drawn in stage pixels: the deck shows them FIG_W px wide on the 1600 x 900 stage, so one
# SVG unit is one pixel and MIN_FONT is the smallest text on screen (test_slides.py measures it).
FIG_W = 1472
MIN_FONT = 28
INK = "#111111"
# labels and captions in figures: near ink (grey at 28 px is hard to read when projected)
MUTED = "#2c3a52"
SANS = "'DejaVu Sans', 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
MONO = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"
OP_SYMBOL = {"add": "+", "sub": "\u2212", "mul": "\u00d7", "div": "\u00f7", "neg": "\u2212",
             "exp": "exp", "log": "log", "pow": "**", "matmul": "@", "sum": "\u03a3", "mean": "mean",
             "sigmoid": "\u03c3"}


def esc(s):
    return html.escape(str(s), quote=True)


def n2(v):
    """Coordinates: fixed formatting (deterministic, compact)."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def path_colour(d, order=EXAMPLE1_ORDER):
    return TUTORIAL[order[d.path % len(order)]]


class Svg:
    """An SVG being drawn. It also keeps what it drew where (labels, arrows, circles), and render()
    refuses a figure in which a label covers an arrow, a circle or another label."""

    def __init__(self, width, height):
        self.w, self.h = width, height
        self.parts = []
        self.labels = []     # (what, x0, y0, x1, y1)
        self.arrows = []     # (what, x1, y1, x2, y2)
        self.circles = []    # (what, x, y, r)

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=MIN_FONT, fill=INK, weight="normal", anchor="middle", family=None,
             extra=""):
        size = max(size, MIN_FONT)
        fam = f' font-family="{family}"' if family else ""
        self.add(f'<text x="{n2(x)}" y="{n2(y)}" font-size="{size}" fill="{fill}" '
                 f'font-weight="{weight}" text-anchor="{anchor}"{fam}{extra}>{esc(s)}</text>')

    def collisions(self):
        """Labels outside the figure or covering an arrow, a circle or another label."""
        out = []

        def hits_seg(box, seg, pad=5):
            _, x0, y0, x1, y1 = box
            _, ax, ay, bx, by = seg
            n = max(2, int(((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5 / 3))
            for i in range(n + 1):
                px, py = ax + (bx - ax) * i / n, ay + (by - ay) * i / n
                if x0 - pad < px < x1 + pad and y0 - pad < py < y1 + pad:
                    return True
            return False

        def hits_circle(box, c):
            _, x0, y0, x1, y1 = box
            _, cx, cy, r = c
            nx, ny = min(max(cx, x0), x1), min(max(cy, y0), y1)
            return (nx - cx) ** 2 + (ny - cy) ** 2 < (r - 1) ** 2

        for i, b in enumerate(self.labels):
            if b[1] < 0 or b[2] < 0 or b[3] > self.w or b[4] > self.h:
                out.append(f"{b[0]} is not inside the figure")
            out += [f"{b[0]} covers {a[0]}" for a in self.arrows if hits_seg(b, a)]
            out += [f"{b[0]} covers {c[0]}" for c in self.circles if hits_circle(b, c)]
            for o in self.labels[i + 1:]:
                if b[1] < o[3] - 1 and o[1] < b[3] - 1 and b[2] < o[4] - 1 and o[2] < b[4] - 1:
                    out.append(f"{b[0]} covers {o[0]}")
        return out

    def render(self, title):
        bad = self.collisions()
        if bad:
            raise ValueError(f"figure {title!r}: " + "; ".join(bad))
        body = "\n".join(self.parts)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {self.h}" '
                f'width="{self.w}" height="{self.h}" font-family="{SANS}" role="img" '
                f'aria-label="{esc(title)}">\n<title>{esc(title)}</title>\n'
                f'<rect width="{self.w}" height="{self.h}" fill="#ffffff"/>\n{body}\n</svg>\n')


def text_w(s, size, bold=False):
    """Rough width of a text run in DejaVu Sans (a little generous: sizes pills and boxes)."""
    return len(str(s)) * size * (0.66 if bold else 0.62)


PILL_H = MIN_FONT + 16


def pill_w(s, size=MIN_FONT):
    return text_w(s, max(size, MIN_FONT), True) + 24


def pill(svg, x, y, s, colour, size=MIN_FONT, anchor="middle", text_colour=INK, fill="#ffffff",
         what=None):
    size = max(size, MIN_FONT)
    w = pill_w(s, size)
    h = size + 16
    x0 = x - w / 2 if anchor == "middle" else (x if anchor == "start" else x - w)
    svg.add(f'<rect x="{n2(x0)}" y="{n2(y - h / 2)}" width="{n2(w)}" height="{n2(h)}" rx="{n2(h / 2)}" '
            f'fill="{fill}" stroke="{colour}" stroke-width="4"/>')
    svg.text(x0 + w / 2, y + size * 0.36, s, size, text_colour, "bold")
    if what:
        svg.labels.append((what, x0, y - h / 2, x0 + w, y + h / 2))
    return w


DISC_R = 22


def disc(svg, x, y, num, colour, text_colour, r=DISC_R):
    svg.add(f'<circle cx="{n2(x)}" cy="{n2(y)}" r="{r}" fill="{colour}" stroke="#ffffff" stroke-width="3"/>')
    svg.text(x, y + 10, str(num), MIN_FONT, text_colour, "bold")


def arrow(svg, x1, y1, x2, y2, colour, width=8, dash=None, head=22, what=None):
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
    if what:
        svg.arrows.append((what, x1, y1, x2, y2))


NODE_R = 60
OP_R = 36
OP_GAP = 104  # distance from an op badge to the centre of the node it produces

# Node fills (what a node is) and their legend. Pale fills, dark outlines: no path or status colour.
NODE_STYLE = {
    "leaf": ("#FFE1CC", "#3a3a3a", INK, "input"),
    "inner": ("#EDF0F5", "#3a3a3a", INK, "op output"),
    "loss": ("#FFF1B8", "#3a3a3a", INK, "loss"),
    "barrier": ("#CFE4FF", "#3a3a3a", INK, "2 consumers"),
    "dead": ("#F3F3F3", "#8a8a8a", "#444444", "never reaches the loss"),
}


def node_style(kind):
    return NODE_STYLE[kind][:3]


def legend(svg, x, y, kinds, ring=False, names=None):
    """One row: a small disc in each fill used, and its meaning; optionally the red "waits" ring.
    names: {kind: meaning} to say it otherwise than NODE_STYLE does (explore.py's pages)."""
    for k in kinds:
        fill, stroke, _, name = NODE_STYLE[k]
        name = (names or {}).get(k, name)
        svg.add(f'<circle cx="{n2(x + 18)}" cy="{n2(y)}" r="18" fill="{fill}" stroke="{stroke}" '
                f'stroke-width="3"/>')
        svg.text(x + 44, y + 10, name, MIN_FONT, INK, "normal", "start")
        x += 44 + text_w(name, MIN_FONT) + 30
    if ring:
        svg.add(f'<circle cx="{n2(x + 18)}" cy="{n2(y)}" r="18" fill="none" stroke="{WAIT}" '
                f'stroke-width="4" stroke-dasharray="7 5"/>')
        svg.text(x + 44, y + 10, "waits", MIN_FONT, WAIT, "bold", "start")
        x += 44 + text_w("waits", MIN_FONT, True)
    return x


def draw_graph(svg, walk, layout, show_walk=True, opt=None, order=EXAMPLE1_ORDER):
    """Draw the recorded graph (forward edges, ops, values) and, optionally, the traced walk.

    layout: label -> dict(x, y, kind, glabel=(dx, dy) for the "grad" pill, op=override symbol,
    side={sender: +1/-1} which side of the forward edge the backward arrow runs on,
    t={sender: 0..1} where along it the step's label sits)
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
        col = "#8a8a8a" if dead else "#3a3a3a"
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
        svg.circles.append((f"the op of {k}", ox, oy, OP_R))
        size = 34 if len(sym) == 1 else MIN_FONT
        svg.text(ox, oy + size * 0.36, sym, size, "#444444" if dead else INK, "bold")
    # the walk: one coloured arrow per delivery, from the op that produced the sender to the receiver;
    # its step number and gradient sit beside the arrow, clear of it
    if show_walk:
        for d in walk.deliveries:
            colour, tcol = path_colour(d, order)
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
            svg.add(f'<g data-step="{d.n}">')
            arrow(svg, x1, y1, x2, y2, colour, what=f"the arrow of step {d.n}")
            full = opt.get("edge_label", "full") == "full"
            label = fmt(d.grad)
            w = 2 * DISC_R + (8 + pill_w(label) if full else 0)
            h = max(2 * DISC_R, PILL_H)
            gap = abs(nx) * w / 2 + abs(ny) * h / 2 + 4 + 10
            t = layout[d.receiver].get("t", {}).get(d.sender, 0.5)
            mx, my = x1 + (x2 - x1) * t + nx * gap * side, y1 + (y2 - y1) * t + ny * gap * side
            x0 = mx - w / 2
            disc(svg, x0 + DISC_R, my, d.n, colour, tcol)
            if full:
                pill(svg, x0 + 2 * DISC_R + 8, my, label, colour, anchor="start")
            svg.labels.append((f"the label of step {d.n}", x0, my - h / 2, x0 + w, my + h / 2))
            svg.add("</g>")
    # nodes: name above the centre, value below it, both inside the circle
    for k, spec in layout.items():
        x, y = pos[k]
        fill, stroke, tcol = node_style(spec.get("kind", "inner"))
        dash = ' stroke-dasharray="9 6"' if spec.get("kind") == "dead" else ""
        svg.add(f'<g class="node"><circle cx="{n2(x)}" cy="{n2(y)}" r="{NODE_R}" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="4"{dash}/>')
        svg.circles.append((f"node {k}", x, y, NODE_R))
        name = spec.get("name", k)
        svg.text(x, y - 8, name, 32 if len(name) <= 2 else MIN_FONT, tcol, "bold")
        svg.text(x, y + 30, fmt(walk.value(k)), MIN_FONT, tcol)
        svg.add("</g>")
    # gradients held by nodes once complete
    if show_walk:
        for k, spec in layout.items():
            if "glabel" not in spec or k not in walk.grad:
                continue
            gx, gy = pos[k][0] + spec["glabel"][0], pos[k][1] + spec["glabel"][1]
            if k == walk.loss_name:
                pill(svg, gx, gy, f"grad {fmt(walk.grad[k])}", "#3a3a3a", what=f"grad of {k}")
                continue
            d = walk.complete_step[k]
            colour = path_colour(d, order)[0]
            parts = received(walk, d)
            s = f"grad {fmt(walk.grad[k])}" if len(parts) == 1 else \
                f"grad {' + '.join(fmt(g) for g in parts)} = {fmt(walk.grad[k])}"
            svg.add(f'<g data-step="{d.n}">')
            pill(svg, gx, gy, s, colour, fill="#F7F7F7", what=f"grad of {k}")
            svg.add("</g>")


def walk_rows(walk, mark=None):
    """Rows for the step list: (delivery, note)."""
    rows = []
    for d in walk.deliveries:
        if d.waiting > 0:
            note = f"{d.receiver} waits for {d.waiting} more"
        elif d.nth > 1:
            note = f"{d.receiver} complete: {' + '.join(fmt(g) for g in received(walk, d))} = {fmt(d.total)}"
        else:
            note = ""
        rows.append((d, note))
    return rows


def received(walk, d):
    """The gradients d's receiver has been sent so far, d's own the last."""
    return [e.grad for e in walk.deliveries if e.receiver == d.receiver and e.n <= d.n]


def draw_step_list(svg, walk, x, y, width, title="the engine's walk", row_h=46, note_h=38,
                   order=EXAMPLE1_ORDER):
    svg.text(x, y, title, MIN_FONT, MUTED, "bold", "start")
    y += 44
    svg.text(x + 4, y, f"start: grad {walk.loss_name} = 1", MIN_FONT, INK, "normal", "start")
    y += 42
    svg.text(x + 30, y, "#", MIN_FONT, MUTED, "normal", "middle")
    svg.text(x + 62, y, "edge", MIN_FONT, MUTED, "normal", "start")
    svg.text(x + 236, y, "sent", MIN_FONT, MUTED, "normal", "start")
    y -= 4
    for d, note in walk_rows(walk):
        y += row_h
        h = row_h - 6 + (note_h if note else 0)
        colour, tcol = path_colour(d, order)
        svg.add(f'<g data-step="{d.n}">')
        svg.add(f'<rect x="{n2(x)}" y="{n2(y - 31)}" width="{n2(width)}" height="{h}" rx="8" '
                f'fill="{colour}" fill-opacity="0.10"/>')
        svg.add(f'<rect x="{n2(x)}" y="{n2(y - 31)}" width="8" height="{h}" fill="{colour}"/>')
        disc(svg, x + 30, y - 10, d.n, colour, tcol, r=20)
        svg.text(x + 62, y, f"{d.sender} \u2192 {d.receiver}", MIN_FONT, INK, "bold", "start")
        svg.text(x + 236, y, fmt(d.grad), MIN_FONT, INK, "normal", "start")
        if note:
            wait = d.waiting > 0
            svg.text(x + 62, y + note_h, note + ("" if wait else " \u2714"), MIN_FONT,
                     WAIT if wait else DONE, "bold", "start")
            y += note_h
        svg.add("</g>")
    return y


# ----------------------------------------------------------------------------------------------------
# The figures
# ----------------------------------------------------------------------------------------------------
def fig_example1(w):
    layout = {
        "a": dict(x=230, y=75, kind="leaf", glabel=(-148, 0)),
        "b": dict(x=230, y=255, kind="leaf", glabel=(-148, 0)),
        "c": dict(x=230, y=390, kind="leaf", glabel=(-148, 0)),
        "d": dict(x=230, y=570, kind="leaf", glabel=(-148, 0)),
        "p": dict(x=610, y=165, kind="inner", glabel=(0, -100)),
        "q": dict(x=610, y=480, kind="inner", glabel=(0, 100)),
        "y": dict(x=920, y=322, kind="loss", glabel=(0, -100)),
    }
    svg = Svg(FIG_W, 640)
    draw_graph(svg, w, layout)
    draw_step_list(svg, w, 1010, 36, FIG_W - 1010)
    return svg.render("Example 1: the depth-first walk through y = (a + b) \u00b7 (c + d)")


def fig_example2(w):
    layout = {
        "a": dict(x=70, y=150, kind="leaf", glabel=(0, -96)),
        "b": dict(x=70, y=480, kind="leaf", glabel=(0, 96)),
        "h": dict(x=320, y=315, kind="barrier"),
        "c": dict(x=430, y=65, kind="leaf", glabel=(-150, 0), t={"m1": 0.85}),
        "d": dict(x=430, y=565, kind="leaf", glabel=(-150, 0)),
        "m1": dict(x=760, y=120, kind="inner"),
        "m2": dict(x=760, y=510, kind="inner"),
        "y": dict(x=930, y=315, kind="loss", glabel=(0, -98)),
    }
    order = EXAMPLE2_ORDER
    svg = Svg(FIG_W, 660)
    waits = [d for d in w.deliveries if d.waiting > 0]
    if waits:
        # while h waits: a red dashed ring, from its first gradient until its last one arrives
        # (the handout shows it too: print.css keeps .ring)
        first, k = waits[0], waits[0].receiver
        x, y = layout[k]["x"], layout[k]["y"]
        svg.add(f'<g data-step="{first.n}" data-until="{w.complete_step[k].n}" class="ring">')
        svg.add(f'<circle cx="{x}" cy="{y}" r="{NODE_R + 14}" fill="none" stroke="{WAIT}" '
                f'stroke-width="5" stroke-dasharray="12 8"/>')
        svg.add("</g>")
    draw_graph(svg, w, layout, order=order)
    draw_step_list(svg, w, 1020, 36, FIG_W - 1020, order=order)
    legend(svg, 6, 636, ("leaf", "inner", "loss", "barrier"), ring=bool(waits))
    return svg.render("Example 2: h has two consumers and waits for both")


def fig_example3(w):
    layout = {
        "a": dict(x=120, y=150, kind="leaf", glabel=(0, -96)),
        "b": dict(x=120, y=440, kind="leaf", glabel=(0, 96)),
        "h": dict(x=470, y=295, kind="inner", glabel=(-8, -100), t={"y": 0.42}),
        "c": dict(x=560, y=560, kind="leaf", glabel=(-150, 20)),
        "y": dict(x=860, y=400, kind="loss", glabel=(0, -98)),
        "side": dict(x=790, y=110, kind="dead", op="\u00d73"),
    }
    svg = Svg(FIG_W, 640)
    draw_graph(svg, w, layout)
    svg.text(790, 205, "for logging only", MIN_FONT, "#444444", "normal")
    svg.text(790, 238, "never reaches y", MIN_FONT, "#444444", "normal")
    x0 = 960
    y = draw_step_list(svg, w, x0, 36, FIG_W - x0, "the engine's walk")
    naive = w.naive_consumers["h"]
    counted = sum(1 for d in w.deliveries if d.receiver == "h")
    # the punchline comes with the walk's last step
    svg.add(f'<g data-step="{w.deliveries[-1].n}">')
    y += 56
    svg.text(x0, y, f"h's consumers: {', '.join(naive)}", MIN_FONT, INK, "bold", "start")
    y += 38
    svg.text(x0, y, f"on a path to y: only {counted}", MIN_FONT, INK, "normal", "start")
    y += 30
    missing = [k for k in w.names if not w.inputs(k) and k not in w.grad and k != "side"] or \
        [k for k in w.names if not w.inputs(k) and w.complete_step.get(k) and
         any(e.sender == "h" for e in w.deliveries if e.receiver == k)]
    svg.add(f'<rect x="{x0}" y="{y}" width="{FIG_W - x0 - 4}" height="136" rx="10" fill="#FDECEA" '
            f'stroke="{WAIT}" stroke-width="3"/>')
    svg.text(x0 + 16, y + 38, f"naive: h waits for {len(naive)},", MIN_FONT, WAIT, "bold", "start")
    svg.text(x0 + 16, y + 76, f"gets {counted}: waits forever", MIN_FONT, WAIT, "normal", "start")
    svg.text(x0 + 16, y + 114, f"{' and '.join(missing)} get no gradient", MIN_FONT, WAIT,
             "normal", "start")
    svg.add("</g>")
    return svg.render("Example 3: a branch that never reaches the loss")


def fig_graph(w):
    """The computational graph of example 1, forward only, with what one node records."""
    layout = {
        "a": dict(x=200, y=70, kind="leaf"),
        "b": dict(x=200, y=230, kind="leaf"),
        "c": dict(x=200, y=370, kind="leaf"),
        "d": dict(x=200, y=530, kind="leaf"),
        "p": dict(x=570, y=150, kind="inner"),
        "q": dict(x=570, y=450, kind="inner"),
        "y": dict(x=900, y=300, kind="loss"),
    }
    svg = Svg(FIG_W, 600)
    draw_graph(svg, w, layout, show_walk=False)
    x0, y0 = 1020, 90
    svg.add(f'<rect x="{x0}" y="{y0}" width="{FIG_W - x0 - 4}" height="320" rx="12" fill="#F4F6FA" '
            f'stroke="#41526E" stroke-width="3"/>')
    svg.text(x0 + 20, y0 + 48, "what y recorded:", MIN_FONT, MUTED, "bold", "start")
    lines = [f"y._op    == '{w.op('y')}'",
             "y._edges == (",
             *[f" ({i}, rule_{i}), # {i}={fmt(w.value(i))}" for i in w.inputs("y")],
             ")"]
    for i, line in enumerate(lines):
        svg.text(x0 + 16, y0 + 100 + 52 * i, line, MIN_FONT, INK, "normal", "start", MONO,
                 ' xml:space="preserve"')
    svg.text(x0, y0 + 376, "grey arrows: the forward", MIN_FONT, MUTED, "normal", "start")
    svg.text(x0, y0 + 412, "pass, input \u2192 op \u2192 output", MIN_FONT, MUTED, "normal", "start")
    return svg.render("The computational graph of y = (a + b) \u00b7 (c + d)")


def fig_example2_small(w):
    """Example 2's graph again, forward only and short, for the slide that compares its orders."""
    layout = {
        "a": dict(x=70, y=75, kind="leaf"),
        "b": dict(x=70, y=255, kind="leaf"),
        "h": dict(x=330, y=165, kind="barrier"),
        "c": dict(x=480, y=62, kind="leaf"),
        "d": dict(x=480, y=268, kind="leaf"),
        "m1": dict(x=790, y=72, kind="inner"),
        "m2": dict(x=790, y=258, kind="inner"),
        "y": dict(x=1060, y=165, kind="loss"),
    }
    svg = Svg(FIG_W, 330)
    draw_graph(svg, w, layout, show_walk=False)
    for i, line in enumerate(["h = a + b", "m1 = c \u00b7 h", "m2 = h \u00b7 d", "y = m1 + m2"]):
        svg.text(1190, 70 + 62 * i, line, 32, INK, "bold", "start")
    return svg.render("Example 2: h = a + b, y = c \u00b7 h + h \u00b7 d")


def fig_sigmoid(w, backward):
    order = ["x", "n", "a", "b", "\u03c3"]
    cy = 200 if backward else 150
    layout = {k: dict(x=150 + 300 * i, y=cy,
                      kind="leaf" if k == "x" else ("loss" if i == 4 else "inner"),
                      glabel=(0, -100)) for i, k in enumerate(order)}
    layout["b"]["op"] = "1+"
    layout["\u03c3"]["op"] = "1/"
    svg = Svg(FIG_W, 420 if backward else 300)
    draw_graph(svg, w, layout, show_walk=backward, opt={"edge_label": "disc"})
    exprs = {"n": "n = \u2212x", "a": "a = exp(n)", "b": "b = 1 + a", "\u03c3": "\u03c3 = 1 / b"}
    if not backward:
        for k, e in exprs.items():
            svg.text(layout[k]["x"], cy + 110, e, 32, INK, "bold")
        svg.text(layout["x"]["x"], cy + 110, "input", 32, MUTED, "bold")
        return svg.render("sigmoid as a composition of four ops")
    # local derivatives, from the walk: what each delivery multiplied the incoming gradient by
    for d in w.deliveries:
        colour = TUTORIAL["blue"][0]
        local = d.grad / w.grad[d.sender]
        x = (layout[d.sender]["x"] - OP_GAP + layout[d.receiver]["x"]) / 2
        svg.add(f'<g data-step="{d.n}">')
        pill(svg, x, cy + 134, f"\u00d7 {fmt(local)}", colour, 30, what=f"local derivative {d.n}")
        svg.text(x, cy + 194, f"\u2202{d.sender}/\u2202{d.receiver}", 30, MUTED, "normal")
        svg.add("</g>")
    return svg.render("the chain rule through sigmoid, from the engine's walk")




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


def strip_docstrings(src):
    """Drop the docstrings of the functions and classes in src (if it parses on its own)."""
    try:
        tree = ast.parse(textwrap.dedent(src))
    except SyntaxError:
        return src
    drop = set()
    for node in ast.walk(tree):
        ds = docstring(node)
        if ds and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            drop.update(range(ds.lineno, ds.end_lineno + 1))
    return "".join(ln for i, ln in enumerate(src.splitlines(True), 1) if i not in drop)


def code_block(src, max_w=1472, max_h=610, max_size=30, min_size=CODE_MIN, as_written=False):
    """Source as a highlighted <pre>, as large as fits (max_w x max_h px of stage) up to max_size,
    never under CODE_MIN (28 px). At 28 px a line across the whole slide holds
    engine_runs.code_chars() = 84 characters, and 14 lines take 526 px.

    as_written=True (code cut out of mytorch.py by engine_runs.project, which holds every line to
    code_chars() characters, the width of the slide): the lines are shown exactly as they are; a
    block too tall for max_h at 28 px stops the build. Otherwise (lecture code, train_mnist.py) code
    that does not fit loses, in turn, its comments after code, its docstrings and its blank lines;
    lines still too wide wrap."""
    min_size = max(min_size, CODE_MIN)

    def size_for(text):
        lines = text.rstrip("\n").splitlines()
        longest = max((len(ln) for ln in lines), default=1)
        return min(max_size, (max_h - CODE_PAD_H) / (len(lines) * CODE_LINE),
                   (max_w - CODE_PAD_W) / (longest * CODE_CHAR))
    shrinks = (strip_trailing_comments, strip_docstrings,
               lambda t: "".join(ln for ln in t.splitlines(True) if ln.strip()))
    if as_written:
        if max_w != 1472:
            raise ValueError("code shown as written takes the slide's width, to which "
                             "engine_runs.project holds its lines")
        shrinks = ()
        rows = len(src.rstrip("\n").splitlines())
        if (max_h - CODE_PAD_H) / (rows * CODE_LINE) < min_size:
            raise SystemExit(f"build.py: {rows} lines of mytorch.py do not fit their slide "
                             f"({max_h} px high) at {min_size} px; shorten them in mytorch.py (the "
                             f"deck shows them as written):\n{src}")
    for shrink in shrinks:
        if size_for(src) >= min_size:
            break
        src = shrink(src)
    size = max(min_size, int(size_for(src)))
    longest = max((len(ln) for ln in src.splitlines()), default=1)
    wrap = " wrap" if longest * CODE_CHAR * size > 1472 - CODE_PAD_W else ""   # wider than a slide
    return f'<pre class="code{wrap}" style="font-size:{size}px">{highlight(src)}</pre>'
