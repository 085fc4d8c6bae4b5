"""Other ways to walk MyTorch's recorded graph backward: lecture code for the deck's section
"Gated walk or topological sort?". Not part of the engine, and never imported by it.

The gated walks are all Kahn's algorithm: count each node's consumers (its in-degree, counting only
edges from nodes on a path to the loss), and a node is ready once all of them have delivered. They
differ in which ready node goes next: the newest (a stack: the engine's walk, which also goes down
into a node right after the edge that made it ready), the oldest (a first-in-first-out queue:
breadth first), or the one created last (PyTorch's ready queue, ordered by sequence number).
micrograd counts nothing: it sorts every node first, then walks the list, and keeps every gradient.

Every walker reads only what the engine records: ``node._edges``, a tuple of ``(input, rule)`` pairs,
where ``rule(gradient of node)`` is that edge's contribution to the gradient of ``input``. Leaves
have no edges. Each walker returns a ``Walked``: the leaves' gradients, the deliveries in the order
it made them, and how many gradient buffers were alive at once at the peak (and their bytes).

What counts as a buffer: the gradient of a non-leaf node, from the first delivery into it until the
node has sent it on along all its edges; their bytes are counted once per block of memory (a view,
or one array held by two buffers, counts once). Every walker writes leaves' gradients straight into
its results (as the engine does into ``leaf.grad``), so those are the same in every order and not
counted: parameter gradients come on top.
"""
import collections
import heapq

import numpy as np

Walked = collections.namedtuple("Walked", "grads deliveries peak_buffers peak_bytes")


def edges(node):
    return node._edges or ()        # the engine sets _edges to None once it has freed a node


def values(tensor):
    """A tensor's numbers, as a numpy array (as in PyTorch: tensor.detach().numpy())."""
    return tensor.detach().numpy()


def fit(grad, like):
    """A rule's result, summed back to the shape of the input (undo numpy's broadcasting)."""
    grad = np.asarray(grad)
    shape = np.shape(values(like))
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.astype(values(like).dtype, copy=False)


