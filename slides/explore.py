#!/usr/bin/env python3
"""The engine's backward walk for any small graph, as a page in the deck's style.

    python slides/explore.py "a = 2; b = -1; h = a * b + a; y = h * a" --out walk.html

The program is a few lines of Python arithmetic, its statements separated by ; or newlines. An
assignment of a number makes a leaf (a tensor that requires grad); every other assignment computes
a node from earlier names with + - * / **, unary minus and the methods .sigmoid() .exp() .tanh()
.relu() .log() .sqrt() .abs(); the last assignment is the loss. The text is parsed with `ast` and
only those constructs are interpreted: nothing of it is eval'd or exec'd.

It runs through ../mytorch.py (float64 tensors), whose loss.backward(trace=...) reports every
delivery. The page draws the graph and steps through the walk, one key press each (the deck's keys:
right arrow or space next, left arrow back, Home / End, f full screen): which edge fires, what it
sends, who waits and for how many more, each node's running total. Its last step shows the leaves'
gradients, checked against torch.autograd when torch can be imported, else against central finite
differences (--check chooses); the page says which check it was and whether it passed.

Input it cannot draw (a syntax error, an unknown name, a construct it does not interpret, no loss,
more nodes than fit on the slide) gives a one-line error on stderr, exit code 2, and no file.
A check that fails still writes the page (it says so, in red) and exits with 1.
"""
import os
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # before numpy loads: one thread is plenty here
import argparse         # noqa: E402
import ast              # noqa: E402
import collections      # noqa: E402
import itertools        # noqa: E402
import math             # noqa: E402
import operator         # noqa: E402
import sys              # noqa: E402
import textwrap         # noqa: E402
from html import escape as esc     # noqa: E402
from pathlib import Path           # noqa: E402

import numpy as np      # noqa: E402

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import build            # noqa: E402
import drawing          # noqa: E402
import engine_runs      # noqa: E402
from drawing import INK, MIN_FONT, MUTED, WAIT               # noqa: E402
from engine_runs import fmt                                 # noqa: E402

MAX_NODES = 15          # leaves and ops together
MAX_CHARS = 2000        # of program text
MAX_NAME = 10           # characters in a name (it has to fit a box)
EXAMPLE = "a = 2; b = -1; h = a * b + a; y = h * a"

# What the interpreter knows: the engine's name of each operator, and the methods it may call.
BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
APPLY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
         "div": operator.truediv, "pow": operator.pow}
METHODS = ("sigmoid", "exp", "tanh", "relu", "log", "sqrt", "abs")
ALLOWED = ("numbers, names, + - * / **, unary minus and the methods "
           + " ".join(f".{m}()" for m in METHODS))


class ExploreError(ValueError):
    """Input explore.py cannot draw: main() prints it on one line and exits with 2."""


# --------------------------------------------------------------------------------------------------
# The program: parsed with ast, checked, and made into nodes
# --------------------------------------------------------------------------------------------------
# label: the node's name (a temporary one, t1, t2, ..., for a part of an expression)
# op: None for a leaf, else "add" "sub" "mul" "div" "pow" "neg" or one of METHODS
# args: the operands in order, labels (str) or constants (float); value: a leaf's number
# expr: what the node's box says after "label = "
Node = collections.namedtuple("Node", "label op args value expr")


