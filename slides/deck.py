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


def about(n, step=50):
    """n rounded to a multiple of `step` (the bytes Python objects take differ between versions)."""
    return step * round(n / step)


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


def slides(r, fig, mnist_result):
    """The deck, slide by slide. Returns a list of (id, title, body html, notes text, css class)."""
    out = []

    def slide(sid, title, body, notes, cls=""):
        out.append((sid, title, body, notes, cls))

    w1, w2, w3, ws, wx = r.w1, r.w2, r.w3, r.ws, r.wx
    sval = ws.value("\u03c3")

    slide("title", DECK_TITLE,
          '<div class="title-block"><h1 class="big">MyTorch</h1>'
          '<p class="subtitle">autograd from scratch, in one file</p>'
          '<p class="lead">how <code>loss.backward()</code> finds every gradient: '
          'a depth-first walk that waits where paths meet</p></div>'
          '<p class="keys">\u2192 / space / click: next \u00b7 \u2190: back \u00b7 p: presenter view</p>',
          "Welcome. Today: how an autograd engine works, using MyTorch, a tiny engine in one Python file "
          "built on numpy. By the end you will be able to predict, step by step, the order in which it "
          "hands out gradients, and say why it sometimes has to wait.", "title")

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
          "In the previous part (ManualGrad) every module had a forward and a backward written by hand. "
          "That works, but it does not scale: every new function means a new derivation and new code, "
          "and the bugs are silent. Autograd: write only the forward pass out of a handful of ops, "
          "each of which knows its local derivative, and let the engine chain them.")

    slide("compose", "Functions are compositions",
          '<p class="formula">\u03c3(x) = 1 / (1 + e<sup>\u2212x</sup>) &nbsp;=&nbsp; '
          'negate \u2192 exp \u2192 add 1 \u2192 divide</p>' + fig("sigmoid_composition.svg") +
          f'<p class="caption">values for x = {fmt(ws.value("x"))}, as computed by mytorch</p>',
          "Sigmoid is not a new primitive. It is four ops the engine already knows: negate, exp, add, "
          "divide. The engine records each op as it runs (the forward pass), with its value. "
          f"With x = 1 the forward values are n = {fmt(ws.value('n'))}, a = {fmt(ws.value('a'))}, "
          f"b = {fmt(ws.value('b'))}, sigma = {fmt(sval)}. (MyTorch's own x.sigmoid() may be one fused "
          "op, as in PyTorch; the composition built here from the engine's ops is the lesson.)")

    chain = " \u00b7 ".join(fmt(d.grad / ws.grad[d.sender]) for d in ws.deliveries)
    slide("chain", "The chain rule, through sigmoid",
          '<p class="formula">d\u03c3/dx = \u2202\u03c3/\u2202b \u00b7 \u2202b/\u2202a \u00b7 '
          '\u2202a/\u2202n \u00b7 \u2202n/\u2202x</p>' + fig("sigmoid_chain_rule.svg") +
          f'<p class="caption">{chain} = <b>{fmt(ws.grad["x"])}</b> &nbsp;= \u03c3(1 \u2212 \u03c3) = '
          f'{fmt(sval)} \u00b7 {fmt(1 - sval)} \u2714</p>',
          "Backward: start with gradient 1 at sigma and walk back. Each op multiplies the incoming "
          "gradient by its local derivative (shown under each arrow). Multiply them all and you get "
          f"{fmt(ws.grad['x'])}, exactly sigma times (1 minus sigma), the textbook derivative. Nobody "
          "wrote a sigmoid backward; it fell out of the chain rule. Press right to reveal the steps.")

    slide("graph", "The computational graph",
          '<p class="formula small">each op <b>records its inputs</b> in the tensor it returns: '
          '<code>._op</code>, <code>._edges</code></p>' + fig("computational_graph.svg") +
          '<p class="caption">backward walks these records from the loss back to the leaves</p>',
          "When an op runs, its output tensor remembers which op made it and its inputs, each with the "
          "rule that turns the output's gradient into the input's gradient. That is the whole graph: "
          "there is no separate graph object. Note the direction: a tensor knows its inputs, not its "
          "consumers. Keep that in mind for example 3.")

    d1 = w1.deliveries
    slide("example-1", "Example 1: gradient propagation",
          '<p class="formula small">y = (a + b) \u00b7 (c + d) &nbsp; with a = 2, b = \u22121, c = 3, '
          'd = 4</p>' + fig("example1_walk.svg"),
          "Two paths meet at the final multiply. The engine walks depth-first: it sends "
          f"{fmt(d1[0].grad)} to p (the value of q), p is complete so it goes straight down to a, comes "
          "back up and sends to b, then back to y which sends to q, then c, then d. Each colour is one "
          "path of the walk, the numbers are the step order, the pills the gradient carried. "
          f"Order from the engine: {edges((d.sender, d.receiver) for d in d1)}. Step through it with "
          "the arrow keys.")

    wait2 = [d for d in w2.deliveries if d.waiting > 0]
    slide("example-2", "Example 2: the barrier",
          '<p class="formula small">h = a + b; &nbsp; y = (c \u00b7 h) + (h \u00b7 d) &nbsp; '
          'with a = 2, b = \u22121, c = 3, d = 4</p>' + fig("example2_barrier.svg"),
          "h is used twice: by m1 and by m2. The walk reaches h first from m1 "
          + (f"(step {wait2[0].n}, gradient {fmt(wait2[0].grad)}). " if wait2 else ". ") +
          "If h went on now, a and b would get only part of their gradient, and everything below h "
          "would be walked twice. So h waits (red dashed ring). The walk goes back up to y, down "
          "through m2, and when the second gradient arrives h holds the full sum, and only then passes "
          f"it on to a and b. Order from the engine: {edges((d.sender, d.receiver) for d in w2.deliveries)}.")

    slide("why-wait", "Why wait?",
          ul("A node's gradient is the <b>sum over its consumers</b>: for h, "
             f"{' + '.join(fmt(d.grad) for d in w2.deliveries if d.receiver == 'h')} = "
             f"{fmt(w2.grad['h'])}",
             "Waiting until the sum is complete means every node sends <b>once</b>, with its full "
             "gradient",
             "So every edge is walked <b>exactly once</b>: backward costs about what forward does",
             "Without the wait: send partial sums down every path. The number of paths can grow "
             "exponentially with depth"),
          "Strictly, sending partial gradients down and adding them up at the leaves also gives the "
          "right numbers, since the chain rule is linear. But it walks everything below h once per "
          "path into h: a stack of such diamonds doubles the work at each level (measured later, in "
          "'Gated walk or topological sort?'). Counting how many gradients each node must collect and "
          "waiting for all of them is what makes the walk linear in graph size.")

    slide("example-3", "Example 3: a dead-end branch",
          '<p class="formula small">h = a \u00b7 b; &nbsp; side = h \u00b7 3 &nbsp;(logged, never '
          'reaches y); &nbsp; y = h \u00b7 c</p>' + fig("example3_side_branch.svg"),
          "Beyond the tutorial. side uses h but never feeds y. A naive engine that counts every "
          "consumer (the tutorial's 'children' list, filled in during the forward pass) would make h "
          "wait for a gradient from side that never comes: a and b would silently get no gradient. "
          "MyTorch counts consumers by walking from the loss, so only consumers on a path to y count, "
          "and h goes on at once. "
          f"Order from the engine: {edges((d.sender, d.receiver) for d in w3.deliveries)}.")

    c = r.count_code
    slide("code-count-consumers", f"The code: <code>{esc(c['name'])}</code>",
          f'<p class="caption top">counts, from the loss, how many gradients each tensor must collect '
          f'\u2014 {esc(r.mt_file)}, lines {c["first"]}\u2013{c["last"]}{c["omitted"]}</p>'
          + code_block(c["src"], max_h=620),
          "This is the real code, cut out of mytorch.py when the deck was built, so it always matches "
          "the engine. First the helper: walk from the loss and count, for each tensor, how many of "
          "its consumers lie on a path to the loss.", "code")

    b = r.walk_code
    slide("code-backward-setup", "The code: <code>Tensor.backward</code>, set-up",
          f'<p class="caption top">{esc(r.mt_file)}, lines {b["setup_first"]}\u2013{b["setup_last"]} '
          f'(the whole function: lines {b["fn_first"]}\u2013{b["fn_last"]}; argument checks and '
          'comment lines not shown)</p>' + code_block(b["setup"], max_h=330, max_size=34)
          + ul("<b>count</b> first: how many consumers will deliver to each node",
               "<b>seed</b>: the loss gets gradient 1 (d loss / d loss)",
               "then one loop does the whole walk (next slide)", cls="tight"),
          "backward starts by counting consumers from the loss (the helper we just saw), then puts the "
          "loss with gradient 1 on the stack. Everything else is the loop on the next slide.", "code")
    slide("code-backward-walk", "The code: the walk in <code>Tensor.backward</code>",
          f'<p class="caption top">{esc(r.mt_file)}, lines {b["loop_first"]}\u2013{b["loop_last"]}: '
          'the gated depth-first walk</p>' + code_block(b["loop"], max_h=640),
          "Each delivery lowers the receiver's count; only a receiver whose count reached zero is "
          "descended into (the break), the rest of the sender's edges wait on the stack. The trace "
          "argument is what drew the figures in this deck." + b["note"], "code")

    # ---- Gated walk or topological sort? ----------------------------------------------------------
    lad = r.ladder
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

    slide("gate-ladder", "Why gate (or sort) at all?",
          '<p class="formula small">a ladder of diamonds: x, then <i>n</i> times '
          '<code>h = h*2 + h*3</code> &nbsp;(h used twice, as in example 2)</p>'
          + table(["depth <i>n</i>", "edges walked, gated (engine)", "edges walked, no gate"],
                  [[row["depth"], f'{row["gated"]:,}', f'<b>{row["ungated"]:,}</b>'] for row in lad],
                  cls="num")
          + '<p class="caption">no gate: each partial sum goes on at once, so everything below a '
            'node is walked once <b>per path</b> into it: 2<sup><i>n</i></sup> paths</p>',
          "Both counts from the engine's graph: the gated column is the number of steps the engine's "
          "own trace reports; the ungated walk (walkers.ungated_depth_first) passes every partial "
          "gradient on immediately. "
          + " ".join(f"Depth {row['depth']}: {row['gated']} vs {row['ungated']:,}"
                     + (" (walked, and it gives the engine's gradient, "
                        f"{row['grad']:,.0f})." if row["ran"] else
                        " (counted as paths into each edge, not walked).") for row in lad)
          + " The answers are right either way - the chain rule is linear - but the work doubles with "
          "each rung. A topological sort and the gate both make every node send once.")

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
          bullets("A buffer: a non-leaf node's gradient, from its first delivery until it has been "
                  "passed on along every edge. Bytes: distinct memory blocks.",
                  f"MLP: the tutorial's 784-128-64-32-10 sigmoid net at batch 64, random data: "
                  f"{bp['mnist_nodes']} nodes, {bp['mnist_edges']} edges. The linear op sends to "
                  "weight and bias first, input last, so each layer's gradient goes before the walk "
                  "goes down.",
                  "Layer written as x @ W.T + b, used 4 times: the add and the matmul descend into "
                  "their first input while the second still waits.",
                  "PyTorch: torch/csrc/autograd/engine.h, ReadyQueue: ready tasks in a priority "
                  "queue - shutdown tasks first, then higher reentrant depth, then higher sequence "
                  "number (the most recently created node). It runs a node's whole backward at once.",
                  "PR pytorch/pytorch#4746 (2018) replaced a FIFO queue: breadth first blew up memory "
                  "on a model reusing one Linear."))

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
          bullets("The answer to the tutorial's question, with the numbers of the last slides, all "
                  "computed when the deck was built.",
                  "Gate and sort are the same idea: send a node's gradient once it is complete. "
                  "Same gradients, every edge once.",
                  "The engine's depth-first order does not save memory here: equal on the MLP, "
                  "worse on the reused layer.",
                  "Counting consumers is also a pass over the graph, like the sort: the saving is "
                  "the ordered list, not the pass.",
                  f"Recursion: walkers.build_topo, micrograd's recursive sort, raises RecursionError "
                  f"at a chain of about {rd['fails_about']} ops under Python's default limit of "
                  f"{rd['limit']} (measured in a fresh thread; exact depth varies by a frame between "
                  f"versions). The engine, with an explicit stack, walks {rd['deep']:,} negations: "
                  f"x.grad = {fmt(rd['deep_grad'])}. An iterative sort would work too "
                  "(walkers.topological_order)."))

    # ---- the MNIST example -------------------------------------------------------------------------
    m = r.mnist
    slide("mnist", "Using it: an MNIST classifier",
          '<div class="twocol code2">' + code_block(m["model_code"], max_w=680, max_h=660, max_size=26)
          + '<div>' + code_block(m["loop_code"], max_w=680, max_h=400, max_size=26)
          + f'<p class="fact">784 \u2192 128 \u2192 64 \u2192 32 \u2192 10, sigmoid<br>'
            f'<b>{m["n_params"]:,}</b> parameters in {m["n_tensors"]} tensors'
          + (f', batches of {m["batch"]}' if m["batch"] else '') + '</p></div></div>',
          "Same API as PyTorch: nn.Module, nn.Linear, nn.Sigmoid, nn.CrossEntropyLoss, optim.SGD. "
          f"The model code on this slide is cut out of {m['origin']} and run against mytorch when "
          "the deck is built (that is where the parameter count comes from). fc4 gives logits; the "
          "loss applies the softmax. Not shown: train_mnist.py also lowers the learning rate linearly to 0 "
          "over the run (a LambdaLR scheduler, as in PyTorch). The images come from MNIST's own files (read with numpy; torchvision "
          "only downloads them) through torch's DataLoader.", "code")

    if mnist_result is None:
        result = ('<div class="placeholder"><b>PLACEHOLDER</b> \u2014 no training run pasted yet.<br>'
                  'Paste the output of a real <code>' + esc(MNIST_RESULT_COMMAND) + '</code> run into '
                  '<code>slides/mnist_result.txt</code>, then run <code>python slides/build.py</code>.'
                  '</div>')
    else:
        result = (f'<pre class="code result">{esc(mnist_result.strip())}</pre>'
                  f'<p class="caption">output of <code>{esc(MNIST_RESULT_COMMAND)}</code></p>')
    slide("mnist-result", "Result: training on MNIST", result,
          "A real run of train_mnist.py with its defaults (5 epochs, batch 128, SGD lr 0.8 with Nesterov "
          "momentum, the learning rate decayed linearly to 0): a sigmoid MLP, every gradient computed by "
          "the walk we just stepped through. The whole run took 4.9 to 5.2 s of wall time on the project's "
          "2-core machine (three runs, imports included).")

    k = r.kept
    if k is None:
        body = ('<div class="placeholder">This mytorch has no <code>retain_graph</code> yet: '
                'rebuild the deck once it has.</div>')
        notes = "Placeholder: measured at build time once backward(retain_graph=...) exists."
    else:
        body = (ul("<code>backward()</code> has used every saved input: they are garbage now",
                   "so at the end it <b>frees the graph</b>: <code>_edges = None</code>",
                   "a loss kept for logging then costs next to nothing",
                   "walking twice needs <code>retain_graph=True</code> (else: an error)", cls="tight")
                + (code_block(b["after"], max_h=130, max_size=28) if b["after"] else "")
                + f'<p class="caption top">{k["keep"]} losses of the MNIST model (batch {k["batch"]}) '
                  'kept in a list, measured with tracemalloc:</p>'
                + table(["", "memory per kept loss"],
                        [["<code>loss.backward()</code>", f'<b>about {kb(about(k["freed"]))}</b>'],
                         ["<code>loss.backward(retain_graph=True)</code>", f'<b>{kb(k["kept"])}</b>']],
                        cls="num wide"))
        notes = ("Why PyTorch, and now MyTorch, free the graph in backward: the graph holds every "
                 "array an op saved for its rule (inputs, outputs, masks). Once backward has used "
                 "them they are dead weight - and a common habit, losses.append(loss) for logging, "
                 "would keep every batch's graph alive. Measured at build time: "
                 f"{k['keep']} kept losses cost about {kb(about(k['freed']))} each after backward() (the "
                 "exact figure moves a little with the Python version, so the slide rounds it to 50 B), "
                 f"{kb(k['kept'])} each with retain_graph=True (the four layers' outputs alone are "
                 f"{kb(k['activations'])} per batch, and the graph keeps more: the sigmoid outputs, the "
                 "inputs of each op). Log loss.item() anyway. PyTorch's own words: "
                 "the retain_graph argument of torch.Tensor.backward and torch.autograd.backward "
                 "('If False, the graph used to compute the grad will be freed'), and the error it "
                 "raises on a second backward ('Trying to backward through the graph a second time "
                 "... Specify retain_graph=True')."
                 + (f" The code shown is the end of Tensor.backward, {r.mt_file} lines "
                    f"{b['after_first']}-{b['after_last']}." if b["after"] else ""))
    slide("free-graph", "Why <code>backward()</code> frees the graph", body, notes)

    # ---- exercises and answers ---------------------------------------------------------------------
    slide("exercises", "Exercises",
          '<ol class="ex">'
          '<li>Add <code>sin</code>: forward <code>np.sin</code>; what is the rule on its edge?</li>'
          '<li>Add an element-wise <code>min(x, y)</code>. Where does the gradient go? And on a '
          'tie?</li>'
          '<li>Predict the walk: <code>h = a*b; k = h + c; y = k*h</code>. '
          'Order of deliveries? Who waits? Check with <code>y.backward(trace=print)</code></li>'
          '<li>Why can\u2019t the engine count consumers during the forward pass instead?</li>'
          '</ol>',
          "Worked solutions are in the appendix after the last slide (computed when the deck was "
          "built).")

    slide("summary", "Takeaways",
          ul("Build functions from a few ops with known local derivatives",
             "Each op records its inputs: that <b>is</b> the graph",
             "<code>backward</code> = depth-first walk from the loss, multiplying by local derivatives",
             "A node with several consumers <b>waits</b> until all their gradients have arrived",
             "Consumers are counted <b>from the loss</b>: side branches cannot block the walk",
             "Gate or sort: same gradients; the order sets the memory"),
          "That is the whole engine. Everything else (nn, optim, the MNIST loop) is a thin layer on "
          "top.")

    s = r.solutions
    if s["gradcheck"]:
        checked = (f'<code>mytorch.gradcheck(sin, (x,))</code> \u2192 <b>{s["sin"]}</b> '
                   f'(with \u2212cos instead: {s["sin_wrong"]})')
        checked_min = f'<code>mytorch.gradcheck(minimum, (x, y))</code> \u2192 <b>{s["min"]}</b>'
    else:
        checked = checked_min = "(this mytorch has no gradcheck yet: rebuild once it has)"
    slide("solutions-1", "Appendix: solutions 1\u20132",
          '<ol class="ex sol">'
          '<li><code>sin</code>: the edge multiplies by <code>cos(x)</code>: '
          '<code>rule = lambda g: g * np.cos(x)</code><br>' + checked + '</li>'
          '<li><code>min</code>: all of <code>g</code> to the smaller input, none to the other; '
          f'on a tie pick a rule: half to each (as PyTorch does): min(1, 1) gives '
          f'{fmt(s["tie"][0])} and {fmt(s["tie"][1])}<br>' + checked_min + '</li></ol>',
          "Both ops are defined in slides/engine_runs.py (solutions), built the way mytorch builds its "
          "own ops (an output tensor whose _edges hold (input, rule) pairs), never added to "
          "mytorch.py, and checked with mytorch.gradcheck against finite differences on random "
          "float64 inputs when the deck is built; the wrong rule (-cos) must fail the same check. On a "
          "tie min is not differentiable, so gradcheck cannot decide it: any split that adds up to g "
          "is a valid choice; torch.minimum gives half to each (checked with torch 2.14.1), like "
          "MyTorch's max over all elements.")

    trace = s["trace"]
    slide("solutions-2", "Appendix: solutions 3\u20134",
          '<p class="caption top">3. <code>h = a*b; k = h + c; y = k*h</code> with a = 2, b = \u22121, '
          'c = 3: the engine\u2019s trace</p>'
          '<pre class="code trace">' + esc("\n".join(trace)) + '</pre>'
          + ul(", ".join(f"{d.receiver} waits at step {d.n}" for d in s["waits"]) + ": "
               "it has two consumers, k and y",
               "4. In the forward pass nobody knows yet which tensors will reach the loss "
               "(example 3): a count made then includes dead ends", cls="tight"),
          "The walk, as y.backward(trace=print) reports it (tensors named here by their variable "
          "names): " + "; ".join(trace) + ". 4: counting in the forward pass would count consumers "
          "that never reach the loss, like side in example 3, and h would wait forever.")
    return out
