"""What the deck computes from the engine at build time: the example walks (traced), the code cut out
of mytorch.py, the MNIST model checked against the engine, and the numbers of the later sections.
"""
import ast
import collections
import contextlib
import importlib
import inspect
import io
import sys
import textwrap
import tokenize
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


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
    v = number(v)
    if abs(v) < 5e-13:
        v = 0.0
    if abs(v - round(v)) < 1e-9 and abs(v) < 1e6:
        s = str(int(round(v)))
    else:
        s = f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) >= 1e-3 else f"{v:.3e}"
    return s.replace("-", "\u2212")


def array(x):
    """A numpy array from an array, a number or a Tensor (its values, as t.detach().numpy())."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().numpy()
    return np.asarray(x)


def number(x):
    """The first element of an array / Tensor, as a Python float."""
    return float(array(x).astype(np.float64).reshape(-1)[0])


Delivery = collections.namedtuple(
    "Delivery", "n sender receiver grad waiting path complete total nth")


class Walk:
    """A run of loss.backward(trace=...) on a small named graph, in the engine's own order."""

    def __init__(self, mytorch, names, loss_name):
        self.names = dict(names)                       # label -> Tensor
        self.label = {id(t): k for k, t in self.names.items()}
        self.loss_name = loss_name
        # Read the recorded graph before backward: the engine frees it (sets _edges to None) after.
        self._inputs = {k: [self.label[id(e[0])] for e in (t._edges or ()) if id(e[0]) in self.label]
                        for k, t in self.names.items()}
        self._ops = {k: getattr(t, "_op", None) for k, t in self.names.items()}
        loss = self.names[loss_name]
        raw = []
        loss.backward(trace=raw.append)
        self.raw = raw
        self.deliveries = []
        got = collections.defaultdict(list)            # label -> grads received so far
        path = -1
        for i, st in enumerate(raw):
            s, r = self._lab(st.sender), self._lab(st.receiver)
            g = number(st.grad)
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
        self.grad[loss_name] = 1.0
        for k, t in self.names.items():  # leaves: the engine's own .grad must agree with the walk
            if k in self.grad and not self._inputs[k] and t.grad is not None:
                if abs(number(t.grad) - self.grad[k]) > 1e-9:
                    raise SystemExit(f"build.py: {k}.grad disagrees with the traced walk")
        self.complete_step = {d.receiver: d for d in self.deliveries if d.complete}

    def _lab(self, t):
        try:
            return self.label[id(t)]
        except KeyError:
            raise SystemExit("build.py: the engine delivered a gradient to a tensor the example "
                             "did not name (a constant?); name it in the example or adapt build.py")

    def value(self, k):
        return number(self.names[k])

    def inputs(self, k):
        """Named inputs of node k, from the graph the engine recorded (t._edges, read before backward)."""
        return list(self._inputs[k])

    def op(self, k):
        return self._ops[k]


def T(mytorch, v):
    return mytorch.Tensor(np.array(float(v), dtype=np.float64), requires_grad=True)


def example1(mt, walk=True):
    """Example 1, walked by the engine (or, with walk=False, just its named tensors)."""
    a, b, c, d = (T(mt, v) for v in (2, -1, 3, 4))
    p = a + b
    q = c + d
    y = p * q
    names = dict(a=a, b=b, c=c, d=d, p=p, q=q, y=y)
    return Walk(mt, names, "y") if walk else names


def example2(mt, walk=True):
    names = example2_graph(mt)[1]
    return Walk(mt, names, "y") if walk else names


def ungated_example2(mt, walkers):
    """Example 2 without the gate, two ways: passing on each increment (right, but everything below h
    is walked once per path) and passing on h's running sum (the tutorial's "THIS IS WRONG")."""
    out = {}
    for how in ("increments", "totals"):
        y, names = example2_graph(mt)
        w = walkers.ungated_depth_first(y, send_total=how == "totals")
        out[how] = {k: number(w.grads[id(names[k])]) for k in "abcd"}
        out[how + "_edges"] = len(w.deliveries)
    return out


def sigmoid_is_one_op(mt):
    """MyTorch's own x.sigmoid(): one op with one edge (not the four-op composition of the slides)."""
    s = mt.tensor([0.5], requires_grad=True).sigmoid()
    return len(s._edges) == 1 and not any(e[0]._edges for e in s._edges)


PREDICT_CODE = """\
a = mytorch.tensor(2.0, requires_grad=True)
b = mytorch.tensor(-1.0, requires_grad=True)
c = mytorch.tensor(3.0, requires_grad=True)
h = a * b
k = h + c
y = k * h
name = {id(t): n for n, t in dict(a=a, b=b, c=c, h=h, k=k, y=y).items()}
def show(step):
    print(name[id(step.sender)], "->", name[id(step.receiver)],
          step.grad, "waiting:", step.waiting)
y.backward(trace=show)
"""