class Program:
    """The nodes of a program in the order the engine makes them; the leaves; the loss."""

    def __init__(self, source):
        self.source = source
        self.nodes = []
        self.statements = []        # the statements' text, for the page's heading
        self.taken = set()          # every name in the program: temporary names avoid them
        self.temps = 0
        self.where = ""             # the statement being read, for error messages
        tree = parse_text(source)
        for stmt in ast.walk(tree):
            if isinstance(stmt, ast.Name):
                self.taken.add(stmt.id)
        try:
            for k, stmt in enumerate(tree.body, 1):
                self.statement(k, stmt)
        except RecursionError:
            self.fail("it nests too deeply")
        self.finish()

    @property
    def labels(self):
        return [n.label for n in self.nodes]

    @property
    def leaves(self):
        return [n.label for n in self.nodes if n.op is None]

    def node(self, label):
        return next(n for n in self.nodes if n.label == label)

    def fail(self, message):
        raise ExploreError(f"{self.where}: {message}")

    def statement(self, k, stmt):
        text = " ".join((ast.get_source_segment(self.source, stmt) or "").split())
        self.where = f"statement {k} ({text[:40]})"
        self.statements.append(text)
        if not isinstance(stmt, ast.Assign):
            self.fail("only assignments, like y = a * b, are allowed")
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            self.fail("assign to one plain name, like y = a * b")
        name = stmt.targets[0].id
        if name in self.labels:
            self.fail(f"{name} is assigned twice: give the new value a new name")
        if len(name) > MAX_NAME:
            self.fail(f"the name {name} is too long for a box (at most {MAX_NAME} characters)")
        before = len(self.nodes)
        value = self.expr(stmt.value)
        if isinstance(value, float):          # a number: a leaf
            self.nodes.append(Node(name, None, (), value, fmt(value)))
        elif len(self.nodes) == before:       # y = a: no op of its own
            self.fail(f"{name} = {value} gives {value} a second name; compute something")
        else:                                 # the statement's last op is the named node
            self.temps = int(self.nodes[-1].label[1:]) - 1     # (its t-number is free again)
            self.nodes[-1] = self.nodes[-1]._replace(label=name)

    def finish(self):
        if not self.nodes:
            raise ExploreError(f'no statements: give a few, like "{EXAMPLE}"')
        last = self.nodes[-1]
        if last.op is None:
            raise ExploreError(f"{self.where}: the last statement must compute the loss from "
                               f"the others ({last.label} = {last.expr} is a leaf)")
        if len(self.nodes) > MAX_NODES:
            raise ExploreError(f"{len(self.nodes)} nodes (leaves and ops); explore.py lays out "
                               f"at most {MAX_NODES}")
        self.loss = last.label

    def temp(self):
        while True:
            self.temps += 1
            label = f"t{self.temps}"
            if label not in self.taken:
                return label

    def op(self, op, args, expr):
        label = self.temp()
        self.nodes.append(Node(label, op, tuple(args), None, expr))
        return label

    def expr(self, e):
        """A float for a constant (folded), else the label of the node that computes e."""
        if isinstance(e, ast.Constant):
            return self.number(e.value)
        if isinstance(e, ast.Name):
            return self.name(e.id)
        if isinstance(e, ast.BinOp) and type(e.op) in BINARY:
            return self.binary(BINARY[type(e.op)], self.expr(e.left), self.expr(e.right))
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.USub, ast.UAdd)):
            return self.unary(isinstance(e.op, ast.USub), self.expr(e.operand))
        if isinstance(e, ast.Call):
            return self.call(e)
        self.fail(f"{refused(e)} is not allowed here: use {ALLOWED}")

    def number(self, v):
        if type(v) not in (int, float):
            self.fail(f"{v!r} is not a number: use {ALLOWED}")
        try:
            v = float(v)
        except OverflowError:
            self.fail("a number in it is too large for a float")
        return self.finite(v)

    def finite(self, v, what="a number in it"):
        if not isinstance(v, float):
            self.fail(f"{what} is not a real number")
        if not math.isfinite(v):
            self.fail(f"{what} is {v}, not a finite number")
        return v

    def name(self, name):
        if name in self.labels:
            return name
        known = ", ".join(self.labels) or "nothing yet"
        self.fail(f"unknown name {name} (defined so far: {known})")

    def binary(self, op, x, y):
        text = f"{show(x)} {drawing.OP_SYMBOL[op]} {show(y)}"
        if isinstance(x, float) and isinstance(y, float):
            try:
                return self.finite(APPLY[op](x, y), text)
            except ZeroDivisionError:
                self.fail(f"{text} divides by zero")
            except OverflowError:
                self.fail(f"{text} is too large for a float")
        return self.op(op, (x, y), text)

    def unary(self, negate, x):
        if not negate:
            return x
        if isinstance(x, float):
            return -x
        return self.op("neg", (x,), drawing.OP_SYMBOL["neg"] + x)

    def call(self, e):
        f = e.func
        if not isinstance(f, ast.Attribute) or f.attr not in METHODS:
            self.fail(f"that call is not allowed: use {ALLOWED}")
        if e.args or e.keywords:
            self.fail(f".{f.attr}() takes no arguments here")
        x = self.expr(f.value)
        if isinstance(x, float):
            self.fail(f".{f.attr}() works on a name or an expression of names, not a number")
        # as the deck writes the method (tanh(x); sigmoid with its symbol, as drawing.OP_SYMBOL)
        return self.op(f.attr, (x,), f"{drawing.OP_SYMBOL.get(f.attr, f.attr)}({x})")


# What the error says for a construct the interpreter refuses
REFUSED = {ast.Attribute: "an attribute (.{})", ast.Subscript: "indexing",
           ast.Compare: "a comparison", ast.BoolOp: "and / or", ast.IfExp: "if ... else",
           ast.Lambda: "lambda", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
           ast.Set: "a set"}
OPERATOR_TEXT = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
                 ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
                 ast.Not: "not", ast.Invert: "~"}


def refused(e):
    """How an error names a construct: the operator % , an attribute (.grad), indexing, ..."""
    if isinstance(e, (ast.BinOp, ast.UnaryOp)):
        return f"the operator {OPERATOR_TEXT.get(type(e.op), type(e.op).__name__)}"
    what = REFUSED.get(type(e), type(e).__name__)
    return what.format(getattr(e, "attr", ""))


