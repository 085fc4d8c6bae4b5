"""How the deck's figures are drawn: an SVG kit (text, pills, arrows, the graph, the step list), the
figures of the example walks, and the code highlighter. Everything drawn comes from a run of the
engine (see engine_runs.py); nothing here decides what the engine does.
"""
import html
import io
import keyword
import tokenize

from engine_runs import fmt, strip_trailing_comments


# One colour per path of the walk (colour, text colour on it). Okabe-Ito-like, readable on white.
PATH_COLOURS = [
    ("#0A6FC2", "#ffffff"),  # blue
    ("#8A3FC7", "#ffffff"),  # purple
    ("#F0A500", "#111111"),  # amber
    ("#0B7F58", "#ffffff"),  # green
    ("#C02A6F", "#ffffff"),  # pink
    ("#B84F00", "#ffffff"),  # vermillion
    ("#007575", "#ffffff"),  # teal
]
# The figures are shown 1472 px wide on the 1600 x 900 stage (scale 0.968): 25 units -> 24.2 px,
# the smallest text the deck allows.
MIN_FONT = 25
INK = "#111111"
MUTED = "#5b6475"
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


class Svg:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=26, fill=INK, weight="normal", anchor="middle", family=None,
             extra=""):
        size = max(size, MIN_FONT)
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
    size = max(size, MIN_FONT)
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
OP_R = 30
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
            note = f"{d.receiver} waits for {d.waiting} more"
        elif d.nth > 1:
            note = f"{d.receiver} complete: {' + '.join(fmt(g) for g in _got(walk, d))} = {fmt(d.total)}"
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
    svg.text(x + 36, y, "#", 19, MUTED, "normal", "middle")
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


def code_block(src, max_w=1420, max_h=610, max_size=28, min_size=24):
    """Source as a highlighted <pre>, as large as fits (max_w x max_h px) up to max_size. If it only
    fits below min_size, comments after code are dropped first; never smaller than min_size."""
    def fit(text):
        lines = text.rstrip("\n").splitlines()
        longest = max((len(ln) for ln in lines), default=1)
        return min(max_size, max_h / (len(lines) * 1.25), max_w / (longest * 0.61))
    if fit(src) < min_size:
        src = strip_trailing_comments(src)
    size = max(min_size, int(fit(src)))
    return f'<pre class="code" style="font-size:{size}px">{highlight(src)}</pre>'

