"""The deck's words: every slide in order, its title, what it shows and its speaker notes.

To reword a slide, edit it here and run `python slides/build.py`. Numbers in {braces} come from
the engine at build time (`r`, computed by engine_runs.py); `fig("name.svg")` places a figure drawn
by drawing.py; `code(...)` places source cut out of mytorch.py. The speaker notes are plain text:
they show in the presenter view (key p) and, if asked, under the slide (key n).

The MNIST training output on the result slide is pasted by hand into slides/mnist_result.txt.
"""
from html import escape as esc

from drawing import code_block
from engine_runs import fmt

DECK_TITLE = "MyTorch: autograd from scratch"
MNIST_RESULT_COMMAND = "python train_mnist.py"   # the command whose output is in mnist_result.txt
ARROW = "\u2192"


def ul(*items, cls=""):
    c = f' class="{cls}"' if cls else ""
    return f"<ul{c}>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def table(head, rows, cls=""):
    c = f' class="{cls}"' if cls else ""
    return (f"<table{c}><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in rows)
            + "</tbody></table>")


def kb(n):
    """Bytes as a short size: 24 B, 3.1 KB, 756 KB, 1.2 MB (1 KB = 1024 B)."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit, size in (("KB", 1024), ("MB", 1024 ** 2)):
        v = n / size
        if v < 1024 or unit == "MB":
            return f"{v:.1f} {unit}" if v < 10 else f"{v:,.0f} {unit}"


def memory(buffers, nbytes):
    """A cell of the memory tables: the peak bytes, bold, and how many buffers held them."""
    return f"<b>{kb(nbytes)}</b> &nbsp;<small>({buffers})</small>"


def bullets(*items):
    """Speaker notes as bullets, one a line (the presenter view shows them as they are)."""
    return "\n".join("- " + b for b in items)


def steps(first_step, html, tag="span"):
    """Markup that appears at step `first_step` of the slide (page.js hides it before)."""
    return f'<{tag} data-step="{first_step}">{html}</{tag}>'


def sent(walk, sender, receiver):
    """The gradient the engine sent along sender -> receiver in a traced walk."""
    return next(d.grad for d in walk.deliveries if (d.sender, d.receiver) == (sender, receiver))


def mnist_numbers(text):
    """What the notes of the result slide quote, read from the pasted output (None if it is not there)."""
    import re
    m = re.search(r"final test accuracy: ([\d.]+)% \((\d+) epochs, ([\d.]+) s; ([\d.]+) s since the script "
                  r"started\)", text or "")
    if not m:
        return None
    head = re.search(r"batch (\d+)", text)
    lr = re.search(r"SGD lr ([\d.]+)", text)
    return dict(acc=m.group(1), epochs=m.group(2), train_s=m.group(3), total_s=m.group(4),
                batch=head.group(1) if head else None, lr=lr.group(1) if lr else None)


def slides(r, fig, mnist_result):
    """The deck, slide by slide. Returns a list of (id, title, body html, notes text, css class).
    The main line (40 minutes and a 5-minute buffer, see README.md) ends with "Takeaways"; the
    appendix follows. Markup with data-answer="1" (and slides with the class "answers") is left out
    of the handout (index.html?handout)."""
    out = []

    def slide(sid, title, body, notes, cls=""):
        out.append((sid, title, body, notes, cls))

    w1, w2, w3, ws, wx = r.w1, r.w2, r.w3, r.ws, r.wx
    sval = ws.value("\u03c3")

    # ---- 1. Why autograd (2 minutes) -------------------------------------------------------------
    slide("title", DECK_TITLE,
          '<div class="title-block"><h1 class="big">MyTorch</h1>'
          '<p class="subtitle">autograd from scratch, in one file</p>'
          '<p class="lead">how <code>loss.backward()</code> finds every gradient: '
          'a depth-first walk that waits where paths meet</p></div>'
          '<p class="keys">\u2192 / space / click: next \u00b7 \u2190: back \u00b7 p: presenter view</p>',
          bullets("Welcome. Today: how an autograd engine works, with MyTorch, a small engine in one "
                  "Python file on top of numpy.",
                  "Goal: by the end you can predict, step by step, the order in which it hands out "
                  "gradients, and say why it sometimes has to wait.",
                  "45 minutes; one exercise in the middle where you predict first."), "title")

    slide("why", "Why autograd?",
          ul("Every layer needs a <b>forward</b> and a hand-written <b>backward</b>",
             "New layer, new loss, new activation: derive and code the backward again",
             "One wrong sign in one backward: it still trains, just badly",
             "Idea: build everything from a <b>few ops</b> whose derivatives we know, "
             "and let the <b>chain rule</b> do the rest") +
          '<div class="twocol"><div class="box bad"><div class="boxhead">by hand</div>'
          '<code>forward(x)</code> + <code>backward(grad)</code><br>for every layer, every loss</div>'
          '<div class="box good"><div class="boxhead">autograd</div>'
          '<code>forward(x)</code> only<br>+ one <code>loss.backward()</code></div></div>',
          bullets("Previous part (ManualGrad): every module had a forward and a backward by hand.",
                  "That does not scale: each new function is a new derivation and new code, and the "
                  "bugs are silent.",
                  "Autograd: write only the forward pass, from a handful of ops that each know their "
                  "local derivative; the engine chains them."))

    # ---- 2. Compositions and the chain rule (4 minutes) ------------------------------------------
    sig_note = ("MyTorch's own x.sigmoid() is one op (rule \u03c3(1 \u2212 \u03c3), checked at "
                "build time); the composition is the lesson." if r.sigmoid_op else
                "MyTorch's own x.sigmoid() is built from several ops in this version.")
    slide("compose", "Functions are compositions",
          '<p class="formula">\u03c3(x) = 1 / (1 + e<sup>\u2212x</sup>) &nbsp;=&nbsp; '
          'negate \u2192 exp \u2192 add 1 \u2192 divide</p>' + fig("sigmoid_composition.svg") +
          f'<p class="caption">values for x = {fmt(ws.value("x"))}, as computed by mytorch</p>',
          bullets("Sigmoid is four ops the engine already knows: negate, exp, add, divide.",
                  "The engine records each op as it runs (the forward pass), with its value: "
                  f"x = 1 gives n = {fmt(ws.value('n'))}, a = {fmt(ws.value('a'))}, "
                  f"b = {fmt(ws.value('b'))}, \u03c3 = {fmt(sval)}.",
                  sig_note))

    last = ws.deliveries[-1].n
    factors = "".join(steps(d.n, ("" if i == 0 else " \u00b7 ") + fmt(d.grad / ws.grad[d.sender]))
                      for i, d in enumerate(ws.deliveries))
    slide("chain", "The chain rule, through sigmoid",
          '<p class="formula">d\u03c3/dx = \u2202\u03c3/\u2202b \u00b7 \u2202b/\u2202a \u00b7 '
          '\u2202a/\u2202n \u00b7 \u2202n/\u2202x</p>' + fig("sigmoid_chain_rule.svg") +
          f'<p class="caption">{factors} '
          + steps(last, f'= <b>{fmt(ws.grad["x"])}</b> &nbsp;= \u03c3(1 \u2212 \u03c3) = '
                        f'{fmt(sval)} \u00b7 {fmt(1 - sval)} \u2714') + '</p>',
          bullets("Backward: start with gradient 1 at \u03c3 and walk back.",
                  "Each op multiplies the incoming gradient by its local derivative (under each "
                  "arrow); press \u2192 for each step.",
                  f"Last step: the product is {fmt(ws.grad['x'])}, exactly \u03c3(1 \u2212 \u03c3), the "
                  "textbook derivative.",
                  "Nobody wrote a sigmoid backward: it fell out of the chain rule."))

    # ---- 3. The graph and two local rules (3 minutes) --------------------------------------------
    slide("graph", "The computational graph",
          '<p class="formula small">each op <b>records its inputs</b> in the tensor it returns: '
          '<code>._op</code>, <code>._edges</code></p>' + fig("computational_graph.svg") +
          '<p class="caption">backward walks these records from the loss back to the leaves</p>',
          bullets("When an op runs, its output remembers which op made it and its inputs, each with "
                  "the rule that turns the output's gradient into that input's.",
                  "That is the whole graph: no separate graph object.",
                  "Direction: a tensor knows its inputs, not its consumers. Keep that in mind for "
                  "example 3."))

    pval, qval = w1.value("p"), w1.value("q")
    first_in = [k for k in w1.inputs("y")]
    slide("local-rules", "Two local rules",
          '<p class="formula small">example 1: &nbsp;y = p \u00b7 q, &nbsp;p = a + b, '
          '&nbsp;q = c + d &nbsp; with a = 2, b = \u22121, c = 3, d = 4</p>'
          + table(["op", "sends to each input", "in example 1 (from the engine)"],
                  [["<code>u \u00b7 v</code>", "<b>g \u00d7 the other input</b>",
                    f"y = p \u00b7 q sends 1 \u00b7 {fmt(qval)} = {fmt(sent(w1, 'y', 'p'))} to p, "
                    f"1 \u00b7 {fmt(pval)} = {fmt(sent(w1, 'y', 'q'))} to q"],
                   ["<code>u + v</code>", "<b>g</b>, unchanged",
                    f"p = a + b sends {fmt(sent(w1, 'p', 'a'))} to a, "
                    f"{fmt(sent(w1, 'p', 'b'))} to b"]])
          + '<p class="answer">Each node sends along its edges <b>in input order</b>: the left '
            f'operand first (y sends to {first_in[0]}, then to {first_in[1]}).</p>',
          bullets("Before the walk, the two rules it needs. g is the gradient arriving at the op's "
                  "output; at the loss it is 1.",
                  "Times sends g times the other input; plus passes g on unchanged.",
                  "The order matters for what comes: a node sends to its left operand first, "
                  "then its right. The engine keeps its edges in that order.",
                  "Next: the whole walk of example 1."))

    d1 = w1.deliveries
    slide("example-1", "Example 1: gradient propagation",
          '<p class="formula small">y = (a + b) \u00b7 (c + d) &nbsp; with a = 2, b = \u22121, c = 3, '
          'd = 4</p>' + fig("example1_walk.svg"),
          bullets("Two paths meet at the final multiply; the walk is depth first.",
                  f"y sends {fmt(d1[0].grad)} to p (the value of q); p is complete, so the walk goes "
                  "straight down to a, back up, to b; then y sends to q, then c, then d.",
                  "Colours: paths of the walk; numbers: step order; pills: the gradient carried."))

    # ---- 4. Example 2 and the exercise (9 minutes) -----------------------------------------------
    to_h = [d for d in w2.deliveries if d.receiver == "h"]
    wait2 = [d for d in w2.deliveries if d.waiting > 0]
    slide("example-2", "Example 2: the barrier",
          '<p class="formula small">h = a + b; &nbsp; y = (c \u00b7 h) + (h \u00b7 d) &nbsp; '
          'with a = 2, b = \u22121, c = 3, d = 4</p>' + fig("example2_barrier.svg"),
          bullets("h is used twice: its gradient is the sum of what m1 and m2 send (h changes y "
                  "along both paths; the effects add).",
                  "The walk reaches h first from m1"
                  + (f" (step {wait2[0].n}, gradient {fmt(wait2[0].grad)})" if wait2 else "")
                  + ". h waits (the ring): going on now would give a and b only part of it.",
                  "Back up to y, down through m2: with the second gradient h holds "
                  + " + ".join(fmt(d.grad) for d in to_h) + f" = {fmt(w2.grad['h'])}, and only "
                  "then passes it on to a and b."))

    pr = r.predict
    trace_rows = [ln.split() for ln in pr["printed"]]
    wait_at = next(i for i, t in enumerate(trace_rows) if t[-1] != "0")
    h_done = next(i for i, t in enumerate(trace_rows) if i > wait_at and t[2] == pr["waits"][0])
    line_step = [1 if i <= wait_at else 2 if i <= h_done else 3 for i in range(len(trace_rows))]
    trace_html = "\n".join(steps(s, esc(ln)) for s, ln in zip(line_step, pr["printed"]))
    answers = [f'{", ".join(pr["waits"])}, after {", ".join(pr["wait_after"])}\u2019s delivery',
               f'{" + ".join(fmt(g) for g in pr["h"])} = <b>{fmt(sum(pr["h"]))}</b>',
               f'h\u2019s gradient \u00d7 b = {fmt(sum(pr["h"]))} \u00b7 \u22121 = '
               f'<b>{fmt(pr["grads"]["a"])}</b>']
    questions = ["Which node waits, and after which delivery?", "What is h\u2019s full gradient?",
                 "What is <code>a.grad</code>?"]
    slide("predict", "Your turn: predict, then reveal",
          '<p class="formula small">h = a \u00b7 b; &nbsp; k = h + c; &nbsp; y = k \u00b7 h &nbsp; '
          'with a = 2, b = \u22121, c = 3</p>'
          '<div class="twocol tight"><div><ol class="ex">'
          + "".join(f'<li>{q}<br>' + steps(i, f'<span class="reveal" data-answer="1">{a}</span>')
                    + '</li>' for i, (q, a) in enumerate(zip(questions, answers), 1))
          + '</ol><p class="caption left">edges in input order: left operand first</p></div>'
          + f'<pre class="code trace" data-answer="1">{trace_html}</pre></div>',
          bullets("In pairs, on paper, 3 to 4 minutes. Ask for predictions by show of hands before "
                  "each reveal.",
                  "Hint if stuck: count h's consumers (k and y), then follow y's edges, k first.",
                  "Each \u2192 reveals one answer and the lines of the engine's own trace that "
                  "show it (tensors named, as in the README; the code is in the appendix).",
                  f"a.grad = h's gradient times b = {fmt(sum(pr['h']))} \u00b7 \u22121 = "
                  f"{fmt(pr['grads']['a'])}."))

    # ---- 5. Why wait, the ladder, example 3 (5 minutes) ------------------------------------------
    fw = r.forwarding
    lad = r.ladder
    slide("why-wait", "Why wait?",
          ul("No wait, h passes on its running total: a and b get "
             f"<b>{fmt(fw['totals']['a'])}</b>, wrong ({fmt(to_h[0].grad)} counted twice)",
             f"No wait, h passes on each increment: {fmt(fw['increments']['a'])}, right, but "
             f"{fw['increments_edges']} edges walked instead of {len(w2.deliveries)}: everything "
             "below h once <b>per path</b>. On a ladder, x then <i>n</i> times "
             "<code>h = h*2 + h*3</code>:",
             cls="tight")
          + table(["depth <i>n</i>", "edges walked, gated (engine)", "each increment on at once"],
                  [[r_["depth"], f'{r_["gated"]:,}', f'<b>{r_["ungated"]:,}</b>'] for r_ in lad],
                  cls="num")
          + '<p class="answer">Waiting until the sum is complete: every node sends <b>once</b>, '
            'with its full gradient, and every edge is walked <b>once</b>.</p>',
          bullets("The tutorial says going on from h early is WRONG. It is, if h forwards its "
                  f"running total: {fmt(to_h[0].grad)} + {fmt(w2.grad['h'])} = "
                  f"{fmt(fw['totals']['a'])}.",
                  f"Each increment gives the right {fmt(fw['increments']['a'])} (the chain rule is "
                  "linear), but everything below h is walked once per path: 2^n on the ladder.",
                  "Gated: the engine's trace. Other column: walked at depth "
                  + " and ".join(str(row["depth"]) for row in lad if row["ran"])
                  + " (same gradient), paths counted beyond.",
                  "A count of consumers makes it right and linear at once."))

    slide("example-3", "Example 3: a dead-end branch",
          '<p class="formula small">h = a \u00b7 b; &nbsp; side = h \u00b7 3 &nbsp;(logged, never '
          'reaches y); &nbsp; y = h \u00b7 c</p>' + fig("example3_side_branch.svg"),
          bullets("Beyond the tutorial: side uses h but never feeds y.",
                  "A naive engine that counts every consumer (the tutorial's 'children', filled "
                  "in the forward pass) makes h wait for side: a and b never get a gradient.",
                  "MyTorch counts consumers by walking from the loss: only consumers on a path to y "
                  "count, and h goes on at once."))

    # ---- 6. The code (6 minutes) -----------------------------------------------------------------
    rc = r.recursive
    rd = r.depth
    slide("code-recursive", "The walk, recursively (the tutorial\u2019s way)",
          '<p class="caption top">slides/walkers.py \u2014 run when the deck was built on examples '
          '1\u20133 and the exercise: the engine\u2019s order and gradients \u2714</p>'
          + code_block(rc["src"], max_h=600),
          bullets("The tutorial's idea as code: count consumers, then a recursive send.",
                  "send(node) runs only for a complete node; each delivery lowers the receiver's "
                  "count; at 0 it recurses into it at once: depth first, gated.",
                  "One Python frame per node on the way down: a chain of about "
                  f"{rd['recursive_fails_about']:,} ops hits the recursion limit (measured). The "
                  "engine does the same walk with a stack of its own: next slides."), "code")

    c = r.count_code
    slide("code-count-consumers", f"The code: <code>{esc(c['name'])}</code>",
          f'<p class="caption top">counts, from the loss, how many gradients each tensor must collect '
          f'\u2014 {esc(r.mt_file)}, lines {c["first"]}\u2013{c["last"]}{c["omitted"]}</p>'
          + code_block(c["src"], max_h=620, as_written=True),
          bullets("The real code, cut out of mytorch.py when the deck was built: it always matches "
                  "the engine.",
                  "Walk from the loss; for each tensor count its consumers that lie on a path to "
                  "the loss. Example 3's side is never visited."), "code")

    b = r.walk_code

    def where(part, what=""):
        gone = "; comment lines left out" if part.comments_left_out else ""
        return f'{esc(r.mt_file)}, lines {part.first}\u2013{part.last}{what}{gone}'
    slide("code-backward-walk", "The code: the walk, 1. deliver",
          '<p class="caption top">'
          + where(b["loop_a"], ": take the top frame, send along its next edge")
          + '. Before the loop: count the consumers; the loss goes on the stack with '
          'gradient 1.</p>'
          + code_block(b["loop_a"].src, max_h=620, as_written=True),
          bullets("Before the loop (set-up, in the appendix): count the consumers, then put the "
                  "loss with gradient 1 on the stack: a list, not Python's call stack.",
                  "A frame is a complete node, its gradient, and which input is next.",
                  "If the node has more inputs, it goes back on the stack first, for later.",
                  "The edge's rule gives the receiver's share; it is added to what the receiver "
                  "got so far."), "code")
    slide("code-backward-gate", "The code: the walk, 2. the gate",
          f'<p class="caption top">{where(b["loop_b"], ": the rest of the loop")}</p>'
          + code_block(b["loop_b"].src, max_h=620, as_written=True),
          bullets("Each delivery lowers the receiver's count.",
                  "Count not 0: the gate, the sum waits. Count 0: the receiver goes on the stack, "
                  "on top of the sender's remaining edges, so it is walked next: the engine "
                  "descends after each edge.",
                  "A complete leaf keeps its gradient in .grad. The trace call is what drew this "
                  "deck's figures."), "code")

    # ---- 7. Gated walk or topological sort? (6 minutes) ------------------------------------------
    oc, bp = r.orders, r.buffers
    names = [name for name, _ in bp["orders"]]
    how = dict(bp["orders"])
    slide("gate-or-sort", "Gated walk or topological sort?",
          '<p class="caption top">The tutorial: micrograd sorts the graph; this engine gates a '
          'walk. \u201cNot totally sure about the benefits of one or the other.\u201d</p>'
          '<p class="answer">Counting consumers <b>is Kahn\u2019s algorithm</b>: the count is each '
          'node\u2019s in-degree; a node is <b>ready</b> when it reaches 0. Only the order '
          'differs:</p>'
          + table(["", "which ready node goes next"], [[f"<b>{o}</b>", how[o]] for o in names])
          + '<p class="caption">same gate, same gradients, every edge once: <b>the order decides '
            'memory</b></p>',
          bullets("The tutorial's open question. Answer first: they are the same gate.",
                  "The consumer count is Kahn's in-degree count; a node is ready at 0.",
                  "MyTorch takes the newest ready node, and at once: right after the edge that "
                  "made it ready. Breadth first takes the oldest; PyTorch the one created last.",
                  "micrograd counts nothing: a sorted list guarantees each gradient is complete "
                  "when its turn comes.",
                  "Next: the orders on example 2, then what they cost."))

    # the steps of each order that deliver to h
    into_h = {name: [i for i, (_, t, _) in enumerate(order) if t == "h"]
              for name, _, order in oc["orders"]}

    def order_row(name, order):
        cells = []
        for i, (s, t, _) in enumerate(order):
            e = f"{s}{ARROW}{t}"
            if i == into_h[name][0] and len(into_h[name]) > 1:
                e = f'<span class="waits">{e}</span>'
            elif i == into_h[name][-1]:
                e = f"<b>{e}</b>"
            cells.append(e)
        return [name] + cells
    by_name = {name: [e[:2] for e in order] for name, _, order in oc["orders"]}
    same_as_micrograd = by_name["PyTorch"] == by_name["micrograd"]
    slide("gate-order", "Same gradients, different order",
          fig("example2_orders.svg")
          + table(["order"] + [str(i) for i in range(1, len(oc["engine"]) + 1)],
                  [order_row(name, order) for name, _, order in oc["orders"]], cls="orders")
          + '<p class="caption"><span class="waits">red</span>: h waits &nbsp;\u00b7&nbsp; '
            '<b>bold</b>: h complete &nbsp;\u00b7&nbsp; every order: '
            f'{", ".join(f"{k} = {fmt(v)}" for k, v in sorted(oc["grads"].items()))} \u2714</p>',
          bullets("Example 2 again, walked four ways by the build; same gradients in all four.",
                  "How long h waits: " + ", ".join(f"{name} {into_h[name][-1] - into_h[name][0]}"
                                                   for name, _, _ in oc["orders"]) + " steps.",
                  "MyTorch goes down into m1 at once. Breadth first sends all of y's edges first. "
                  "PyTorch takes m2 before m1: m2 was created later"
                  + (", and here that is micrograd's sorted order." if same_as_micrograd else "."),
                  "Every edge once in every order; only how long each gradient lives differs."))

    mlp, layer = bp["graphs"]

    def cost(g, o):
        return memory(*bp["table"][(g, o)][:2])
    eng = bp["table"][(layer, names[0])]
    best = min(bp["table"][(layer, o)][1] for o in names[1:3])
    sk = bp["stack_kahn"][layer]
    micro = bp["table"][(layer, names[3])][1]
    most = micro >= max(bp["table"][(layer, o)][1] for o in names)
    slide_notes = [
        "Same gate, same edges: the order only changes how long each gradient lives.",
        f"micrograd as written keeps every node's gradient: {kb(micro)} on the reused layer"
        + (", the most." if most else "."),
        f"MyTorch holds {kb(eng[1])} there against {kb(best)}"
        + (": going down at once keeps the sender's gradient on the stack. Kahn with a stack, "
           f"going down only after all of a node's edges, holds {kb(sk[1])}."
           if sk[1] < eng[1] else "."),
        "The engine's explicit stack buys no recursion limit; an iterative sort has none either."]
    if eng[1] <= best:
        slide_notes[2] = f"MyTorch holds {kb(eng[1])} there, breadth-first and PyTorch {kb(best)}."
    slide("gate-verdict", "The verdict: the order decides memory",
          f'<p class="caption top">peak gradient memory in one backward at batch {bp["batch"]}: '
          'bytes (gradients alive), counted by the build</p>'
          + table(["order: which ready node next", mlp, layer],
                  [[f"{o}: {how[o]}", cost(mlp, o), cost(layer, o)] for o in names], cls="num")
          + ul("Either way a pass over the whole graph first (a list of every node, or a count "
               "for every node), the same gradients, every edge once (" + ", ".join(
                   f"{g}: {bp['edges'][g]}" for g in bp["graphs"]) + ")",
               "<b>Recursion</b> is a choice of its own: written recursively, both stop at about "
               + (f"{rd['fails_about']:,} ops"
                  if rd["fails_about"] == rd["recursive_fails_about"] else
                  f"{rd['recursive_fails_about']:,} and {rd['fails_about']:,} ops")
               + " (the tutorial\u2019s walk, micrograd\u2019s <code>build_topo</code>); "
               f"iteratively, both walk <b>{rd['deep']:,}</b> (the engine, an iterative sort)",
               cls="tight"),
          bullets(*slide_notes))

    # ---- 8. Takeaways (2 minutes) ----------------------------------------------------------------
    slide("summary", "Takeaways",
          ul("Build functions from a few ops with known local derivatives",
             "Each op records its inputs: that <b>is</b> the graph",
             "<code>backward</code> = depth-first walk from the loss, multiplying by local derivatives",
             "A node with several consumers <b>waits</b> until all their gradients have arrived",
             "Consumers are counted <b>from the loss</b>: side branches cannot block the walk",
             "Gate or sort: the same count, gradients and edges; the <b>order</b> decides memory, "
             "and recursion is a separate choice")
          + '<p class="caption left">Homework: the exercises in the appendix.</p>',
          bullets("That is the whole engine. nn, optim and the MNIST loop are a thin layer on top "
                  "(appendix).",
                  "Homework: four exercises, after the appendix divider; worked solutions follow "
                  "them (left out of the handout).",
                  "End of the main line: 40 minutes planned, 5 to spare."))

    # ---- Appendix --------------------------------------------------------------------------------
    slide("appendix", "Appendix",
          ul("Exercises, and their worked solutions",
             "Checking your prediction: the in-class exercise\u2019s code",
             "What the order costs: the memory, counted",
             "Using it: an MNIST classifier (model, training loop, a real run)",
             "<code>Tensor.backward</code>: its set-up, and why it frees the graph",
             "Sources"),
          bullets("Not part of the main line: for questions, or a longer session."))

    slide("exercises", "Exercises",
          '<ol class="ex">'
          '<li>Add <code>sin</code>: forward <code>np.sin</code>; what is the rule on its edge?'
          '</li>'
          '<li>Add an element-wise <code>min(x, y)</code>. Where does the gradient go? And on a '
          'tie?</li>'
          '<li>Run the recursive walk (<code>walkers.recursive_gated</code>) on a chain of 2,000 '
          'negations. What happens? Why not in the engine?</li>'
          '<li>Why can\u2019t the engine count consumers during the forward pass instead?</li>'
          '</ol>',
          bullets("Homework. Worked solutions follow, computed when the deck was built.",
                  "The handout leaves the solutions out."))

    s = r.solutions
    checked = (f'<code>mytorch.gradcheck(sin, (x,))</code> \u2192 <b>{s["sin"]}</b> '
               f'(with \u2212cos instead: {s["sin_wrong"]})')
    checked_min = f'<code>mytorch.gradcheck(minimum, (x, y))</code> \u2192 <b>{s["min"]}</b>'
    slide("solutions-1", "Appendix: solutions 1\u20132",
          '<ol class="ex sol">'
          '<li><code>sin</code>: the edge multiplies by <code>cos(x)</code>: '
          '<code>rule = lambda g: g * np.cos(x)</code><br>' + checked + '</li>'
          '<li><code>min</code>: all of <code>g</code> to the smaller input, none to the other; '
          f'on a tie pick a rule: half to each (as PyTorch does): min(1, 1) gives '
          f'{fmt(s["tie"][0])} and {fmt(s["tie"][1])}<br>' + checked_min + '</li></ol>',
          bullets("Both ops are built the way mytorch builds its own (an output whose _edges hold "
                  "(input, rule) pairs), never added to mytorch.py.",
                  "Checked with mytorch.gradcheck against finite differences on random float64 "
                  "inputs at build time; the wrong rule (\u2212cos) must fail the same check.",
                  "A tie is not differentiable: any split adding up to g is valid; torch.minimum "
                  "gives half to each."), "answers")

    slide("solutions-2", "Appendix: solutions 3\u20134",
          '<ol class="ex sol" start="3">'
          f'<li><code>RecursionError</code>: one Python frame per node on the way down, and Python '
          f'stops at {rd["limit"]:,} frames: the recursive walk fails from about '
          f'<b>{rd["recursive_fails_about"]:,}</b> ops (measured). The engine keeps its frames '
          f'in a list: it walks <b>{rd["deep"]:,}</b> ops.</li>'
          '<li>In the forward pass nobody knows yet which tensors will reach the loss (example 3): '
          'a count made then includes dead ends, and h would wait forever.</li></ol>',
          bullets(f"3: measured at build time in a fresh thread under the recursion limit "
                  f"{rd['limit']} (CPython's default); the exact depth moves by a frame between "
                  "Python versions, so the slide rounds down to 10.",
                  f"The engine's backward on {rd['deep']:,} negations gives x.grad = "
                  f"{fmt(rd['deep_grad'])}.",
                  "4: counting in the forward pass counts consumers that never reach the loss, "
                  "like side in example 3."), "answers")

    slide("predict-check", "Checking your prediction",
          '<p class="caption top">the in-class exercise, with names in the trace (as in the '
          'README); run when the deck was built: it printed the trace revealed on the exercise '
          'slide</p>'
          + code_block(pr["code"], max_h=460),
          bullets("Without names, print(step) shows two tensors with no way to tell them apart: "
                  "label each tensor by its variable name.",
                  "Run it after the exercise, or let students run it at home."), "code")

    def row(name, peak):
        return [name, memory(*peak[mlp][:2]), memory(*peak[layer][:2])]
    by_order = {o: {g: bp["table"][(g, o)] for g in bp["graphs"]} for o in names}
    slide("gate-memory", "What the order costs: the memory, counted",
          table(["order", mlp, layer], [row(o, by_order[o]) for o in names]
                + [row("Kahn, with a stack", bp["stack_kahn"])], cls="num")
          + ul("a <b>buffer</b>: a node\u2019s gradient, from its first delivery until it is let "
               "go (once sent along every edge; micrograd: never)",
               "<b>bytes</b>: each block of memory once (an add passes its gradient on as it is); "
               "parameter gradients come on top, the same in every order",
               *(["MyTorch goes down into an op\u2019s first input while the second "
                  "(<code>b</code>, <code>W.T</code>) still waits: that op\u2019s gradient stays "
                  "on the stack"] if eng[1] > best else []), cls="tight"),
          bullets(f"{mlp}: the tutorial's 784-128-64-32-10 sigmoid net at batch {bp['batch']} on "
                  f"random data: {bp['nodes'][mlp]} nodes, {bp['edges'][mlp]} edges.",
                  f"{layer}: x @ W.T + b, then sigmoid, four times: {bp['nodes'][layer]} nodes, "
                  f"{bp['edges'][layer]} edges.",
                  "Kahn with a stack also takes the newest ready node, but only after all of the "
                  "sender's edges" + (": no extra memory. Going down at once is what costs."
                                      if sk[1] == best < eng[1] else ".")))

    m = r.mnist
    slide("mnist", "Using it: an MNIST classifier",
          '<div class="twocol code2">' + code_block(m["model_show"], max_w=900, max_h=620)
          + f'<p class="fact">784 \u2192 128 \u2192 64 \u2192 32 \u2192 10, sigmoid<br>'
            f'<b>{m["n_params"]:,}</b> parameters<br>in {m["n_tensors"]} tensors</p></div>',
          bullets("Same API as PyTorch: nn.Module, nn.Linear, nn.Sigmoid.",
                  f"Cut out of {m['origin']} (blank lines left out) and run against mytorch when "
                  "the deck is built: that is where the parameter count comes from.",
                  "fc4 gives logits; the loss applies the softmax."), "code")
    slide("mnist-loop", "Using it: the training loop",
          code_block(m["loop_show"], max_h=620)
          + (f'<p class="fact">batches of {m["batch"]}, as train_mnist.py by default</p>'
             if m["batch"] else ''),
          bullets("nn.CrossEntropyLoss and optim.SGD, with train_mnist.py's default settings.",
                  "Not shown: train_mnist.py also lowers the learning rate linearly to 0 over the "
                  "run (a LambdaLR scheduler, as in PyTorch).",
                  "Images come from MNIST's own files (read with numpy) through torch's DataLoader."),
          "code")

    mn = mnist_numbers(mnist_result)
    if mnist_result is None:
        result = ('<div class="placeholder"><b>PLACEHOLDER</b> \u2014 no training run pasted yet.<br>'
                  'Paste the output of a real <code>' + esc(MNIST_RESULT_COMMAND) + '</code> run into '
                  '<code>slides/mnist_result.txt</code>, then run <code>python slides/build.py</code>.'
                  '</div>')
    else:
        result = (f'<pre class="code result">{esc(mnist_result.strip())}</pre>'
                  f'<p class="caption">output of <code>{esc(MNIST_RESULT_COMMAND)}</code></p>')
    slide("mnist-result", "Result: training on MNIST", result,
          bullets(f"A real run of {MNIST_RESULT_COMMAND} with its defaults, pasted by hand.",
                  *([f"{mn['epochs']} epochs"
                     + (f", batch {mn['batch']}" if mn["batch"] else "")
                     + (f", SGD lr {mn['lr']} with Nesterov momentum" if mn["lr"] else "")
                     + f": final test accuracy {mn['acc']}%.",
                     f"Training took {mn['train_s']} s, {mn['total_s']} s since the script started "
                     "(imports and data loading included)."] if mn else
                    ["The numbers are the ones printed on the slide."]),
                  "Every gradient came from the walk we stepped through."))

    slide("code-backward-setup", "The code: <code>Tensor.backward</code>, set-up",
          f'<p class="caption top">{where(b["setup"])} (the whole function: lines {b["fn_first"]}'
          f'\u2013{b["fn_last"]})</p>' + code_block(b["setup"].src, max_h=440, as_written=True)
          + ul("<b>count</b> first: how many consumers will deliver to each node",
               "<b>seed</b>: the loss gets gradient 1 (d loss / d loss)", cls="tight"),
          bullets(f"backward counts consumers from the loss ({c['name']}, in the main line).",
                  "Then it puts the loss with gradient 1 on the stack: a list, not Python's call "
                  "stack.",
                  "Everything else is one loop: the slides \u201cthe walk, 1. deliver\u201d "
                  "and \u201c2. the gate\u201d."), "code")

    k = r.kept
    if k is None:
        body = ('<div class="placeholder">This mytorch has no <code>retain_graph</code> yet: '
                'rebuild the deck once it has.</div>')
        notes = "- Placeholder: counted at build time once backward(retain_graph=...) exists."
    else:
        body = (ul("<code>backward()</code> has used every saved input: they are garbage now",
                   "so at the end it <b>frees the graph</b>: <code>_edges = None</code>; walking "
                   "twice needs <code>retain_graph=True</code>", cls="tight")
                + (code_block(b["after"].src, max_h=230, as_written=True) if b["after"] else "")
                + f'<p class="caption top">what one loss of the MNIST model (batch {k["batch"]}) '
                  'holds once it is kept in a list: the bytes of its arrays, counted when the deck '
                  'was built</p>'
                + table(["", "arrays a kept loss holds"],
                        [["<code>loss.backward()</code>",
                          f'<b>{kb(k["freed"])}</b> &nbsp;<small>(its own value)</small>'],
                         ["<code>loss.backward(retain_graph=True)</code>",
                          f'<b>{kb(k["kept"])}</b> &nbsp;'
                          f'<small>({k["kept_arrays"]} arrays)</small>']],
                        cls="num wide"))
        notes = bullets("The graph holds every array an op saved for its rule; once backward has "
                        "used them they are dead weight.",
                        "losses.append(loss) keeps the loss, and with it whatever it still holds: "
                        f"after backward() only its value ({kb(k['freed'])}); with "
                        f"retain_graph=True the whole graph's arrays, {kb(k['kept'])} a batch.",
                        "Counted from the arrays' shapes and dtypes; Python's object headers come "
                        "on top.",
                        "Log loss.item() anyway. PyTorch frees the graph the same way.")
    slide("free-graph", "Why <code>backward()</code> frees the graph", body, notes)

    slide("sources", "Sources",
          ul("The tutorial this deck grew from: its examples 1 and 2, the path colours, "
             "micrograd\u2019s topological sort and the open question \u201cgated walk or "
             "sort?\u201d",
             "PyTorch\u2019s order: <code>torch/csrc/autograd/engine.h</code>, "
             "<code>ReadyQueue</code> (ready nodes in a priority queue, the higher sequence "
             "number, the node created later, first); pull request pytorch/pytorch#4746 (2018) put "
             "it in place of a first-in-first-out queue, which used much memory on a model using "
             "one <code>Linear</code> several times; checked against torch by "
             "<code>slides/test_slides.py</code>",
             "micrograd: <code>Value.backward</code> builds the list with a recursive "
             "<code>build_topo</code>, and every <code>Value</code> keeps its <code>.grad</code>",
             "<code>torch.Tensor.backward</code>: <code>retain_graph</code> (\u201cIf False, the "
             "graph used to compute the grad will be freed\u201d); <code>torch.minimum</code> "
             "splits a tie half and half (run with torch 2.14.1)",
             "Everything else: computed from <code>mytorch.py</code> when the deck was built "
             "(<code>slides/engine_runs.py</code>, <code>slides/walkers.py</code>)", cls="tight"),
          bullets("Where the claims that are not computed at build time come from.",
                  "Every number on the slides is computed from the engine when the deck is built."))
    return out