def predict_exercise(mt):
    """The in-class exercise: its check code, run as it is on the slide; what it printed, and a.grad."""
    out = io.StringIO()
    ns = {"mytorch": mt}
    stdout, sys.stdout = sys.stdout, out
    try:
        exec(compile(PREDICT_CODE, "<slide: predict>", "exec"), ns)
    finally:
        sys.stdout = stdout
    lines = out.getvalue().splitlines()
    waits = [ln.split()[2] for ln in lines if not ln.endswith("waiting: 0")]
    wait_after = [ln.split()[0] for ln in lines if not ln.endswith("waiting: 0")]
    completes = [ln.split()[0] for ln in lines if waits and ln.split()[2] == waits[0]][-1:]
    return dict(code=PREDICT_CODE, printed=lines, waits=waits, wait_after=wait_after, completes=completes,
                grads={k: number(ns[k].grad) for k in "abc"},
                h=[float(ln.split()[3]) for ln in lines if ln.split()[2] == "h"])


def example3(mt, walk=True):
    a, b, c = (T(mt, v) for v in (2, -1, 3))
    h = a * b
    side = h * 3          # computed for logging only: never reaches y
    y = h * c
    if not walk:
        return dict(a=a, b=b, c=c, h=h, side=side, y=y)
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


def exercise_graph(mt, walk=True):
    a, b, c = (T(mt, v) for v in (2, -1, 3))
    h = a * b
    k = h + c
    y = k * h
    names = dict(a=a, b=b, c=c, h=h, k=k, y=y)
    return Walk(mt, names, "y") if walk else names



# ----------------------------------------------------------------------------------------------------
# Code extraction and highlighting
# ----------------------------------------------------------------------------------------------------
def called_helpers(mod, cls, func):
    """The engine's own functions that `func` (a method of `cls`) calls, in order of first appearance:
    {name: function}, for module-level functions of `mod` called as name(...) and methods of `cls`
    called as self.name(...)."""
    src = textwrap.dedent(inspect.getsource(func))
    calls = []
    for node in ast.walk(ast.parse(src)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name):
            obj = getattr(mod, node.func.id, None)
        elif isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "self":
            obj = inspect.getattr_static(cls, node.func.attr, None)
        else:
            continue
        name = getattr(node.func, "id", None) or node.func.attr
        calls.append((node.lineno, node.col_offset, name, obj))
    out = {}
    for _, _, name, obj in sorted(calls, key=lambda c: c[:2]):
        if inspect.isfunction(obj) and obj.__module__ == mod.__name__ and name not in out:
            out[name] = obj
    return out


def calls(stmt, name):
    """Whether the statement calls `name`, as name(...) or as something.name(...)."""
    return any(isinstance(n, ast.Call) and name in (getattr(n.func, "id", None),
                                                     getattr(n.func, "attr", None))
               for n in ast.walk(stmt))


def docstring(node):
    """The docstring of a function or class (an ast node): its first statement if that is a string
    on its own, else None."""
    body = getattr(node, "body", None)
    first = body[0] if isinstance(body, list) and body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
            isinstance(first.value.value, str):
        return first
    return None


def strip_docstring(src):
    ds = docstring(ast.parse(src).body[0])
    if ds is not None:
        lines = src.splitlines(True)
        del lines[ds.lineno - 1:ds.end_lineno]
        return "".join(lines), True
    return src, False


def source_of(obj):
    lines, start = inspect.getsourcelines(obj)
    src = textwrap.dedent("".join(lines))
    return src, start, start + len(lines) - 1



