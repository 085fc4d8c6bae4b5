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


def bullets(*items):
    """Speaker notes as bullets, one a line (the presenter view shows them as they are)."""
    return "\n".join("- " + b for b in items)


def edges(deliveries):
    return ", ".join(f"{s}{ARROW}{r}" for s, r, *_ in deliveries)


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
    The main line (about 50 minutes, see README.md) ends with "Takeaways"; the appendix follows."""
    out = []

    def slide(sid, title, body, notes, cls=""):
        out.append((sid, title, body, notes, cls))

    w1, w2, w3, ws, wx = r.w1, r.w2, r.w3, r.ws, r.wx
    sval = ws.value("\u03c3")

    # ---- 1. Why autograd (about 4 minutes) ----------------------------------------------------------
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
                  "50 minutes; one exercise in the middle where you predict first."), "title")

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

    sig_note = ("MyTorch's own x.sigmoid() is one op (one edge, rule \u03c3(1 \u2212 \u03c3), checked "
                "at build time): faster, and no nan for large negative x. The composition here is "
                "the lesson, built from the engine's ops." if r.sigmoid_op else
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

    # ---- 2. The chain rule and the graph (about 5 minutes) ------------------------------------------
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

    slide("graph", "The computational graph",
          '<p class="formula small">each op <b>records its inputs</b> in the tensor it returns: '
          '<code>._op</code>, <code>._edges</code></p>' + fig("computational_graph.svg") +
          '<p class="caption">backward walks these records from the loss back to the leaves</p>',
          bullets("When an op runs, its output remembers which op made it and its inputs, each with "
                  "the rule that turns the output's gradient into that input's.",
                  "That is the whole graph: no separate graph object.",
                  "Direction: a tensor knows its inputs, not its consumers. Keep that in mind for "
                  "example 3."))

    # ---- 3. Example 1 (about 4 minutes) -------------------------------------------------------------
    d1 = w1.deliveries
    slide("example-1", "Example 1: gradient propagation",
          '<p class="formula small">y = (a + b) \u00b7 (c + d) &nbsp; with a = 2, b = \u22121, c = 3, '
          'd = 4</p>' + fig("example1_walk.svg"),
          bullets("Two paths meet at the final multiply; the walk is depth first.",
                  f"y sends {fmt(d1[0].grad)} to p (the value of q); p is complete, so the walk goes "
                  "straight down to a, back up, to b; then y sends to q, then c, then d.",
                  "Colours: paths of the walk; numbers: step order; pills: the gradient carried.",
                  f"Engine's order: {edges((d.sender, d.receiver) for d in d1)}."))

    # ---- 4. Local rules, example 2, predict (about 11 minutes) --------------------------------------
    hval, cval, dval = w2.value("h"), w2.value("c"), w2.value("d")
    to_h = [d for d in w2.deliveries if d.receiver == "h"]
    slide("local-rules", "Two local rules, and a sum",
          table(["op", "sends to each input", "in example 2 (from the engine)"],
                [["<code>u + v</code>", "<b>g</b>, unchanged",
                  f"y = m1 + m2 sends {fmt(sent(w2, 'y', 'm1'))} to m1, {fmt(sent(w2, 'y', 'm2'))} "
                  "to m2"],
                 ["<code>u \u00b7 v</code>", "<b>g \u00d7 the other input</b>",
                  f"m1 = c \u00b7 h sends 1 \u00b7 {fmt(hval)} = {fmt(sent(w2, 'm1', 'c'))} to c, "
                  f"1 \u00b7 {fmt(cval)} = {fmt(sent(w2, 'm1', 'h'))} to h"]])
          + '<p class="answer">A node used twice gets the <b>sum over its consumers</b>: h gets '
          + " + ".join(f"{fmt(d.grad)} (from {d.sender})" for d in to_h)
          + f" = <b>{fmt(w2.grad['h'])}</b></p>",
          bullets("Before example 2, the two rules it needs. g is the gradient arriving at the op's "
                  "output.",
                  "Plus passes g on unchanged to both inputs; times passes g times the other input.",
                  f"Example 2: h = a + b = {fmt(hval)}, c = {fmt(cval)}, d = {fmt(dval)}. m1 sends "
                  f"c \u00b7 1 = {fmt(sent(w2, 'm1', 'h'))} to h, m2 sends d \u00b7 1 = "
                  f"{fmt(sent(w2, 'm2', 'h'))}.",
                  "Why a sum: h changes y through m1 and through m2; the effects add "
                  "(multivariable chain rule).",
                  "So h's gradient is complete only once both have arrived. That is the next slide."))

    wait2 = [d for d in w2.deliveries if d.waiting > 0]
    slide("example-2", "Example 2: the barrier",
          '<p class="formula small">h = a + b; &nbsp; y = (c \u00b7 h) + (h \u00b7 d) &nbsp; '
          'with a = 2, b = \u22121, c = 3, d = 4</p>' + fig("example2_barrier.svg"),
          bullets("h is used twice: by m1 and by m2.",
                  "The walk reaches h first from m1"
                  + (f" (step {wait2[0].n}, gradient {fmt(wait2[0].grad)})" if wait2 else "")
                  + ". h waits (the ring): going on now would give a and b only part of their "
                  "gradient.",
                  "The walk goes back up to y, down through m2; with the second gradient h holds "
                  "the full sum and only then passes it on to a and b.",
                  f"Engine's order: {edges((d.sender, d.receiver) for d in w2.deliveries)}."))

    pr = r.predict
    slide("predict", "Your turn: predict, then reveal",
          '<p class="formula small">h = a \u00b7 b; &nbsp; k = h + c; &nbsp; y = k \u00b7 h &nbsp; '
          'with a = 2, b = \u22121, c = 3</p>'
          '<div class="twocol tight"><div><ol class="ex"><li>Which node waits, and after which '
          'delivery?</li><li>What is h\u2019s full gradient?</li><li>What is <code>a.grad</code>?'
          '</li></ol></div>'
          + steps(1, '<pre class="code trace">' + esc(chr(10).join(pr["printed"])) + '</pre>'
                  + f'<p class="answer">{", ".join(pr["waits"])} waits after '
                    f'{", ".join(pr["wait_after"])}\u2019s delivery; '
                    f'h gets {" + ".join(fmt(g) for g in pr["h"])} = <b>{fmt(sum(pr["h"]))}</b>; '
                    f'a.grad = <b>{fmt(pr["grads"]["a"])}</b></p>', "div")
          + '</div>',
          bullets("In-class exercise, 3 to 4 minutes: pairs, paper. Ask for predictions by show of "
                  "hands before revealing.",
                  "Hint if stuck: count h's consumers (k and y), then follow y's edges in order.",
                  "Press \u2192 once: the trace, printed by the code on the appendix slide 'Checking "
                  "your prediction' (tensors named, as in the README).",
                  f"{pr['waits'][0]} waits after {pr['wait_after'][0]}'s delivery; "
                  f"{pr['completes'][0]}'s delivery completes it; a.grad = h's gradient \u00d7 b = "
                  f"{fmt(sum(pr['h']))} \u00b7 \u22121 = {fmt(pr['grads']['a'])}."))

    fw = r.forwarding
    slide("why-wait", "Why wait?",
          ul("A node\u2019s gradient is the <b>sum over its consumers</b>: for h, "
             f"{' + '.join(fmt(d.grad) for d in to_h)} = {fmt(w2.grad['h'])}",
             "Waiting until the sum is complete means every node sends <b>once</b>, with its full "
             "gradient: every edge is walked <b>exactly once</b>",
             f"No wait, h passes on its running total: a and b get <b>{fmt(fw['totals']['a'])}</b> "
             f"(wrong: {fmt(to_h[0].grad)} counted twice)",
             f"No wait, h passes on each increment: {fmt(fw['increments']['a'])}, right, but "
             f"{fw['increments_edges']} edges walked instead of {len(w2.deliveries)}: below h once per "
             "path, and paths can double at every level"),
          bullets("The tutorial says going on from h early is WRONG. It is wrong when h forwards "
                  "its accumulated .grad each time: a and b get "
                  f"{fmt(to_h[0].grad)} + {fmt(w2.grad['h'])} = {fmt(fw['totals']['a'])} "
                  "(computed at build time).",
                  "Forwarding only each increment gives the right "
                  f"{fmt(fw['increments']['a'])}: the chain rule is linear. But everything below h "
                  "is walked once per path: exponential in depth (ladder slide, later).",
                  "Waiting for all consumers (a count) makes it right and linear at once."))

    slide("example-3", "Example 3: a dead-end branch",
          '<p class="formula small">h = a \u00b7 b; &nbsp; side = h \u00b7 3 &nbsp;(logged, never '
          'reaches y); &nbsp; y = h \u00b7 c</p>' + fig("example3_side_branch.svg"),
          bullets("Beyond the tutorial: side uses h but never feeds y.",
                  "A naive engine that counts every consumer (the tutorial's 'children', filled "
                  "in the forward pass) makes h wait for side: a and b never get a gradient.",
                  "MyTorch counts consumers by walking from the loss: only consumers on a path to y "
                  "count, and h goes on at once.",
                  f"Engine's order: {edges((d.sender, d.receiver) for d in w3.deliveries)}."))

    # ---- 5. The code (about 9 minutes) ---------------------------------------------------------------
    rc = r.recursive
    slide("code-recursive", "The walk, recursively (the tutorial\u2019s way)",
          '<p class="caption top">slides/walkers.py \u2014 run when the deck was built on examples '
          '1\u20133 and the exercise: the engine\u2019s order and gradients \u2714</p>'
          + code_block(rc["src"], max_h=600),
          bullets("The tutorial's idea as code: count consumers, then a recursive send.",
                  "send(node) is called only for a complete node; each delivery lowers the "
                  "receiver's count; at 0 we recurse into it at once: depth first, gated.",
                  "The build runs it on every example and checks it gives the engine's order and "
                  "gradients.",
                  "One Python frame per node on the way down: a deep chain hits the recursion "
                  f"limit (about {r.depth['recursive_fails_about']} ops, measured). The engine "
                  "does the same walk with a stack of its own: next slides."), "code")

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
    slide("code-backward-setup", "The code: <code>Tensor.backward</code>, set-up",
          f'<p class="caption top">{where(b["setup"])} (the whole function: lines {b["fn_first"]}'
          f'\u2013{b["fn_last"]})</p>' + code_block(b["setup"].src, max_h=440, as_written=True)
          + ul("<b>count</b> first: how many consumers will deliver to each node",
               "<b>seed</b>: the loss gets gradient 1 (d loss / d loss)", cls="tight"),
          bullets("backward counts consumers from the loss (the helper we just saw).",
                  "Then it puts the loss with gradient 1 on the stack: a list, not Python's call "
                  "stack.",
                  "Everything else is one loop, on the next two slides."), "code")

    slide("code-backward-walk", "The code: the walk, 1. deliver",
          f'<p class="caption top">{where(b["loop_a"], ": take the top frame, send along its next edge")}'
          '</p>' + code_block(b["loop_a"].src, max_h=620, as_written=True),
          bullets("A frame is a complete node, its gradient, and which input is next.",
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
                  "deck's figures."),
          "code")

    # ---- 6. Gated walk or topological sort? (about 10 minutes) ---------------------------------------
    slide("gate-or-sort", "Gated walk or topological sort?",
          '<p class="caption top">The tutorial: micrograd sorts the graph topologically; this engine '
          'gates a depth-first walk. \u201cNot totally sure about the benefits of one or the other.\u201d'
          '</p><div class="twocol tight"><div class="box plain"><div class="boxhead">topological sort '
          '(micrograd)</div>list every node after all the nodes it feeds, then walk the list: each '
          'node sends its gradient once</div><div class="box plain"><div class="boxhead">gated walk '
          '(MyTorch)</div>count each node\u2019s consumers, walk depth-first, go on from a node when '
          'its count reaches 0</div></div>'
          '<p class="answer">Both send each node\u2019s gradient only once it is complete. The engine '
          '<b>descends after each edge</b>: when an edge completes its receiver, it goes down into it '
          'at once; the sender\u2019s other edges wait on the stack. (Kahn\u2019s algorithm with a stack '
          'would first send along <b>all</b> of a node\u2019s edges: not the same order.)</p>',
          bullets("The tutorial's open question; the next slides answer it with the deck's own numbers.",
                "Topological order: each node after all nodes that use it. micrograd builds one up "
                "front (depth-first post-order, reversed), then walks the list.",
                "The engine builds no list: it counts consumers, then walks depth first; after every "
                "single edge it checks the receiver, and if that was its last consumer it descends "
                "into it right away.",
                "That is not Kahn's algorithm with a stack: Kahn takes a ready node and sends along "
                "all its edges before taking the next (walkers.gated_queue with "
                "first_in_first_out=False). Next-but-one slide: the difference on example 2.",
                "Walkers are lecture code in slides/walkers.py, reading the engine's node._edges."))

    lad = r.ladder
    slide("gate-ladder", "Why gate (or sort) at all?",
          '<p class="formula small">a ladder of diamonds: x, then <i>n</i> times '
          '<code>h = h*2 + h*3</code> &nbsp;(h used twice, as in example 2)</p>'
          + table(["depth <i>n</i>", "edges walked, gated (engine)", "edges walked, no gate"],
                  [[row["depth"], f'{row["gated"]:,}', f'<b>{row["ungated"]:,}</b>'] for row in lad],
                  cls="num")
          + '<p class="caption">no gate: each partial sum goes on at once, so everything below a '
            'node is walked once <b>per path</b> into it: 2<sup><i>n</i></sup> paths</p>',
          bullets("Gated column: the steps the engine's own trace reports. No gate: "
                  "walkers.ungated_depth_first, passing each increment on at once.",
                  "; ".join(f"depth {row['depth']}: {row['gated']} vs {row['ungated']:,}"
                            + (f" (walked: same gradient, {row['grad']:,.0f})" if row["ran"]
                               else " (counted as paths, not walked)") for row in lad) + ".",
                  "Right either way (the chain rule is linear), but the work doubles with each rung.",
                  "A topological sort and the gate both make every node send once."))

    oc = r.orders
    grads = ", ".join(f"{k} = {fmt(v)}" for k, v in sorted(oc["grads_engine"].items()))
    fd = oc["first_diff"]

    def steps_list(order, mark):
        return '<ol class="steps">' + "".join(
            (f"<li><b>{s} {ARROW} {t}</b></li>" if i == fd and mark else f"<li>{s} {ARROW} {t}</li>")
            for i, (s, t, _) in enumerate(order)) + '</ol>'
    slide("gate-order", "Same gradients, different order",
          '<p class="formula small">example 2: h = a + b; &nbsp; y = (c \u00b7 h) + (h \u00b7 d)</p>'
          + '<div class="twocol tight">'
          + '<div><div class="boxhead">engine (its trace)</div>' + steps_list(oc["engine"], True)
          + '</div><div><div class="boxhead">Kahn, with a stack</div>' + steps_list(oc["kahn"], True)
          + '</div><div><div class="boxhead">topological list</div>' + steps_list(oc["topo"], False)
          + f'</div></div><p class="answer">all three give {grads}'
          + (' \u2714' if oc["same"] else ' \u2718 (they differ!)') + '</p>',
          bullets(f"Step {fd + 1} is where they part: the engine has just completed "
                f"{oc['engine'][fd - 1][1]}, so it goes down into it ({oc['engine'][fd][0]} {ARROW} "
                f"{oc['engine'][fd][1]}); Kahn first finishes all of {oc['kahn'][fd][0]}'s edges "
                f"({oc['kahn'][fd][0]} {ARROW} {oc['kahn'][fd][1]}).",
                "Kahn with a stack (walkers.gated_queue, first_in_first_out=False) gives exactly the "
                f"list's order here (the list: {', '.join(oc['topo_list'])}); the build checks both "
                "claims.",
                "Every edge walked once in all three; only the order differs. The list never waits: "
                "the sort already put h after m1 and m2.",
                "Same sums, so the same gradients: "
                + ", ".join(f"{k}: {fmt(oc['grads_engine'][k])} and {fmt(oc['grads_topo'][k])}"
                            for k in sorted(oc["grads_engine"])) + "."))

    bp = r.buffers
    rows = []
    for g in bp["graphs"]:
        cells = [g]
        for o in bp["orders"]:
            n, nbytes, _ = bp["table"][(g, o)]
            cells.append(f"{n} &nbsp;<small>({kb(nbytes)})</small>")
        rows.append(cells)
    g_ex2, g_mnist, g_shared = bp["graphs"]
    engine_o, others = bp["orders"][0], bp["orders"][1:]
    peak = {g: [bp["table"][(g, o)][0] for o in bp["orders"]] for g in bp["graphs"]}
    nbytes = {g: [bp["table"][(g, o)][1] for o in bp["orders"]] for g in bp["graphs"]}
    n_edges = {g: bp["table"][(g, engine_o)][2] for g in bp["graphs"]}
    slide("gate-memory", "What the order changes: memory",
          '<p class="caption top">most gradient buffers alive at once during one backward; in brackets '
          'their distinct bytes (a view, or one array an identity rule passes on, counted once). '
          'Parameter gradients (<code>.grad</code>) come on top, the same in every order.</p>'
          + table(["graph"] + [o.replace(" (", "<br>(") for o in bp["orders"]], rows, cls="num")
          + ('<p class="answer">On the layer used 4 times the engine goes down into each op\u2019s '
             'first input while its second (<code>b</code>, <code>W.T</code>) still waits: it keeps '
             'that op\u2019s gradient on the stack.</p>'
             if peak[g_shared][0] > min(peak[g_shared][1:]) else ''),
          bullets("A buffer: a non-leaf node's gradient, from its first delivery until passed on "
                  "along every edge.",
                  f"MLP: the tutorial's 784-128-64-32-10 sigmoid net at batch 64, random data: "
                  f"{bp['mnist_nodes']} nodes, {bp['mnist_edges']} edges. The linear op sends to its "
                  "input last, so each layer's gradient goes before the walk goes down.",
                  "Layer x @ W.T + b used 4 times: add and matmul descend into their first input "
                  "while the second waits.",
                  "PyTorch: torch/csrc/autograd/engine.h, ReadyQueue: ready tasks in a priority "
                  "queue - shutdown tasks first, then higher reentrant depth, then higher sequence "
                  "number (the most recently created node).",
                  "PR pytorch/pytorch#4746 (2018) replaced a FIFO queue, costly on a model reusing "
                  "one Linear."))

    rd = r.depth
    ex = "; ".join(f"{g.split(',')[0]}: {n_edges[g]}" for g in bp["graphs"])

    def holds(g):
        p = peak[g]
        if len(set(p)) == 1:
            return f"every order holds <b>{p[0]}</b> buffers"
        return (f"the engine\u2019s order holds <b>{p[0]}</b> against "
                f"{' and '.join(str(v) for v in p[1:])}")
    never_cheaper = all(peak[g][0] >= min(peak[g][1:]) for g in bp["graphs"])
    sometimes_dearer = any(peak[g][0] > min(peak[g][1:]) for g in bp["graphs"])
    slide("gate-verdict", "The verdict",
          table(["", "gated walk (engine) vs sort"],
                [["gradients", "the same \u2714 (checked on all three graphs)"],
                 ["edges walked", f"the same: {ex}"],
                 ["memory, MLP", holds(g_mnist)],
                 ["memory, layer used 4\u00d7", holds(g_shared)]])
          + '<p class="answer">'
          + ("Its order is <b>never the cheaper one</b> here. " if never_cheaper and sometimes_dearer else "")
          + 'What it does win: <b>no sort</b> (no list of every node to build first; it counts '
            'consumers instead), and an <b>explicit stack</b>: micrograd\u2019s recursive '
            f'<code>build_topo</code> stops at a chain of about <b>{rd["fails_about"]:,}</b> ops '
            f'(recursion limit {rd["limit"]:,}); the engine\u2019s backward walks a '
            f'<b>{rd["deep"]:,}</b>-op chain.</p>',
          bullets("Gate and sort are the same idea: send a node's gradient once it is complete. "
                  "Same gradients, every edge once.",
                  "The engine's depth-first order does not save memory here: equal on the MLP, "
                  "worse on the reused layer.",
                  "Counting consumers is also a pass over the graph, like the sort: the saving is "
                  "the ordered list, not the pass.",
                  f"Recursion: walkers.build_topo, micrograd's recursive sort, raises RecursionError "
                  f"at a chain of about {rd['fails_about']} ops under Python's default limit of "
                  f"{rd['limit']} (fresh thread; varies by a frame between versions, so rounded "
                  f"down to 10). The engine, with an explicit stack, walks {rd['deep']:,} negations: "
                  f"x.grad = {fmt(rd['deep_grad'])}. An iterative sort would work too "
                  "(walkers.topological_order)."))

    # ---- 7. Exercises and takeaways (about 3 minutes) -------------------------------------------------
    slide("exercises", "Exercises",
          '<ol class="ex">'
          '<li>Add <code>sin</code>: forward <code>np.sin</code>; what is the rule on its edge?</li>'
          '<li>Add an element-wise <code>min(x, y)</code>. Where does the gradient go? And on a '
          'tie?</li>'
          '<li>Run the recursive walk on a chain of 2,000 negations. What happens? Why not in the '
          'engine?</li>'
          '<li>Why can\u2019t the engine count consumers during the forward pass instead?</li>'
          '</ol>',
          bullets("Homework. Worked solutions are in the appendix, computed when the deck was built.",
                  "Exercise 3 uses walkers.recursive_gated from slides/walkers.py."))

    slide("summary", "Takeaways",
          ul("Build functions from a few ops with known local derivatives",
             "Each op records its inputs: that <b>is</b> the graph",
             "<code>backward</code> = depth-first walk from the loss, multiplying by local derivatives",
             "A node with several consumers <b>waits</b> until all their gradients have arrived",
             "Consumers are counted <b>from the loss</b>: side branches cannot block the walk",
             "Gate or sort: same gradients, same edges; the gate needs no list, its stack no "
             "recursion"),
          bullets("That is the whole engine. nn, optim and the MNIST loop are a thin layer on top "
                  "(appendix).",
                  "End of the main line (about 50 minutes)."))

    # ---- Appendix --------------------------------------------------------------------------------
    slide("appendix", "Appendix",
          ul("Using it: an MNIST classifier (model, training loop, a real run)",
             "Why <code>backward()</code> frees the graph",
             "Checking your prediction: the in-class exercise\u2019s code",
             "Worked solutions of the exercises"),
          bullets("Not part of the 50-minute main line: for questions, or a longer session."))

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
          bullets(f"A real run of {MNIST_RESULT_COMMAND} with its defaults, pasted from "
                  "slides/mnist_result.txt.",
                  *([f"{mn['epochs']} epochs"
                     + (f", batch {mn['batch']}" if mn["batch"] else "")
                     + (f", SGD lr {mn['lr']} with Nesterov momentum" if mn["lr"] else "")
                     + f": final test accuracy {mn['acc']}%.",
                     f"Training took {mn['train_s']} s, {mn['total_s']} s since the script started "
                     "(imports and data loading included)."] if mn else
                    ["The numbers are the ones printed on the slide."]),
                  "Every gradient came from the walk we stepped through."))

    k = r.kept
    if k is None:
        body = ('<div class="placeholder">This mytorch has no <code>retain_graph</code> yet: '
                'rebuild the deck once it has.</div>')
        notes = "- Placeholder: measured at build time once backward(retain_graph=...) exists."
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
                          f'<b>{kb(k["kept"])}</b> &nbsp;<small>({k["kept_arrays"]} arrays)</small>']],
                        cls="num wide"))
        notes = bullets("The graph holds every array an op saved for its rule; once backward has "
                        "used them they are dead weight.",
                        "losses.append(loss) keeps the loss, and with it whatever it still holds: "
                        f"after backward() only its value ({kb(k['freed'])}); with retain_graph=True "
                        f"the whole graph's arrays, {kb(k['kept'])} a batch.",
                        "Counted from the arrays' shapes and dtypes; Python's object headers come on "
                        "top.",
                        "Log loss.item() anyway.")
    slide("free-graph", "Why <code>backward()</code> frees the graph", body, notes)

    slide("predict-check", "Checking your prediction",
          '<p class="caption top">the in-class exercise, with names in the trace (as in the README); '
          'run when the deck was built: it printed the trace revealed on the exercise slide</p>'
          + code_block(pr["code"], max_h=460),
          bullets("Without names, print(step) shows two tensors with no way to tell them apart: "
                  "label each tensor by its variable name.",
                  "What it printed: " + "; ".join(pr["printed"]) + "."), "code")

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
          bullets("Both ops are defined in slides/engine_runs.py the way mytorch builds its own "
                  "(an output whose _edges hold (input, rule) pairs), never added to mytorch.py.",
                  "Checked with mytorch.gradcheck against finite differences on random float64 "
                  "inputs at build time; the wrong rule (\u2212cos) must fail the same check.",
                  "A tie is not differentiable: any split adding up to g is valid; torch.minimum "
                  "gives half to each (checked with torch 2.14.1)."))

    rd = r.depth
    slide("solutions-2", "Appendix: solutions 3\u20134",
          '<ol class="ex sol" start="3">'
          f'<li><code>RecursionError</code>: one Python frame per node on the way down, and Python '
          f'stops at {rd["limit"]:,} frames: the recursive walk fails from about '
          f'<b>{rd["recursive_fails_about"]:,}</b> ops (measured). The engine keeps its frames in a '
          f'list: it walks <b>{rd["deep"]:,}</b> ops.</li>'
          '<li>In the forward pass nobody knows yet which tensors will reach the loss (example 3): '
          'a count made then includes dead ends, and h would wait forever.</li></ol>',
          bullets(f"3: measured at build time in a fresh thread under the recursion limit "
                  f"{rd['limit']} (CPython's default); the exact depth varies by a frame between "
                  "Python versions, so the slide rounds down to 10.",
                  f"The engine's backward on {rd['deep']:,} negations gives x.grad = "
                  f"{fmt(rd['deep_grad'])}.",
                  "4: counting in the forward pass counts consumers that never reach the loss, "
                  "like side in example 3."))
    return out