def owner(a):
    """The array that holds a's bytes: a itself, or the array a is a view of."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def distinct_bytes(arrays):
    """Bytes of memory the arrays hold, each block counted once: a view, or the same array held by
    two buffers (an add's rule passes its gradient on unchanged), adds nothing."""
    blocks = {id(owner(a)): owner(a) for a in arrays}
    return sum(b.nbytes for b in blocks.values())


class Buffers:
    """The gradient buffers a walker holds, and the most it ever held at once (how many, and their
    distinct bytes)."""

    def __init__(self):
        self.grad, self.peak, self.peak_bytes = {}, 0, 0

    def add(self, node, g):
        key = id(node)
        self.grad[key] = g if key not in self.grad else self.grad[key] + g
        self.peak = max(self.peak, len(self.grad))
        self.peak_bytes = max(self.peak_bytes, distinct_bytes(self.grad.values()))

    def take(self, node, keep=False):
        """The node's gradient, to send on; let go of it unless `keep` (micrograd keeps every one).
        """
        return self.grad[id(node)] if keep else self.grad.pop(id(node))


def consumers(loss):
    """For each node on a path to the loss: how many edges into it come from nodes on such a path."""
    count, todo = collections.Counter(), [loss]
    seen = {id(loss)}
    while todo:
        node = todo.pop()
        for x, _ in edges(node):
            count[id(x)] += 1
            if id(x) not in seen:
                seen.add(id(x))
                todo.append(x)
    return count


def seed(loss):
    return np.ones_like(values(loss))


def _send(node, g, x, rule, bufs, grads, log):
    """One delivery along the edge node -> x: leaves collect, other nodes fill a buffer."""
    d = fit(rule(g), x)
    log.append((node, x, d))
    if edges(x):
        bufs.add(x, d)
    else:
        grads[id(x)] = d if id(x) not in grads else grads[id(x)] + d


def gated_depth_first(loss):
    """The engine's walk: descend into a node as soon as its last consumer has delivered to it. A
    node waits on the stack while it still has inputs to send to, and lets its gradient go once it
    has sent along its last edge (as the engine does)."""
    waiting, bufs, grads, log = consumers(loss), Buffers(), {}, []
    bufs.add(loss, seed(loss))
    stack = [(loss, 0)] if edges(loss) else []
    while stack:
        node, i = stack.pop()
        x, rule = edges(node)[i]
        _send(node, bufs.grad[id(node)], x, rule, bufs, grads, log)
        if i + 1 < len(edges(node)):
            stack.append((node, i + 1))                # its other inputs wait their turn
        else:
            bufs.take(node)                            # sent along every edge: free it
        waiting[id(x)] -= 1
        if waiting[id(x)] == 0 and edges(x):
            stack.append((x, 0))                       # complete: go down into it now
    return Walked(grads, log, bufs.peak, bufs.peak_bytes)


def gated_kahn(loss, ready, push, pop):
    """Kahn's algorithm on the backward graph: a node is ready once all its consumers delivered, and
    a ready node sends its gradient along ALL its edges, then lets it go, before the next ready node
    is taken. The ready nodes wait in `ready`: push(node) puts one there, pop() takes the next."""
    waiting, bufs, grads, log = consumers(loss), Buffers(), {}, []
    bufs.add(loss, seed(loss))
    if edges(loss):
        push(loss)
    while ready:
        node = pop()
        g = bufs.grad[id(node)]
        for x, rule in edges(node):
            _send(node, g, x, rule, bufs, grads, log)
            waiting[id(x)] -= 1
            if waiting[id(x)] == 0 and edges(x):
                push(x)
        bufs.take(node)
    return Walked(grads, log, bufs.peak, bufs.peak_bytes)


def gated_queue(loss, first_in_first_out=True):
    """Kahn's algorithm with the ready nodes in a queue: first in, first out is breadth first. Last
    in, first out (a stack) takes the newest, as the engine does, but still not the engine's walk:
    the engine descends into a receiver right after the edge that completed it, before the sender's
    other edges."""
    ready = collections.deque()
    return gated_kahn(loss, ready, ready.append,
                      ready.popleft if first_in_first_out else ready.pop)


def gated_by_creation(loss, created):
    """PyTorch's order: Kahn's algorithm with the ready nodes in a priority queue, the one created
    last first (PyTorch numbers every node it creates and its ready queue takes the highest sequence
    number). `created` maps id(node) to its number."""
    ready = []
    return gated_kahn(loss, ready, lambda x: heapq.heappush(ready, (-created[id(x)], x)),
                      lambda: heapq.heappop(ready)[1])


def topological_order(loss):
    """micrograd's way: list every node after all the nodes it feeds (a depth-first post-order from
    the loss, reversed). No counting is needed: the list itself guarantees that a node's gradient is
    complete when its turn comes."""
    order, seen = [], set()
    stack = [(loss, iter(edges(loss)))]
    seen.add(id(loss))
    while stack:
        node, todo = stack[-1]
        for x, _ in todo:
            if id(x) not in seen:
                seen.add(id(x))
                stack.append((x, iter(edges(x))))
                break
        else:
            stack.pop()
            order.append(node)
    return order[::-1]


def topological_list(loss, keep_every_gradient=False):
    """Sort first, then walk the list: each node sends its (complete) gradient along all its edges,
    then lets it go. With keep_every_gradient=True, as micrograd is written: every node keeps its
    gradient (its .grad) until the end."""
    bufs, grads, log = Buffers(), {}, []
    bufs.add(loss, seed(loss))
    for node in topological_order(loss):
        if edges(node):
            g = bufs.grad[id(node)]
            for x, rule in edges(node):
                _send(node, g, x, rule, bufs, grads, log)
            bufs.take(node, keep=keep_every_gradient)
    return Walked(grads, log, bufs.peak, bufs.peak_bytes)


def micrograd(loss):
    """micrograd as written: sort, walk the list, every node keeps its gradient."""
    return topological_list(loss, keep_every_gradient=True)


def ungated_depth_first(loss, send_total=False):
    """No gate: every node passes on each partial gradient the moment it gets one. The sums come
    out right (the chain rule is linear), but everything below a node is walked once per path.
    With send_total=True a node passes on everything it has summed so far instead (its .grad, as in
    the tutorial's "THIS IS WRONG"): what it sent before is then counted again, and the sums are wrong."""
    grads, log, summed = {}, [], {}
    todo = [(loss, seed(loss), x, rule) for x, rule in reversed(edges(loss))]
    while todo:
        node, g, x, rule = todo.pop()
        d = fit(rule(g), x)
        log.append((node, x, d))
        if edges(x):                                  # go on at once with this partial gradient
            summed[id(x)] = summed[id(x)] + d if id(x) in summed else d
            d = summed[id(x)] if send_total else d
            todo.extend((x, d, y, r) for y, r in reversed(edges(x)))
        else:
            grads[id(x)] = d if id(x) not in grads else grads[id(x)] + d
    return Walked(grads, log, None, None)


def ungated_edge_count(loss):
    """How many deliveries the ungated walk makes, without making them: each edge is walked once per
    path from the loss to the node it leaves, so count paths (in topological order)."""
    paths = collections.Counter({id(loss): 1})
    total = 0
    for node in topological_order(loss):
        for x, _ in edges(node):
            paths[id(x)] += paths[id(node)]
            total += paths[id(node)]
    return total


def recursive_gated(loss):
    """The tutorial's gated walk, written as it describes it: recursively. Returns every node's
    gradient (by id) and the deliveries in order. Same order as the engine, but one Python frame per
    node on the way down: a chain deeper than the recursion limit raises RecursionError."""
    waiting, total, log = consumers(loss), {id(loss): seed(loss)}, []

    def send(node):                  # node is complete: pass its gradient on
        for x, rule in edges(node):
            g = fit(rule(total[id(node)]), x)
            log.append((node, x, g))
            total[id(x)] = total[id(x)] + g if id(x) in total else g
            waiting[id(x)] -= 1
            if waiting[id(x)] == 0:  # the gate: all consumers of x delivered
                send(x)              # so go down into x now, depth first

    send(loss)
    return total, log


def build_topo(loss):
    """micrograd's topological sort, recursive as micrograd writes it: a node goes on the list after
    everything below it. One Python frame per node on the path: a deep chain hits the limit."""
    order, seen = [], set()

    def visit(node):
        if id(node) not in seen:
            seen.add(id(node))
            for x, _ in edges(node):
                visit(x)
            order.append(node)

    visit(loss)
    return order[::-1]