def parse_text(source):
    if len(source) > MAX_CHARS:
        raise ExploreError(f"{len(source)} characters: at most {MAX_CHARS}, for about "
                           f"{MAX_NODES} nodes")
    if not source.strip():
        raise ExploreError(f'no program: give statements like "{EXAMPLE}"')
    try:
        return ast.parse(source, "<program>", "exec")
    except SyntaxError as exc:
        raise ExploreError(f"syntax error at line {exc.lineno}, column {exc.offset}: "
                           f"{exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExploreError(f"cannot parse the program: {type(exc).__name__}") from None


def show(x):
    """An operand as a box writes it: a label, or a number (in brackets if negative)."""
    if not isinstance(x, float):
        return x
    return f"({fmt(x)})" if x < 0 else fmt(x)


def evaluate(program, leaf):
    """Run the program: leaf(node) makes each leaf (a mytorch or torch tensor); every op applies
    Python's operator or the allowed method to what came before. Returns label -> result."""
    values = {}
    for n in program.nodes:
        args = [values[a] if isinstance(a, str) else a for a in n.args]
        if n.op is None:
            values[n.label] = leaf(n)
        elif n.op in APPLY:
            values[n.label] = APPLY[n.op](*args)
        elif n.op == "neg":
            values[n.label] = -args[0]
        else:
            values[n.label] = getattr(args[0], n.op)()
    return values


# --------------------------------------------------------------------------------------------------
# The engine's walk, and the check of its gradients
# --------------------------------------------------------------------------------------------------
def engine_leaf(mt, requires_grad=True, shift=None):
    """A function making each leaf a float64 mytorch tensor (its value moved by shift[label])."""
    shift = shift or {}

    def leaf(node):
        v = node.value + shift.get(node.label, 0.0)
        return mt.tensor(v, dtype=mt.float64, requires_grad=requires_grad)
    return leaf


def walk_program(program):
    """Run the program through mytorch and walk it back: (mytorch, engine_runs.Walk)."""
    mt = engine_runs.load_engine()
    with np.errstate(all="ignore"):
        values = evaluate(program, engine_leaf(mt))
        for n in program.nodes:
            v = engine_runs.number(values[n.label])
            if not math.isfinite(v):
                raise ExploreError(f"{n.label} = {n.expr} is {v}: no finite value to draw")
        walk = engine_runs.Walk(mt, values, program.loss)
    for k, g in walk.grad.items():
        if not math.isfinite(g):
            raise ExploreError(f"the gradient of {k} is {g}: no finite gradient to draw")
    return mt, walk


def leaf_grads(program, walk):
    """The leaves' gradients, as the walk summed them (engine_runs.Walk checks them against their
    .grad): a float, or None (a leaf off the path to the loss, whose .grad stays None)."""
    return {k: walk.grad.get(k) for k in program.leaves}


Check = collections.namedtuple("Check", "method ok max_diff theirs bad")


def torch_grads(torch, program):
    values = evaluate(program, lambda n: torch.tensor(n.value, dtype=torch.float64,
                                                      requires_grad=True))
    values[program.loss].backward()
    out = {}
    for k in program.leaves:
        g = values[k].grad
        out[k] = None if g is None else float(g)
    return out


def difference_grads(mt, program, h=1e-6):
    """Central finite differences of the loss (mytorch's forward, no graph), per leaf."""
    out = {}
    for k in program.leaves:
        step = h * max(1.0, abs(program.node(k).value))
        ends = []
        for sign in (1, -1):
            with mt.no_grad(), np.errstate(all="ignore"):
                leaf = engine_leaf(mt, False, {k: sign * step})
                ends.append(engine_runs.number(evaluate(program, leaf)[program.loss]))
        out[k] = (ends[0] - ends[1]) / (2 * step)
    return out


def check_gradients(mt, program, walk, how="auto"):
    """The engine's leaf gradients against torch.autograd (float64), or against central finite
    differences (a leaf off the path then counts as 0)."""
    torch = None
    if how in ("auto", "torch"):
        try:
            import torch
        except ImportError:
            if how == "torch":
                raise ExploreError("--check torch: torch cannot be imported") from None
    mine = leaf_grads(program, walk)
    if torch is not None:
        theirs, method, tol = torch_grads(torch, program), "torch.autograd", 1e-9
    else:
        theirs, method, tol = difference_grads(mt, program), "central finite differences", 1e-5
        mine = {k: 0.0 if g is None else g for k, g in mine.items()}
    bad, worst = [], 0.0
    for k in program.leaves:
        a, b = mine[k], theirs[k]
        if (a is None) != (b is None):
            bad.append(k)
            continue
        diff = 0.0 if a is None else abs(a - b)
        worst = max(worst, diff)
        if not diff <= tol * max(1.0, abs(b or 0.0)):
            bad.append(k)
    return Check(method, not bad, worst, theirs, bad)


# --------------------------------------------------------------------------------------------------
# Layout: levels from left (leaves) to right (the loss), one box per node, edges routed between
# --------------------------------------------------------------------------------------------------
LINE = 32               # a line of 28 px text in a box
BOX_PAD = 14            # text to the box's side
GAP_Y = 26              # between boxes in a level
GAP_EDGE = 18           # between an edge passing through a level and what is next to it
MIN_GAP_X, MAX_GAP_X = 36, 220
FIG_MARGIN = 14         # around the graph: room for the outlines drawn around boxes
MAX_ROWS = 3            # levels go on in a second and a third row, as lines of text
TURN = 36               # at each side of a row, for the edges that go on in the next row
ROW_GAP = 48            # between rows: the gutter those edges cross
Edge = collections.namedtuple("Edge", "n source consumer slot")


# Advance widths of DejaVu Sans, in font sizes, by kind of character (bold: 10 % wider)
NARROW = set("ijlrtf.,:;'!|()[] ")
WIDE = set("mwMW\u2026")
OPERATORS = set("=+*<>\u2212\u00d7\u00f7")


def char_w(c):
    if c in NARROW:
        return 0.34
    if c in WIDE:
        return 0.98
    if c in OPERATORS:
        return 0.84
    if c.isupper():
        return 0.76
    return 0.64 if c.isdigit() else 0.62


def line_w(s, bold=False):
    """Width of a line of 28 px text, a little generous (drawing.text_w's one average width for
    every character would make boxes of names too wide and of digits too narrow)."""
    return sum(char_w(c) for c in s) * MIN_FONT * (1.1 if bold else 1.0) * 1.02


def box_size(lines, rows):
    """Width and height of a box of `rows` lines, wide enough for every (text, bold) in lines."""
    widest = max(line_w(s, bold) for s, bold in lines)
    return widest + 2 * BOX_PAD, LINE * rows + 12


def levels(labels, inputs):
    """Longest path from the leaves; then every node moved right, next to its first consumer."""
    level, users = {}, {k: [] for k in labels}
    for k in labels:
        level[k] = 1 + max((level[i] for i in inputs[k]), default=-1)
        for i in inputs[k]:
            users[i].append(k)
    for k in reversed(labels):
        if users[k]:
            level[k] = min(level[u] for u in users[k]) - 1
    return level


class Layout:
    """Boxes (label -> x0, y0, x1, y1) and edge routes (points from the input's right side to the
    consumer's left side) in the region `area` (x0, y0, x1, y1). The levels run from left to
    right; too many for one row go on in the next row, as lines of text do, and the edges that
    go on with them cross the gutter between the rows."""

    def __init__(self, labels, inputs, sizes, area):
        self.labels, self.sizes = labels, sizes
        self.level = levels(labels, inputs)
        pairs = [(i, k, j) for k in labels for j, i in enumerate(inputs[k])]
        self.edges = [Edge(n, *p) for n, p in enumerate(pairs)]
        self.chains = self.routes_through_levels()
        self.neighbours()
        self.order_levels()
        self.area = area
        self.arrange()
        self.place_in_levels()
        self.boxes = {k: self.box(k) for k in labels}
        self.out_y, self.in_y = {}, {}     # edge number -> y where it leaves / enters its box
        for k in labels:
            self.out_y.update(self.ports(k, [e for e in self.edges if e.source == k],
                                         lambda e: self.chains[e.n][1]))
            self.in_y.update(self.ports(k, [e for e in self.edges if e.consumer == k],
                                        lambda e: self.chains[e.n][-2]))
        self.crossing = [[e.n for e in self.edges if self.leaves_row(e, row)]
                         for row in range(len(self.regions))]     # edges into the next row
        self.points = [self.route(e) for e in self.edges]

    def routes_through_levels(self):
        """Per edge, the items it passes: its input, a point in each level between, its consumer."""
        chains = []
        for e in self.edges:
            lo, hi = self.level[e.source], self.level[e.consumer]
            chains.append([e.source] + [(e.n, c) for c in range(lo + 1, hi)] + [e.consumer])
        return chains

    def neighbours(self):
        ncols = max(self.level.values()) + 1
        self.cols = [[k for k in self.labels if self.level[k] == c] for c in range(ncols)]
        self.pred = collections.defaultdict(list)
        self.succ = collections.defaultdict(list)
        for chain in self.chains:
            for a, b in zip(chain, chain[1:]):
                self.succ[a].append(b)
                self.pred[b].append(a)
            for item in chain[1:-1]:
                self.cols[item[1]].append(item)

    def crossings(self):
        total = 0
        for left, right in zip(self.cols, self.cols[1:]):
            pos = {item: n for n, item in enumerate(right)}
            pairs = [(a, pos[b]) for a, item in enumerate(left) for b in self.succ[item]]
            for (a1, b1), (a2, b2) in itertools.combinations(pairs, 2):
                total += (a1 - a2) * (b1 - b2) < 0
        return total

    def order_levels(self, rounds=8):
        """Each level sorted by where its neighbours are (barycentres); the fewest crossings win."""
        best = (self.crossings(), [list(c) for c in self.cols])
        for r in range(rounds):
            down = r % 2 == 0
            seq = range(1, len(self.cols)) if down else range(len(self.cols) - 2, -1, -1)
            for c in seq:
                side = self.cols[c - 1] if down else self.cols[c + 1]
                near = self.pred if down else self.succ
                pos = {item: n for n, item in enumerate(side)}
                here = {item: n for n, item in enumerate(self.cols[c])}
                self.cols[c].sort(key=lambda item: (mean([pos[x] for x in near[item]],
                                                         here[item]), here[item]))
            score = self.crossings()
            if score < best[0]:
                best = (score, [list(c) for c in self.cols])
        self.cols = best[1]

    def lev(self, item):
        """The level of a node (its label) or of a point an edge passes (edge number, level)."""
        return item[1] if isinstance(item, tuple) else self.level[item]

    def row(self, item):
        return self.lev(item) // self.per

    def height(self, item):
        return self.sizes[item][1] if item in self.sizes else 0

    def extent(self, item):
        """Height with half the gap above and below: a box GAP_Y, an edge's point GAP_EDGE."""
        return self.height(item) + (GAP_Y if item in self.sizes else GAP_EDGE)

    def need(self, col):
        return sum(self.extent(i) for i in col) - GAP_Y

    def arrange(self):
        """The fewest rows (up to MAX_ROWS) in which every level fits: its width in the row, its
        nodes and edges stacked in the row's height."""
        n = len(self.cols)
        why = []
        for rows in range(1, MAX_ROWS + 1):
            fails = self.try_rows(-(-n // rows))
            if fails is None:
                return
            why.append(fails)
            if rows == 1 and fails[0] == "tall":      # (in more rows, every row is lower still)
                raise ExploreError(f"cannot lay out this graph on one slide: {fails[1]}")
        hint = "; shorter names make narrower boxes" if why[0][0] == "wide" else ""
        raise ExploreError(f"cannot lay out this graph on one slide: in one row, {why[0][1]}; "
                           f"in {rows} rows, {why[-1][1]}{hint}")

    def try_rows(self, per):
        """Levels `per` to a row: None if they fit (and self.per, regions and bands say where
        they go), else why not: ("wide", what) or ("tall", what)."""
        n = len(self.cols)
        rows = -(-n // per)
        x0, y0, x1, y1 = self.area
        turn = TURN if rows > 1 else 0
        room = x1 - x0 - 2 * turn
        widths = [max(self.col_width(c) for c in range(q, n, per)) for q in range(per)]
        gap = MAX_GAP_X if per == 1 else min(MAX_GAP_X, (room - sum(widths)) / (per - 1))
        if gap < MIN_GAP_X:
            return "wide", f"{per} levels side by side are too wide"
        row_h = (y1 - y0 - ROW_GAP * (rows - 1)) / rows
        for c, col in enumerate(self.cols):
            if self.need(col) > row_h:
                return "tall", f"level {c + 1} holds {len(col)} nodes and edges, too many to stack"
        self.per = per
        self.regions = [(y0 + r * (row_h + ROW_GAP), y0 + r * (row_h + ROW_GAP) + row_h)
                        for r in range(rows)]
        x = x0 + turn + (room - sum(widths) - gap * (per - 1)) / 2
        self.bands = []
        for w in widths:
            self.bands.append((x, x + w))
            x += w + gap
        return None

    def col_width(self, c):
        return max([self.sizes[k][0] for k in self.cols[c] if k in self.sizes], default=40)

    def band(self, item):
        return self.bands[self.lev(item) % self.per]

    def place_in_levels(self, rounds=12):
        """y of each item: stacked and centred in its row, then moved towards its neighbours in
        that row, keeping its level's order; each row's drawing centred at the end."""
        self.y = {}
        for col in self.cols:
            top, bottom = self.regions[self.row(col[0])]
            self.pack(col, [None] * len(col), top + (bottom - top - self.need(col)) / 2, bottom)

        for r in range(rounds):
            for col in (self.cols if r % 2 == 0 else self.cols[::-1]):
                want = [mean([self.y[x] for x in self.pred[i] + self.succ[i]
                              if self.row(x) == self.row(i)], self.y[i]) for i in col]
                self.pack(col, want, *self.regions[self.row(col[0])])
        for r, (top, bottom) in enumerate(self.regions):
            mine = [i for i in self.y if self.row(i) == r]
            ys = [self.y[i] + sign * self.height(i) / 2 for i in mine for sign in (-1, 1)]
            shift = (top + bottom - min(ys) - max(ys)) / 2
            for item in mine:
                self.y[item] += shift

    def pack(self, col, want, top, bottom):
        """Items at their wanted y where the order and the gaps allow (None: as high as they go),
        their extents one under the other from top to bottom (a box's half gap may stick out)."""
        lo = top - GAP_Y / 2
        for item, w in zip(col, want):
            half = self.extent(item) / 2
            self.y[item] = max(lo + half, lo + half if w is None else w)
            lo = self.y[item] + half
        hi = bottom + GAP_Y / 2
        for item in reversed(col):
            half = self.extent(item) / 2
            self.y[item] = min(self.y[item], hi - half)
            hi = self.y[item] - half

    def box(self, k):
        x0, x1 = self.band(k)
        h = self.sizes[k][1]
        return (x0, self.y[k] - h / 2, x1, self.y[k] + h / 2)

    def ports(self, k, edges, far):
        """y where each of these edges meets box k: spread over its side, sorted by the far end."""
        edges = sorted(edges, key=lambda e: (self.y[far(e)], e.n))
        x0, y0, x1, y1 = self.boxes[k]
        step = 0 if len(edges) < 2 else min(24, (y1 - y0 - 28) / (len(edges) - 1))
        mid = (y0 + y1) / 2
        return {e.n: mid + (i - (len(edges) - 1) / 2) * step for i, e in enumerate(edges)}

    def route(self, e):
        """Points from the input's right side, through a point in each level between (a line
        across its band), to the consumer's left side; into the next row through the gutter."""
        chain = self.chains[e.n]
        pts = [(self.boxes[e.source][2], self.out_y[e.n])]
        for a, b in zip(chain, chain[1:]):
            if b == e.consumer:
                end = (self.boxes[b][0], self.in_y[e.n])
            else:
                end = (self.band(b)[0], self.y[b])
            if self.row(a) != self.row(b):
                pts += self.gutter(e, pts[-1], end, self.row(a))
            pts.append(end)
            if b != e.consumer:
                pts.append((self.band(b)[1], self.y[b]))
        return pts

    def leaves_row(self, e, row):
        chain = self.chains[e.n]
        return any(self.row(a) == row != self.row(b) for a, b in zip(chain, chain[1:]))

    def gutter(self, e, start, end, row):
        """From the end of a row to the start of the next: right, down into the gutter under the
        row, across to the left, down to the next row. Each such edge at its own offset."""
        crossing = self.crossing[row]
        k = crossing.index(e.n)
        step = min(9, (TURN - 12) / max(1, len(crossing) - 1))
        x0, _, x1, _ = self.area
        right, left = x1 - 10 - k * step, x0 + 10 + k * step
        y = self.regions[row][1] + ROW_GAP / 2 + (k - (len(crossing) - 1) / 2) * step
        return [(right, start[1]), (right, y), (left, y), (left, end[1])]


def mean(values, default):
    return sum(values) / len(values) if values else default


# --------------------------------------------------------------------------------------------------
# The figure: the graph, and a panel that says what each step did
# --------------------------------------------------------------------------------------------------
FIG_W = drawing.FIG_W
PANEL_H = 172           # four lines of text
PANEL_GAP = 12
EDGE_GREY, DEAD_GREY = "#3a3a3a", "#8a8a8a"
DONE_GREEN = "#1B6E3A"
LEGEND = {"leaf": "input", "inner": "op output", "loss": "loss", "barrier": "used 2+ times",
          "dead": "off the path"}


def poly_arrow(svg, pts, colour, width, head, dash=None):
    """A polyline through pts, its last segment an arrow (drawing.arrow) ending at pts[-1]."""
    if len(pts) > 2:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        points = " ".join(f"{drawing.n2(x)},{drawing.n2(y)}" for x, y in pts[:-1])
        svg.add(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{width}" '
                f'stroke-linejoin="round" stroke-linecap="round"{d}/>')
    drawing.arrow(svg, *pts[-2], *pts[-1], colour, width=width, dash=dash, head=head)


def outline(svg, box, pad, colour, width, dash=None):
    x0, y0, x1, y1 = box
    d = f' stroke-dasharray="{dash}"' if dash else ""
    svg.add(f'<rect x="{drawing.n2(x0 - pad)}" y="{drawing.n2(y0 - pad)}" '
            f'width="{drawing.n2(x1 - x0 + 2 * pad)}" height="{drawing.n2(y1 - y0 + 2 * pad)}" '
            f'rx="{12 + pad}" fill="none" stroke="{colour}" stroke-width="{width}"{d}/>')


def group(svg, start, until=None):
    end = "" if until is None else f' data-until="{until}"'
    svg.add(f'<g data-step="{start}"{end}>')


class Figure:
    """The page's figure for one walk: draws it, and checks at every step that no label covers
    another, an edge or the figure's side (drawing.Svg.collisions)."""

    def __init__(self, program, walk, height):
        self.program, self.walk = program, walk
        self.steps = walk.deliveries
        self.final = len(self.steps) + 1          # the last key press: the result
        self.svg = drawing.Svg(FIG_W, height)
        self.timed = []                           # (label box, first step, until)
        self.graph_bottom = height - PANEL_H - PANEL_GAP
        self.lines = {k: self.box_lines(k) for k in program.labels}
        sizes = {k: self.box_size(k) for k in program.labels}
        inputs = {k: walk.inputs(k) for k in program.labels}
        area = (FIG_MARGIN, FIG_MARGIN, FIG_W - FIG_MARGIN, self.graph_bottom - 4)
        self.lay = Layout(program.labels, inputs, sizes, area)
        self.edge_of = self.match_deliveries()

    # -- what each box says ---------------------------------------------------------------------
    def box_lines(self, k):
        """(first line, the value's line or none, [(first step, text, colour, weight), ...]): the
        last line of the box holds the node's running total, from step to step."""
        node = self.program.node(k)
        head = f"{k} = {node.expr}"
        fixed = [] if node.op is None else [f"= {fmt(self.walk.value(k))}"]
        if k == self.walk.loss_name:
            return head, fixed, [(0, "grad 1", INK, "bold")]
        if k not in self.walk.grad:
            return head, fixed, [(0, "off the path", "#444444", "normal")]
        states = [(0, "grad ?", MUTED, "normal")]
        for d in self.steps:
            if d.receiver == k:
                more = d.waiting > 0
                # in red, in a red dashed ring, while more is to come
                states.append((d.n, f"grad {fmt(d.total)}", WAIT if more else INK, "bold"))
        return head, fixed, states

    def box_size(self, k):
        """Wide enough for every text the box shows, one line for the running total."""
        head, fixed, states = self.lines[k]
        lines = [(head, True)] + [(s, False) for s in fixed]
        return box_size(lines + [(s[1], s[3] == "bold") for s in states], 2 + len(fixed))

    def kind(self, k):
        if k == self.walk.loss_name:
            return "loss"
        if k not in self.walk.grad:
            return "dead"
        if self.walk.complete_step[k].nth > 1:          # it was sent more than one gradient
            return "barrier"
        return "inner" if self.walk.inputs(k) else "leaf"

    def match_deliveries(self):
        """Step n -> the edge it went along (a * a: the first delivery to a on the first edge)."""
        taken = collections.Counter()
        out = {}
        for d in self.steps:
            key = (d.sender, d.receiver)
            same = [e for e in self.lay.edges if (e.consumer, e.source) == key]
            out[d.n] = same[taken[key]]
            taken[key] += 1
        return out

    # -- drawing ----------------------------------------------------------------------------------
    def render(self, check):
        """The SVG, with the result of the gradients' check on its last step; ExploreError if a
        label covers something at some step."""
        self.draw_edges()
        self.draw_walk()
        self.draw_boxes()
        self.draw_panel(check)
        self.check_every_step()
        title = f"The engine's walk through {self.walk.loss_name}, step by step"
        return self.svg.render(title)

    def draw_edges(self):
        """The forward edges, grey (dashed into a node off the path); registered for the check."""
        for e, pts in zip(self.lay.edges, self.lay.points):
            dead = e.consumer not in self.walk.grad and e.consumer != self.walk.loss_name
            colour = DEAD_GREY if dead else EDGE_GREY
            poly_arrow(self.svg, pts, colour, 3, 14, "10 8" if dead else None)
            for i, (a, b) in enumerate(zip(pts, pts[1:])):
                # (its ends touch their boxes: the check starts 8 px clear of them, sideways)
                clear = max(12, 8 * math.hypot(b[0] - a[0], b[1] - a[1]) / max(abs(b[0] - a[0]), 1))
                a, b = trim(a, b, clear if i == 0 else 0, clear if i == len(pts) - 2 else 0)
                self.svg.arrows.append((f"the edge {e.source} \u2192 {e.consumer}", *a, *b))

    def draw_walk(self):
        """Each delivery: its edge, backwards, in its path's colour: thick on its own step,
        then thinner; the receiver outlined on that step; a red dashed ring while a node waits."""
        for d in self.steps:
            colour = drawing.path_colour(d, drawing.EXAMPLE2_ORDER)[0]
            pts = self.lay.points[self.edge_of[d.n].n][::-1]
            pts[0] = trim(pts[0], pts[1], 16, 0)[0]
            group(self.svg, d.n + 1)
            poly_arrow(self.svg, pts, colour, 6, 20)
            self.svg.add("</g>")
            group(self.svg, d.n, d.n + 1)
            poly_arrow(self.svg, pts, colour, 11, 28)
            outline(self.svg, self.lay.boxes[d.receiver], 4, colour, 4)
            self.svg.add("</g>")
        for k, last in self.walk.complete_step.items():
            first = next(d for d in self.steps if d.receiver == k)
            if first.n < last.n:
                group(self.svg, first.n, last.n)
                outline(self.svg, self.lay.boxes[k], 9, WAIT, 4, "12 8")
                self.svg.add("</g>")

    def draw_boxes(self):
        for k in self.program.labels:
            box = self.lay.boxes[k]
            x0, y0, x1, y1 = box
            fill, stroke, tcol = drawing.node_style(self.kind(k))
            dash = ' stroke-dasharray="9 6"' if self.kind(k) == "dead" else ""
            self.svg.add(f'<g class="box" data-node="{esc(k)}"><rect x="{drawing.n2(x0)}" '
                         f'y="{drawing.n2(y0)}" width="{drawing.n2(x1 - x0)}" '
                         f'height="{drawing.n2(y1 - y0)}" rx="12" fill="{fill}" '
                         f'stroke="{stroke}" stroke-width="3"{dash}/>')
            self.svg.labels.append((f"node {k}", x0, y0, x1, y1))
            head, fixed, states = self.lines[k]
            x, y = x0 + BOX_PAD, y0 + 29
            self.svg.text(x, y, head, MIN_FONT, tcol, "bold", "start")
            for text in fixed:
                y += LINE
                self.svg.text(x, y, text, MIN_FONT, tcol, "normal", "start")
            self.draw_states(k, states, x, y + LINE)
            self.svg.add("</g>")

    def draw_states(self, k, states, x, y):
        """The running total: each text from its step until the next one's."""
        ends = [s[0] for s in states[1:]] + [None]
        for (start, text, colour, weight), until in zip(states, ends):
            group(self.svg, start, until)
            self.svg.text(x, y, text, MIN_FONT, colour, weight, "start",
                          extra=f' class="grad" data-node="{esc(k)}"')
            self.svg.add("</g>")

    # -- the panel --------------------------------------------------------------------------------
    def line(self, row, text, start, until, colour=INK, weight="normal", x=24, anchor="start"):
        """One line of the panel, shown from step `start` until step `until`."""
        y = self.graph_bottom + PANEL_GAP + 38 + 38 * row
        room = FIG_W - 24 - x if anchor == "start" else x - 24
        text = clip(text, room, weight == "bold")
        w = line_w(text, weight == "bold")
        x0 = x if anchor == "start" else x - w
        group(self.svg, start, until)
        self.svg.text(x, y, text, MIN_FONT, colour, weight, anchor, extra=' class="panel"')
        self.svg.add("</g>")
        self.timed.append(((f"the panel's line {text[:20]!r}", x0, y - 24, x0 + w, y + 7),
                           start, until))

    def draw_panel(self, check):
        top = self.graph_bottom + PANEL_GAP
        self.svg.add(f'<rect x="2" y="{top}" width="{FIG_W - 4}" height="{PANEL_H - 2}" rx="12" '
                     f'fill="#F4F6FA" stroke="#41526E" stroke-width="3"/>')
        self.draw_start()
        for d in self.steps:
            self.draw_step(d)
        self.draw_result(check)
        kinds = [k for k in LEGEND if any(self.kind(n) == k for n in self.program.labels)]
        waits = any(d.waiting for d in self.steps)
        group(self.svg, 0, self.final)
        drawing.legend(self.svg, 24, top + 38 * 4 - 10, kinds, waits, LEGEND)
        self.svg.add("</g>")

    def draw_start(self):
        loss, n = self.walk.loss_name, len(self.steps)
        count = collections.Counter(d.receiver for d in self.steps)
        many = [f"{k} {c}" for k, c in count.items() if c > 1]
        self.line(0, f"start: {loss}.backward() sets grad {loss} = 1", 0, 1, weight="bold")
        if many:
            said = "first it counts consumers: " + ", ".join(many) + " (every other node 1)"
        else:
            said = "every node on the path has one consumer: nobody will wait"
        self.line(1, said, 0, 1)
        self.line(2, f"then {n} deliveries, one per key press", 0, 1)

    def draw_step(self, d):
        n = d.n
        colour, tcol = drawing.path_colour(d, drawing.EXAMPLE2_ORDER)
        top = self.graph_bottom + PANEL_GAP
        group(self.svg, n, n + 1)
        drawing.disc(self.svg, 46, top + 27, n, colour, tcol)
        self.svg.add("</g>")
        self.timed.append(((f"the disc of step {n}", 24, top + 5, 68, top + 49), n, n + 1))
        said = f"{d.sender} \u2192 {d.receiver} sends {fmt(d.grad)}"
        self.line(0, said, n, n + 1, weight="bold", x=82)
        self.line(0, f"step {n} of {len(self.steps)}", n, n + 1, MUTED, x=FIG_W - 24,
                  anchor="end")
        grads = drawing.received(self.walk, d)
        got = [fmt(grads[0])] + [show(g) for g in grads[1:]]      # 3 + (−4): in brackets
        if d.waiting:
            status = (f"{d.receiver} has {fmt(d.total)} so far and waits for {d.waiting} more")
            self.line(1, status, n, n + 1, WAIT, "bold")
        else:
            total = " + ".join(got) + f" = {fmt(d.total)}" if len(got) > 1 else fmt(d.total)
            leaf = "" if self.walk.inputs(d.receiver) else f" (a leaf: {d.receiver}.grad)"
            self.line(1, f"{d.receiver} is complete: grad {total} \u2714{leaf}", n, n + 1,
                      weight="bold")
        self.line(2, self.waiting_after(n), n, n + 1)

    def waiting_after(self, n):
        left = {d.receiver: d.waiting for d in self.steps if d.n <= n}     # (in order of arrival)
        waits = [f"{k} for {left[k]} more" for k in left if left[k]]
        return "waiting: " + ", ".join(waits) if waits else "nobody is waiting"

    def draw_result(self, c):
        """The last step: the check's verdict, then the leaves' gradients."""
        f = self.final
        grads = leaf_grads(self.program, self.walk)
        items = [f"{k}.grad = {show_grad(g)}" for k, g in grads.items()]
        if c.ok:
            said = f"\u2714 checked with {c.method}: the same ({within(c.max_diff)})"
            self.line(0, said, f, None, DONE_GREEN, "bold")
        else:
            said = f"\u2718 checked with {c.method}: " + ", ".join(
                f"{k} differs ({show_grad(c.theirs[k])} there)" for k in c.bad)
            self.line(0, said, f, None, WAIT, "bold")
        rows = wrap(["the leaves' gradients: " + items[0]] + items[1:], FIG_W - 60)
        if not c.ok and c.method != "torch.autograd":
            rows.append("(at a kink, like relu at 0, finite differences cannot agree)")
        if len(rows) > 3:                   # (every one of them is in its box too)
            rows[2:] = [" ".join(rows[2:])]
        for i, row in enumerate(rows):
            self.line(1 + i, row, f, None)

    def check_every_step(self):
        """Svg.collisions on what shows at each step: boxes, edges, and that step's labels."""
        for s in range(self.final + 1):
            probe = drawing.Svg(self.svg.w, self.svg.h)
            probe.arrows, probe.circles = self.svg.arrows, self.svg.circles
            shown = [b for b, a, u in self.timed if a <= s and (u is None or s < u)]
            probe.labels = self.svg.labels + shown
            bad = probe.collisions()
            if bad:
                raise ExploreError(f"cannot lay out this graph without overlaps: {bad[0]}")


def trim(a, b, from_a, from_b):
    """The segment a-b shortened by from_a at a and from_b at b."""
    (ax, ay), (bx, by) = a, b
    length = max(math.hypot(bx - ax, by - ay), 1e-9)
    ux, uy = (bx - ax) / length, (by - ay) / length
    return (ax + ux * from_a, ay + uy * from_a), (bx - ux * from_b, by - uy * from_b)


def show_grad(g):
    return "None" if g is None else fmt(g)


def within(d):
    return "exactly" if d == 0 else f"within {d:.1e}"


def clip(text, width, bold=False):
    """The text, cut short with an ellipsis if it is wider than width."""
    if line_w(text, bold) <= width:
        return text
    while line_w(text + "\u2026", bold) > width:
        text = text[:-1]
    return text + "\u2026"


def wrap(items, width):
    """Items joined with ", " into lines no wider than width (28 px text)."""
    rows = [items[0]]
    for item in items[1:]:
        if line_w(rows[-1] + ", " + item) > width:
            rows[-1] += ","
            rows.append(item)
        else:
            rows[-1] += ", " + item
    return rows


# --------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------
# The heading's type is page.css's section.explore h2: code at 32 px, lines 1.25 x 34 px apart
HEAD_CHARS = 72         # of the program per heading line (32 px monospace: 75 fit)
HEAD_LINE = 43          # px a heading line takes
FIG_H_ONE_LINE = 738    # the figure under a one-line heading, above the footer


def heading_lines(statements):
    """The program over the graph: its statements joined with "; " into lines of HEAD_CHARS at
    most (a longer statement broken at its spaces)."""
    lines = []
    for s in statements:
        pieces = textwrap.wrap(s, HEAD_CHARS)
        if lines and len(lines[-1]) + 2 + len(pieces[0]) <= HEAD_CHARS:
            lines[-1] += "; " + pieces[0]
        else:
            if lines:
                lines[-1] += ";"
            lines.append(pieces[0])
        lines += pieces[1:]
    return lines


def lay_out(program, walk, check):
    """(SVG, heading lines): the program over the graph, in up to three lines; if the graph needs
    the room they take (it cannot be laid out in less, or not without overlaps), only the first
    line, cut short (the boxes show every statement)."""
    lines = heading_lines(program.statements)
    if len(lines) <= 3:
        try:
            height = FIG_H_ONE_LINE - HEAD_LINE * (len(lines) - 1)
            return Figure(program, walk, height).render(check), lines
        except ExploreError:
            if len(lines) == 1:
                raise
    one = "; ".join(program.statements)
    if len(one) > HEAD_CHARS:
        one = one[:HEAD_CHARS - 1].rstrip() + "\u2026"
    return Figure(program, walk, FIG_H_ONE_LINE).render(check), [one]


def page(program, walk, svg, lines, check):
    """The HTML page: the program as the slide's heading, the figure under it."""
    title = "<br>".join(f"<code>{esc(ln)}</code>" for ln in lines)
    body = build.figure_html(svg)
    verdict = "passed" if check.ok else "FAILED"
    notes = build.deck.bullets(
        "Program: " + "; ".join(program.statements),
        f"{len(walk.deliveries)} deliveries; the loss is {program.loss}.",
        "Keys: right arrow or space next delivery, left arrow back, Home start, "
        "End the result, f full screen.",
        f"Gradients checked with {check.method}: {verdict}.",
        "Made by slides/explore.py with mytorch's loss.backward(trace=...).")
    made = "slides/explore.py from mytorch.py"
    return build.render_page([("walk", title, body, notes, "explore")],
                             f"MyTorch: the walk through {program.loss}", made)


def make_page(source, how="auto"):
    """(html, program, walk, check) for a program; ExploreError if it cannot be drawn."""
    program = Program(source)
    mt, walk = walk_program(program)
    check = check_gradients(mt, program, walk, how)      # (its result is drawn on the last step)
    svg, lines = lay_out(program, walk, check)
    return page(program, walk, svg, lines, check), program, walk, check


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("program", help='statements, e.g. "a = 2; b = -1; y = a * b" ("-": stdin)')
    ap.add_argument("--out", default="walk.html", help="the page to write (default: walk.html)")
    ap.add_argument("--check", choices=("auto", "torch", "differences"), default="auto",
                    help="check the gradients against torch.autograd or finite differences "
                         "(auto: torch if it can be imported)")
    args = ap.parse_args(argv)
    source = sys.stdin.read() if args.program == "-" else args.program
    try:
        html, program, walk, check = make_page(source, args.check)
    except ExploreError as exc:
        print(f"explore.py: {exc}", file=sys.stderr)
        return 2
    try:
        build.write(args.out, html)
    except OSError as exc:
        print(f"explore.py: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    verdict = "the same" if check.ok else f"DIFFERENT gradients for {', '.join(check.bad)}"
    print(f"wrote {args.out}: {len(program.nodes)} nodes, {len(walk.deliveries)} deliveries; "
          f"{check.method}: {verdict}")
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