# ----------------------------------------------------------------------------------------------------
# The MNIST slide: the model code is checked against the engine at build time
# ----------------------------------------------------------------------------------------------------
MNIST_LOOP_CODE = '''\
model = MyTorchMNIST()
loss_fn = nn.CrossEntropyLoss()
opt = optim.SGD(model.parameters(),
                OPTIONS)

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
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["RECIPE"]:
            recipe = {kw.arg: kw.value.value for kw in node.value.keywords}   # RECIPE = dict(lr=..., ...)
            defaults.update({"--" + k.replace("_", "-"): v for k, v in recipe.items()})
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and node.args \
                and isinstance(node.args[0], ast.Constant):
            for kw in node.keywords:
                if kw.arg == "default" and isinstance(kw.value, ast.Constant):
                    defaults[node.args[0].value] = kw.value.value
    if model is None:
        raise SystemExit("build.py: train_mnist.py defines no class MyTorchMNIST; adapt build.py")
    model = "import mytorch.nn as nn\nimport mytorch.optim as optim\n\n" + model + "\n"
    lr, mom = defaults.get("--lr", 0.1), defaults.get("--momentum", 0)
    opt = f"lr={lr}" + (f", momentum={mom},\n                nesterov=True" if mom else "")
    loop = MNIST_LOOP_CODE.replace("OPTIONS", opt).replace("EPOCHS", str(defaults.get("--epochs", "EPOCHS")))
    return strip_trailing_comments(model), loop, "train_mnist.py", defaults.get("--batch-size")


def mnist_display(model_code, loop_code):
    """The MNIST code in two slide-sized parts, blank lines left out: the class; the imports and the
    training loop. Both are cut from the code the build runs."""
    lines = model_code.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("class "))
    model = "\n".join(ln for ln in lines[start:] if ln.strip()) + "\n"
    imports = [ln for ln in lines[:start] if ln.startswith(("import ", "from "))]
    loop = "\n".join(imports + [ln for ln in loop_code.splitlines() if ln.strip()]) + "\n"
    return dict(model_show=model, loop_show=loop)


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
    if array(out).shape != (2, 10):
        raise SystemExit(f"build.py: the MNIST model on the slide gives shape {array(out).shape}")
    n_params = sum(array(p).size for p in model.parameters())
    return n_params, len(list(model.parameters()))




# ----------------------------------------------------------------------------------------------------
# The backward code, quoted large: the statements from the consumer count to the end of the walk
# ----------------------------------------------------------------------------------------------------
MAX_CODE_LINES = 14     # the most lines a code slide shows (test_slides.py holds the deck to it)
# How a code block is set (drawing.code_block; page.css's pre.code)
CODE_MIN = 28   # px on the stage: code is never set smaller (split a slide whose code does not fit)
CODE_LINE = 1.25    # line height, in font sizes
CODE_CHAR = 0.602   # DejaVu Sans Mono's advance, in font sizes
CODE_PAD_W, CODE_PAD_H = 44, 36   # a <pre class="code">'s padding and border (page.css)


def code_chars(max_w=1472):
    """How many characters a code line may have to fit a code block max_w px wide at CODE_MIN (28
    px): 84 across the whole slide."""
    return int((max_w - CODE_PAD_W) / (CODE_MIN * CODE_CHAR))


class Projected(collections.namedtuple("Projected", "src first last comments_left_out too_big")):
    """Lines of a source file as a slide shows them: `src` (dedented together), the file's line
    numbers of its first and last line, whether whole-line comments were left out to stay within
    MAX_CODE_LINES, and what of it does not fit a code slide (size_problems: a list, empty if it
    fits)."""


def project(numbered, file, what):
    """The slide's view of some source lines, given as (line number in `file`, text): dedented
    together, every line otherwise as written. Whole-line comments stay if the block still fits
    MAX_CODE_LINES lines, else they are all left out. too_big names each line wider than a code
    block holds at the smallest code size (28 px), and the block if it is longer than
    MAX_CODE_LINES: run_all then stops the build (stop_if_too_big), as the deck never rewraps or
    cuts the engine's lines: they must be shortened in the source."""
    while numbered and not numbered[-1][1].strip():
        numbered = numbered[:-1]
    code = [(n, ln) for n, ln in numbered if not ln.strip().startswith("#")]
    left_out = len(numbered) > MAX_CODE_LINES and len(code) < len(numbered)
    shown = code if left_out else numbered
    src = textwrap.dedent("\n".join(ln for _, ln in shown)) + "\n"
    indent = min((len(ln) - len(ln.lstrip()) for _, ln in shown if ln.strip()), default=0)
    too_big = size_problems(list(zip((n for n, _ in shown), src.splitlines())), indent, file, what)
    return Projected(src, shown[0][0], shown[-1][0], left_out, too_big)


def size_problems(numbered, indent, file, what):
    """What does not fit a code slide, as messages: each projected line (number, text as shown)
    wider than a code block holds at 28 px, and a block longer than a code slide holds."""
    limit = code_chars()
    out = [f"{file} line {n}: {len(text)} characters on the slide {what!r} "
           f"({len(text) + indent} in the file, where the block starts {indent} spaces in)"
           for n, text in numbered if len(text) > limit]
    if len(numbered) > MAX_CODE_LINES:
        out.append(f"{file} lines {numbered[0][0]}-{numbered[-1][0]}: {len(numbered)} lines "
                   f"of code on the slide {what!r}, which holds {MAX_CODE_LINES}")
    return out


def stop_if_too_big(problems):
    """Stop the build if the code slides' blocks had any size_problems."""
    if problems:
        raise SystemExit(
            "build.py: the code slides show mytorch.py's lines as written: at 28 px a code line "
            f"holds {code_chars()} characters (after the indentation the block has in common), "
            f"a code slide {MAX_CODE_LINES} lines. Too big:\n  " + "\n  ".join(problems)
            + "\nShorten those in mytorch.py: the deck does not rewrap or cut them.")


def walk_code(mt, helper):
    """The essential lines of Tensor.backward, for three code slides: the set-up (from the statement
    that calls `helper`, the consumer count, to the walk's loop), the loop up to the delivery and
    its sum, and the rest of the loop (from the count-down, the first `x[...] -= 1`: the gate); and
    what follows the loop (freeing the graph), for the appendix. Each cut is as written in
    mytorch.py."""
    raw, a = inspect.getsourcelines(mt.Tensor.backward)
    lines = [ln.rstrip("\n") for ln in raw]           # as in the file, indentation and all
    b = a + len(raw) - 1
    fn = ast.parse(textwrap.dedent("".join(raw))).body[0]
    start = next((i for i, stmt in enumerate(fn.body) if calls(stmt, helper)), None)
    if start is None:
        raise SystemExit(f"build.py: Tensor.backward no longer calls {helper}(); adapt engine_runs.py")
    loops = [i for i, stmt in enumerate(fn.body) if i > start and isinstance(stmt, (ast.While, ast.For))]
    if not loops:
        raise SystemExit("build.py: Tensor.backward has no loop after the consumer count; adapt "
                         "engine_runs.walk_code")
    split = loops[-1]
    file = Path(inspect.getsourcefile(mt)).name

    def cut(first, last, what):      # lines first..last of the function (1-based), projected
        return project([(a + k - 1, lines[k - 1]) for k in range(first, last + 1)], file, what)

    body = fn.body[split].body
    j = next((k for k, st in enumerate(body) if isinstance(st, ast.AugAssign)
              and isinstance(st.op, ast.Sub) and isinstance(st.target, ast.Subscript)), len(body) // 2)
    first = fn.body[start].lineno
    while first > 1 and lines[first - 2].strip().startswith("#"):    # the comment above it too
        first -= 1
    setup = cut(first, fn.body[split].lineno - 1, "Tensor.backward, set-up")
    loop_a = cut(fn.body[split].lineno, body[j].lineno - 1, "the walk, 1. deliver")
    loop_b = cut(body[j].lineno, body[-1].end_lineno, "the walk, 2. the gate")
    after = None
    if split + 1 < len(fn.body):
        after = cut(fn.body[split].end_lineno + 1, fn.body[-1].end_lineno, "frees the graph")
    too_big = [m for part in (setup, loop_a, loop_b, after) if part for m in part.too_big]
    return dict(setup=setup, loop_a=loop_a, loop_b=loop_b, after=after, fn_first=a, fn_last=b,
                too_big=too_big)


def count_code(mt):
    """The consumer-counting helper that Tensor.backward calls, cut out of mytorch.py as written
    (its docstring left out if the whole function is longer than a slide holds)."""
    helpers = called_helpers(mt, mt.Tensor, mt.Tensor.backward)
    counting = [h for h in helpers if "count" in h or "consumer" in h]
    if not counting:
        raise SystemExit("build.py: Tensor.backward calls no helper whose name says it counts "
                         f"consumers (it calls {', '.join(helpers) or 'none'}); adapt engine_runs.py")
    name = counting[0]
    lines, a = inspect.getsourcelines(helpers[name])
    numbered = [(a + k, ln.rstrip("\n")) for k, ln in enumerate(lines)]
    doc = docstring(ast.parse(textwrap.dedent("".join(lines))).body[0])
    omitted = ""
    if doc is not None and len(numbered) > MAX_CODE_LINES:
        numbered = [(n, ln) for k, (n, ln) in enumerate(numbered, 1)
                    if not doc.lineno <= k <= doc.end_lineno]
        omitted = " (docstring left out)"
    file = Path(inspect.getsourcefile(mt)).name
    p = project(numbered, file, f"The code: {name}")
    return dict(name=name, src=p.src, first=p.first, last=p.last, too_big=p.too_big,
                omitted=omitted + (" (comment lines left out)" if p.comments_left_out else ""))


def run_all(mt):
    """Everything the deck shows that comes from the engine."""
    import types
    import walkers
    r = types.SimpleNamespace()
    r.w1, r.w2, r.w3 = example1(mt), example2(mt), example3(mt)
    r.ws, r.wx = sigmoid_chain(mt), exercise_graph(mt)
    r.mt_file = Path(inspect.getsourcefile(mt)).name
    r.count_code = count_code(mt)
    r.walk_code = walk_code(mt, r.count_code["name"])
    stop_if_too_big(r.count_code["too_big"] + r.walk_code["too_big"])
    model_code, loop_code, origin, batch = mnist_code()
    n_params, n_tensors = check_mnist_model(mt, model_code)
    r.mnist = dict(model_code=model_code, loop_code=loop_code, origin=origin, batch=batch,
                   n_params=n_params, n_tensors=n_tensors, **mnist_display(model_code, loop_code))
    if not isinstance(batch, int):
        raise SystemExit("build.py: train_mnist.py has no default --batch-size; the deck "
                         "measures the MNIST model at the batch size training uses")
    r.batch = batch                  # every MNIST figure of the deck at training's batch size
    r.ladder = ladder_counts(mt, walkers)
    r.orders = order_compare(mt, walkers)
    r.buffers = buffer_peaks(mt, walkers, model_code, r.batch)
    r.depth = recursion_depths(mt, walkers)
    r.forwarding = ungated_example2(mt, walkers)
    r.sigmoid_op = sigmoid_is_one_op(mt)
    r.predict = predict_exercise(mt)
    r.recursive = recursive_walk_check(mt, walkers)
    r.kept = kept_loss_memory(mt, model_code, r.batch)
    r.solutions = solutions(mt, r.wx)
    return r


# ----------------------------------------------------------------------------------------------------
# Gated walk or topological sort? (the walkers are lecture code in walkers.py)
# ----------------------------------------------------------------------------------------------------
def ladder(mt, depth):
    """A ladder of diamonds: x, then `depth` times h = h*2 + h*3 (h used twice, as in example 2)."""
    x = T(mt, 1)
    h = x
    for _ in range(depth):
        h = h * 2 + h * 3
    return x, h


def ladder_counts(mt, walkers, depths=(5, 10, 20), walk_up_to=10):
    """Edges walked by the engine's gated walk (its trace) and by an ungated walk, per depth. Up to
    depth `walk_up_to` the ungated walk is really run (and must give the engine's gradient); beyond
    that its deliveries are counted (one per path into each edge), not made."""
    rows = []
    for n in depths:
        x, h = ladder(mt, n)
        ungated = walkers.ungated_edge_count(h)
        ran = False
        if n <= walk_up_to:
            w = walkers.ungated_depth_first(h)
            if len(w.deliveries) != ungated:
                raise SystemExit("build.py: the ungated walk and its path count disagree")
            ungated_grad = number(w.grads[id(x)])
            ran = True
        steps = []
        h.backward(trace=steps.append)
        if ran and abs(ungated_grad - number(x.grad)) > 1e-9 * abs(number(x.grad)):
            raise SystemExit("build.py: the ungated walk gives another gradient than the engine")
        rows.append(dict(depth=n, gated=len(steps), ungated=ungated, ran=ran, grad=number(x.grad),
                         nodes=1 + 3 * n))
    return rows


def example2_graph(mt):
    a, b, c, d = (T(mt, v) for v in (2, -1, 3, 4))
    h = a + b
    m1 = c * h
    m2 = h * d
    y = m1 + m2
    return y, dict(a=a, b=b, c=c, d=d, h=h, m1=m1, m2=m2, y=y)


@contextlib.contextmanager
def creation_order(mt):
    """Number the nodes the engine makes while the block runs, in the order it makes them, as
    PyTorch numbers its nodes (sequence_nr): {id(node): number}. Every op's output comes from
    mytorch.record, so the build wraps it for the block (and puts it back after)."""
    numbers, made = {}, []            # made: keeps each node alive, so no id is reused meanwhile
    original = mt.record

    def numbered(*args, **kwargs):
        out = original(*args, **kwargs)
        made.append(out)
        numbers[id(out)] = len(made)
        return out
    mt.record = numbered
    try:
        yield numbers
    finally:
        mt.record = original


def check_numbered(walkers, root, created):
    """Every node of root's graph got a creation number, after the numbers of its inputs."""
    for node in walkers.topological_order(root):
        if not walkers.edges(node):
            continue
        if id(node) not in created:
            raise SystemExit("build.py: the engine made a node without mytorch.record; adapt "
                             "engine_runs.creation_order (PyTorch's order needs creation numbers)")
        if any(created.get(id(x), 0) > created[id(node)] for x, _ in walkers.edges(node)):
            raise SystemExit("build.py: a node was numbered before one of its inputs")


def the_orders(walkers, created):
    """The orders the deck compares, one set throughout: (short name, which ready node goes next,
    walker)."""
    return [("MyTorch", "the newest, at once (a stack)", walkers.gated_depth_first),
            ("breadth-first", "the oldest (a queue)", walkers.gated_queue),
            ("PyTorch", "the one created last (a priority queue)",
             lambda root: walkers.gated_by_creation(root, created)),
            ("micrograd", "sorts first; keeps every gradient", walkers.micrograd)]


def order_compare(mt, walkers):
    """Example 2 walked by the engine (traced) and in each of the deck's other orders: the
    deliveries in order (sender, receiver, gradient), and the leaves' gradients, which must be the
    same."""
    with creation_order(mt) as created:
        y, names = example2_graph(mt)
    check_numbered(walkers, y, created)
    lab = {id(t): k for k, t in names.items()}
    topo_list = [lab[id(t)] for t in walkers.topological_order(y)]
    compared = the_orders(walkers, created)
    walks = {name: walker(y) for name, _, walker in compared}
    steps = []
    y.backward(trace=steps.append)
    engine = [(lab[id(s.sender)], lab[id(s.receiver)], number(s.grad)) for s in steps]
    orders = []
    for name, how, _ in compared:
        order = [(lab[id(s)], lab[id(r)], number(g)) for s, r, g in walks[name].deliveries]
        orders.append((name, how, order))
    if [e[:2] for e in engine] != [o[:2] for o in orders[0][2]]:
        raise SystemExit("build.py: walkers.gated_depth_first no longer walks in the engine's order")
    leaves = ["a", "b", "c", "d"]
    grads_engine = {k: number(names[k].grad) for k in leaves}
    same = all(abs(number(w.grads[id(names[k])]) - grads_engine[k]) < 1e-12
               for w in walks.values() for k in leaves)
    if not same:
        raise SystemExit("build.py: the orders give example 2 different gradients")
    return dict(engine=engine, orders=orders, grads=grads_engine, topo_list=topo_list)


def mnist_model(mt, model_code, batch, seed=0):
    """The tutorial's MLP (the class from train_mnist.py, run against mytorch) on one random batch."""
    ns = {}
    exec(compile(model_code, "<slide: MNIST model>", "exec"), ns)
    np.random.seed(seed)                     # in case the engine initialises from numpy's global RNG
    model = ns["MyTorchMNIST"]()
    rng = np.random.RandomState(seed)
    images = mt.Tensor(rng.rand(batch, 784).astype(np.float32))
    labels = rng.randint(0, 10, size=batch)
    loss_fn = ns["nn"].CrossEntropyLoss()
    return model, images, labels, loss_fn


def reused_layer(mt, batch):
    """One layer written out as x @ W.T + b (no linear op), used four times: the kind of model on
    which PyTorch's developers found a breadth-first order costly (pull request #4746)."""
    rng = np.random.RandomState(1)
    w = mt.Tensor((rng.randn(256, 256) * 0.05).astype(np.float32), requires_grad=True)
    b = mt.Tensor(np.zeros(256, np.float32), requires_grad=True)
    h = mt.Tensor(rng.rand(batch, 256).astype(np.float32))
    for _ in range(4):
        h = (h @ w.T + b).sigmoid()
    return h.sum()


def buffer_peaks(mt, walkers, model_code, batch):
    """The most gradient buffers alive at once during one backward, and their distinct bytes, in
    each of the deck's orders, on the MNIST model and on one layer used four times. Also Kahn's
    algorithm with a stack (the newest ready node, but only after all of the sender's edges), which
    shows where the engine's extra memory on the reused layer comes from."""
    with creation_order(mt) as created:
        model, images, labels, loss_fn = mnist_model(mt, model_code, batch)
        graphs = [("MNIST MLP", loss_fn(model(images), labels)),
                  ("layer used 4\u00d7", reused_layer(mt, batch))]
    orders = the_orders(walkers, created)
    out = collections.OrderedDict()
    stack_kahn = {}
    nodes = {g: sum(1 for n in walkers.topological_order(r) if walkers.edges(n)) for g, r in graphs}
    for gname, root in graphs:
        check_numbered(walkers, root, created)
        ref = None
        for oname, _, walk in orders:
            w = walk(root)
            grads = {k: array(v) for k, v in w.grads.items()}
            if ref is None:
                ref, first = grads, w
            elif set(ref) != set(grads) or any(not np.allclose(ref[k], grads[k], rtol=1e-5, atol=1e-7)
                                               for k in ref):
                raise SystemExit(f"build.py: {oname} gives other gradients than the gated walk")
            out[(gname, oname)] = (w.peak_buffers, w.peak_bytes, len(w.deliveries))
        if len({out[(gname, o)][2] for o, _, _ in orders}) != 1:
            raise SystemExit(f"build.py: the orders walk different numbers of edges on {gname}")
        w = walkers.gated_queue(root, first_in_first_out=False)
        stack_kahn[gname] = (w.peak_buffers, w.peak_bytes)
        # the first column is the lecture copy of the engine's walk: it must walk in the engine's order
        copy = [(id(s), id(r)) for s, r, _ in first.deliveries]
        steps = []
        root.backward(trace=steps.append)
        if copy != [(id(st.sender), id(st.receiver)) for st in steps]:
            raise SystemExit(f"build.py: walkers.gated_depth_first leaves the engine's order on {gname}")
    return dict(table=out, graphs=[g for g, _ in graphs], orders=[(o, how) for o, how, _ in orders],
                batch=batch, nodes=nodes, stack_kahn=stack_kahn,
                edges={g: out[(g, orders[0][0])][2] for g, _ in graphs})


# ----------------------------------------------------------------------------------------------------
# Recursion: micrograd's recursive sort stops at Python's recursion limit, the engine's explicit stack not
# ----------------------------------------------------------------------------------------------------
def chain(mt, n):
    """x, then n ops in a row (negations: the gradient of x is (-1)**n)."""
    x = mt.tensor(1.0, requires_grad=True)
    h = x
    for _ in range(n):
        h = -h
    return x, h


def recursion_depths(mt, walkers, limit=1000, deep=200_000):
    """The shortest chains on which walkers.build_topo (micrograd's recursive sort) and
    walkers.recursive_gated (the tutorial's recursive gated walk) raise RecursionError, measured in
    a fresh thread under the recursion limit `limit` (CPython's default); and, on a chain of `deep`
    ops, the iterative versions of both: walkers.topological_list (an iterative sort, then the list)
    and the engine's backward (an explicit stack). Python versions differ by a frame or so in where
    the limit bites, so the depth is given rounded down to a multiple of 10 (the build stays
    byte-identical)."""
    import threading

    def fails(walk, n):
        try:
            walk(chain(mt, n)[1])
            return False
        except RecursionError:
            return True

    got = {}

    def measure():
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(limit)
        try:
            for walk in (walkers.build_topo, walkers.recursive_gated):
                lo, hi = 1, 2 * limit                 # the shortest failing chain, by bisection
                while lo < hi:
                    mid = (lo + hi) // 2
                    lo, hi = (lo, mid) if fails(walk, mid) else (mid + 1, hi)
                got[walk.__name__] = lo
        finally:
            sys.setrecursionlimit(old)

    t = threading.Thread(target=measure)
    t.start()
    t.join()
    for name, fails_at in got.items():
        if not limit - 30 <= fails_at <= limit:
            raise SystemExit(f"build.py: {name} failed at a chain of {fails_at} under the limit {limit}")
    x, h = chain(mt, deep)
    sorted_walk = walkers.topological_list(h)      # an iterative sort: no recursion limit either
    if number(sorted_walk.grads[id(x)]) != (-1.0) ** deep or len(sorted_walk.deliveries) != deep:
        raise SystemExit("build.py: the iterative sort's walk on the deep chain is wrong")
    h.backward()                                   # an explicit stack: no recursion limit
    if number(x.grad) != (-1.0) ** deep:
        raise SystemExit("build.py: the engine's gradient on the deep chain is wrong")
    return dict(limit=limit, fails_about=10 * (got["build_topo"] // 10),
                recursive_fails_about=10 * (got["recursive_gated"] // 10), deep=deep,
                deep_grad=number(x.grad))


def recursive_walk_check(mt, walkers):
    """walkers.recursive_gated (the slide's recursive walk) on the deck's examples: it must deliver in
    the engine's order and give the engine's gradients. Returns its source for the slide."""
    for build in (example1, example2, example3, exercise_graph):
        w = build(mt)                          # the engine's walk (its graph is then freed): rebuild
        fresh = build.__name__
        names = build(mt, walk=False)
        lab = {id(t): k for k, t in names.items()}
        total, log = walkers.recursive_gated(names[w.loss_name])
        if [(lab[id(s)], lab[id(r)]) for s, r, _ in log] != [(d.sender, d.receiver) for d in w.deliveries]:
            raise SystemExit(f"build.py: the recursive walk leaves the engine's order on {fresh}")
        for k, t in names.items():
            if not t._edges and k in w.grad and abs(number(total[id(t)]) - w.grad[k]) > 1e-12:
                raise SystemExit(f"build.py: the recursive walk gives {k} another gradient on {fresh}")
    src, a, b = source_of(walkers.recursive_gated)
    src, _ = strip_docstring(src)
    return dict(src=src, first=a, last=b)


# ----------------------------------------------------------------------------------------------------
# Why backward frees the graph: the arrays a loss kept in a list holds, counted from the graph
# ----------------------------------------------------------------------------------------------------
def arrays_reachable(roots, tensor_type):
    """The numpy arrays reachable from `roots` through what a recorded graph is made of: tensors
    (their data, .grad and edges), tuples, lists, dicts, and the rules: functions through their
    closures and default values (never their module's globals), bound methods, functools.partial.
    Returns {id: array}, each block of memory once (a view counts as the array it views)."""
    import functools
    import gc
    import types
    from walkers import owner
    seen, found, todo = set(), {}, list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            block = owner(obj)
            found[id(block)] = block
        elif isinstance(obj, tensor_type):
            todo += [x for x in gc.get_referents(obj) if not isinstance(x, type)]   # its slots
        elif isinstance(obj, (tuple, list, set, frozenset)):
            todo += list(obj)
        elif isinstance(obj, dict):
            todo += list(obj.values())
        elif isinstance(obj, types.FunctionType):
            todo += [c.cell_contents for c in obj.__closure__ or ()]
            todo += list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
        elif isinstance(obj, types.MethodType):
            todo += [obj.__self__, obj.__func__]
        elif isinstance(obj, functools.partial):
            todo += [obj.func, *obj.args, *obj.keywords.values()]
    return found


def kept_loss_memory(mt, model_code, batch):
    """What one loss kept in a list (losses.append(loss)) holds, after backward() (graph freed) and
    after backward(retain_graph=True) (graph kept): the bytes of the numpy arrays reachable from it
    that neither the model's parameters nor the batch hold anyway. Counted from the arrays' shapes
    and dtypes, so every build in every process gives the same numbers (a measurement with
    tracemalloc moved with the state of the process). The Python objects around the arrays are not
    counted. None if this mytorch has no retain_graph yet."""
    if "retain_graph" not in inspect.signature(mt.Tensor.backward).parameters:
        return None
    model, images, labels, loss_fn = mnist_model(mt, model_code, batch)
    result = {}
    for retain in (False, True):
        loss = loss_fn(model(images), labels)
        loss.backward(retain_graph=retain)
        anyway = arrays_reachable([list(model.parameters()), images, labels], mt.Tensor)
        kept = {k: a for k, a in arrays_reachable([loss], mt.Tensor).items() if k not in anyway}
        result[retain] = (sum(a.nbytes for a in kept.values()), len(kept))
    if result[False][0] > result[True][0]:
        raise SystemExit("build.py: a loss holds more after backward() than with retain_graph=True")
    return dict(freed=result[False][0], freed_arrays=result[False][1], kept=result[True][0],
                kept_arrays=result[True][1], batch=batch)


# ----------------------------------------------------------------------------------------------------
# Worked solutions of the exercises
# ----------------------------------------------------------------------------------------------------
def make_op(mt, name, data, *edges):
    """A new op built the way the engine builds its own: mytorch.record gives an output tensor that
    records its inputs and, for each, the rule from the output's gradient to that input's. (For the
    exercises: these ops are never added to mytorch.py.)"""
    return mt.record(name, data, *edges)


def solutions(mt, wx):
    """Exercise 1 and 2 checked with mytorch.gradcheck; exercise 3 from the engine's trace."""
    def sin(x):
        return make_op(mt, "sin", np.sin(array(x)), (x, lambda g: g * np.cos(array(x))))

    def sin_wrong(x):   # a plausible slip: the derivative of sin taken as -cos
        return make_op(mt, "sin", np.sin(array(x)), (x, lambda g: -g * np.cos(array(x))))

    def minimum(x, y):
        a, b = array(x), array(y)
        tie = a == b
        x_gets = (a < b) + 0.5 * tie        # on a tie, half to each (as PyTorch does)
        y_gets = (b < a) + 0.5 * tie
        return make_op(mt, "minimum", np.minimum(a, b),
                       (x, lambda g: g * x_gets), (y, lambda g: g * y_gets))

    rng = np.random.RandomState(1)
    x = mt.tensor(rng.randn(5), requires_grad=True)          # float64, as gradcheck wants
    a = mt.tensor(rng.randn(6), requires_grad=True)
    b = mt.tensor(rng.randn(6), requires_grad=True)
    out = dict(sin=bool(mt.gradcheck(sin, (x,), raise_exception=False)),
               sin_wrong=bool(mt.gradcheck(sin_wrong, (x,), raise_exception=False)),
               min=bool(mt.gradcheck(minimum, (a, b), raise_exception=False)))
    if not out["sin"] or out["sin_wrong"] or not out["min"]:
        raise SystemExit(f"build.py: the worked solutions' gradcheck gives {out}; fix them")
    # the tie: min(1, 1) -> each input gets half
    p, q = T(mt, 1), T(mt, 1)
    minimum(p, q).backward()
    out["tie"] = (number(p.grad), number(q.grad))
    out["trace"] = [f"Step(sender={d.sender}, receiver={d.receiver}, grad={fmt(d.grad)}, "
                    f"waiting={d.waiting})" for d in wx.deliveries]
    out["waits"] = [d for d in wx.deliveries if d.waiting]
    return out
