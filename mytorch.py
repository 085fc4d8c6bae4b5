"""MyTorch: a small autograd engine in one file, built to show how PyTorch's autograd works inside.

A Tensor wraps a numpy array. Every op computes its result and records, for each input, the rule that
turns the gradient of the result into the gradient of that input (the chain rule, one op at a time).
`backward()` walks that graph from the loss back to the leaves, depth first, but *gated*: a node passes
gradient on to its inputs only once every consumer of it that leads to the loss has delivered its share.
On top sit `nn` (Module, Linear, Sigmoid, CrossEntropyLoss, ...) and `optim` (SGD), with PyTorch's names.

Needs only numpy (1.22+) and the standard library; Python 3.9+.

    import mytorch
    import mytorch.nn as nn
    x = mytorch.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad                       # array([2., 4., 6.], dtype=float32)
"""
import sys
import types
from collections import namedtuple

import numpy as np

# ---------------------------------------------------------------------------------------------------
# Grad mode and randomness
# ---------------------------------------------------------------------------------------------------
_grad_enabled = True


class no_grad:
    """`with mytorch.no_grad():` computes values but records no graph (for evaluation, SGD updates)."""

    def __enter__(self):
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous


_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator that initialises parameters, so the same seed gives the same network."""
    global _rng
    _rng = np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------------
# The one helper for broadcasting: a gradient must have the shape (and dtype) of the tensor it is for
# ---------------------------------------------------------------------------------------------------
def _fit_gradient(grad, tensor):
    """Sum `grad` over the axes along which `tensor` was broadcast in the forward pass.

    If x of shape (3,) was added to y of shape (2, 3), x was used twice (once per row), so its gradient
    is the sum over that leading axis; likewise for axes where x had size 1 (keepdims-style).
    """
    if grad.shape != tensor.data.shape:
        if grad.ndim > tensor.data.ndim:                              # axes x did not have at all
            grad = grad.sum(axis=tuple(range(grad.ndim - tensor.data.ndim)))
        stretched = tuple(i for i, n in enumerate(tensor.data.shape) if n == 1 and grad.shape[i] != 1)
        if stretched:                                                 # axes where x had size 1
            grad = grad.sum(axis=stretched, keepdims=True)
    if grad.dtype != tensor.data.dtype:                               # float64 consumer of a float32 input
        grad = grad.astype(tensor.data.dtype)
    return grad


def _expand_reduced(grad, shape, dim, keepdim):
    """Undo a reduction's shape: put back the reduced axes of `grad` and stretch it over `shape`."""
    if dim is not None and not keepdim:
        grad = np.expand_dims(grad, dim)
    return np.zeros(shape, grad.dtype) + grad     # (np.broadcast_to says the same, but slower)


# What the backward walk reports, if asked: `sender` passed `grad` to its input `receiver`, which still
# waits for `waiting` more of its consumers (0: it is complete, and the walk descends into it now).
Step = namedtuple("Step", "sender receiver grad waiting")

# What x.max(dim=...) returns, like PyTorch: unpacks as (values, indices), or use .values / .indices
MaxResult = namedtuple("max", "values indices")


# ---------------------------------------------------------------------------------------------------
# Tensor
# ---------------------------------------------------------------------------------------------------
class Tensor:
    __slots__ = ("data", "grad", "requires_grad", "_edges", "_op")
    __array_ufunc__ = None       # so `numpy_array + tensor` comes to Tensor.__radd__, not to numpy

    def __init__(self, data, requires_grad=False):
        """Numbers, nested lists and arrays. Floating arrays keep their dtype, all else becomes float32."""
        if isinstance(data, Tensor):
            data = data.data
        floating = isinstance(data, (np.ndarray, np.floating)) and data.dtype.kind == "f"
        dtype = None if floating else np.float32
        # A tensor that requires grad gets its own copy: optimizers update it in place, and must never
        # write into an array the caller still holds.
        self.data = np.array(data, dtype=dtype) if requires_grad else np.asarray(data, dtype=dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._edges = ()     # (input, rule) pairs; rule(grad of this tensor) -> grad of that input
        self._op = ""        # name of the op that made this tensor; "" for a leaf

    @staticmethod
    def _result(op, data, *edges):
        """The output of an op: keep the edges to inputs that need a gradient, unless in no_grad."""
        out = Tensor.__new__(Tensor)
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out.grad = None
        out._edges = tuple([edge for edge in edges if edge[0].requires_grad]) if _grad_enabled else ()
        out.requires_grad = bool(out._edges)
        out._op = op
        return out

    # -- a few properties, as in PyTorch ----------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)

    def item(self):
        return self.data.item()

    def numpy(self):
        return self.data

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor._result("", self.data)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = "" if self.dtype == np.float32 else f", dtype={self.dtype}"
        if self._op:
            extras += f", grad_fn=<{self._op}>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    def _operand(self, other, op):
        """The other side of a binary op, as a Tensor."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float, np.number)):
            # A plain number takes this tensor's dtype, as in PyTorch: float32 * 2.5 stays float32.
            return Tensor._result("", np.asarray(other, dtype=self.data.dtype))
        if isinstance(other, np.ndarray):
            return Tensor(other)
        raise TypeError(f"{op}: expected a Tensor, a number or a numpy array, got {type(other).__name__}")

    def _binary(self, op, numpy_op, other):
        """(other as a Tensor, numpy_op(self, other)); if the shapes do not fit, say so, naming the op."""
        other = self._operand(other, op)
        try:
            return other, numpy_op(self.data, other.data)
        except ValueError:
            why = "inner sizes must match" if op == "matmul" else "they cannot be broadcast together"
            raise ValueError(f"{op}: shapes {self.shape} and {other.shape} do not fit ({why})") from None

    # -- arithmetic: each op's forward, and beside it the derivative for each input -----------------
    def __add__(self, other):
        other, out = self._binary("add", np.add, other)
        # d(a+b)/da = 1,  d(a+b)/db = 1
        return Tensor._result("add", out, (self, _same), (other, _same))

    def __sub__(self, other):
        other, out = self._binary("sub", np.subtract, other)
        # d(a-b)/da = 1,  d(a-b)/db = -1
        return Tensor._result("sub", out, (self, _same), (other, np.negative))

    def __mul__(self, other):
        other, out = self._binary("mul", np.multiply, other)
        # d(a*b)/da = b,  d(a*b)/db = a
        return Tensor._result("mul", out, (self, lambda g: g * other.data), (other, lambda g: g * self.data))

    def __truediv__(self, other):
        other, out = self._binary("div", np.divide, other)
        # d(a/b)/da = 1/b,  d(a/b)/db = -a/b² = -(a/b)/b
        return Tensor._result("div", out,
                              (self, lambda g: g / other.data), (other, lambda g: -g * out / other.data))

    def __matmul__(self, other):
        other, out = self._binary("matmul", np.matmul, other)
        # C = A·B:  dA = G·Bᵀ,  dB = Aᵀ·G  (a 1-D A is treated as a row, a 1-D B as a column)
        return Tensor._result("matmul", out, (self, lambda g: _matmul_grad_a(g, self.data, other.data)),
                              (other, lambda g: _matmul_grad_b(g, self.data, other.data)))

    def __neg__(self):
        # d(-a)/da = -1
        return Tensor._result("neg", -self.data, (self, np.negative))

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float, np.number)):
            raise TypeError(f"pow: the exponent must be a number, got {type(exponent).__name__}")
        # d(a^p)/da = p·a^(p-1)
        return Tensor._result("pow", self.data ** exponent,
                              (self, lambda g: g * exponent * self.data ** (exponent - 1)))

    # number - tensor and the like: make the left side a Tensor, then use the ops above
    def __radd__(self, other):
        return self._operand(other, "add") + self

    def __rsub__(self, other):
        return self._operand(other, "sub") - self

    def __rmul__(self, other):
        return self._operand(other, "mul") * self

    def __rtruediv__(self, other):
        return self._operand(other, "div") / self

    def __rmatmul__(self, other):
        return self._operand(other, "matmul") @ self

    # -- elementwise functions ----------------------------------------------------------------------
    def exp(self):
        out = np.exp(self.data)
        # d(e^a)/da = e^a
        return Tensor._result("exp", out, (self, lambda g: g * out))

    def log(self):
        # d(ln a)/da = 1/a
        return Tensor._result("log", np.log(self.data), (self, lambda g: g / self.data))

    def sqrt(self):
        out = np.sqrt(self.data)
        # d(√a)/da = 1/(2√a)
        return Tensor._result("sqrt", out, (self, lambda g: g / (2 * out)))

    def relu(self):
        # d relu(a)/da = 1 where a > 0, else 0
        return Tensor._result("relu", np.maximum(self.data, 0), (self, lambda g: g * (self.data > 0)))

    def tanh(self):
        out = np.tanh(self.data)
        # d tanh(a)/da = 1 - tanh(a)²
        return Tensor._result("tanh", out, (self, lambda g: g * (1 - out * out)))

    def sigmoid(self):
        """σ(x) = 1 / (1 + e^(-x)): not an op of its own but the composition neg → exp → add → divide,
        so its gradient comes from the chain rule through those rules: σ'(x) = σ(x)(1 - σ(x)).

        The limit of that lesson: in float32, e^(-x) overflows to inf for x < -88.72, and then the
        exp rule computes 0 · inf = nan for the gradient, where PyTorch's fused sigmoid gives ~0.
        (In float64 the same happens below x = -709.78.)"""
        return 1 / (1 + (-self).exp())

    def log_softmax(self, dim):
        """log(softmax(x)) along `dim`, computed as x - max - log(sum(e^(x - max))) so that large
        logits never overflow. One op of its own, because that stable form has a simple gradient."""
        shifted = self.data - self.data.max(axis=dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        # d/dx: G - softmax(x)·sum(G)
        return Tensor._result("log_softmax", out,
                              (self, lambda g: g - np.exp(out) * g.sum(axis=dim, keepdims=True)))

    # -- reductions --------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        # each element contributes once: d(sum)/da = 1, spread back over the summed axes
        return Tensor._result("sum", self.data.sum(axis=dim, keepdims=keepdim),
                              (self, lambda g: _expand_reduced(g, self.data.shape, dim, keepdim)))

    def mean(self, dim=None, keepdim=False):
        out = self.data.mean(axis=dim, keepdims=keepdim)
        count = self.data.size // max(out.size, 1)
        # d(mean)/da = 1/n for each of the n elements that were averaged
        return Tensor._result("mean", out,
                              (self, lambda g: _expand_reduced(g / count, self.data.shape, dim, keepdim)))

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """Variance as PyTorch defines it: divide by n - correction (correction=1 unless unbiased=False).
        A composition of ops we already have, so it needs no backward rule of its own."""
        if correction is None:
            correction = 1 if unbiased else 0
        centred = self - self.mean(dim, keepdim=True)
        squares = (centred * centred).sum(dim, keepdim)
        count = self.data.size // squares.data.size
        return squares / max(count - correction, 0)

    def max(self, dim=None, keepdim=False):
        """The largest value; with `dim`, (values, indices) along that axis, as in PyTorch."""
        if dim is None:
            out = self.data.max()
            is_max = self.data == out
            # gradient goes to the maximum; PyTorch splits it evenly between tied maxima
            return Tensor._result("max", out, (self, lambda g: g * is_max / is_max.sum()))
        where = np.expand_dims(self.data.argmax(axis=dim), dim)
        values = np.take_along_axis(self.data, where, axis=dim)

        def to_input(g):     # only the chosen element along `dim` receives gradient
            grad = np.zeros_like(self.data)
            np.put_along_axis(grad, where, g if keepdim else np.expand_dims(g, dim), axis=dim)
            return grad

        if not keepdim:
            values = values.squeeze(dim)
        indices = where if keepdim else where.squeeze(dim)
        return MaxResult(Tensor._result("max", values, (self, to_input)), Tensor._result("", indices))

    # -- shape ---------------------------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        # same numbers, new shape: the gradient just takes the old shape back
        return Tensor._result("reshape", self.data.reshape(shape),
                              (self, lambda g: g.reshape(self.data.shape)))

    def transpose(self, dim0, dim1):
        # swapping two axes is undone by swapping them back
        return Tensor._result("transpose", self.data.swapaxes(dim0, dim1),
                              (self, lambda g: g.swapaxes(dim0, dim1)))

    @property
    def T(self):
        # reversing the axes is undone by reversing them again
        return Tensor._result("T", self.data.T, (self, lambda g: g.T))

    def __getitem__(self, index):
        index = _plain_index(index)

        def to_input(g):  # scatter back; np.add.at adds up repeated indices instead of keeping the last
            grad = np.zeros_like(self.data)
            np.add.at(grad, index, g)
            return grad

        return Tensor._result("index", self.data[index], (self, to_input))

    # -- the backward pass ---------------------------------------------------------------------------
    def backward(self, gradient=None, trace=None):
        """Send d(self)/d(leaf) to every leaf that requires grad, adding it to leaf.grad.

        gradient: d(something)/d(self), needed unless self holds a single number (then it is 1).
        trace:    optional function, called with a Step for every gradient that moves along an edge.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no input had "
                               "requires_grad=True, or it was made under no_grad)")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: the tensor has shape {self.shape}, so pass gradient= "
                                   "(a gradient is implied only for a single number, like a loss)")
            gradient = np.ones_like(self.data)
        gradient = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, self.dtype)
        if gradient.shape != self.shape:
            raise ValueError(f"backward: gradient has shape {gradient.shape}, expected {self.shape}")

        waiting = _count_consumers(self)   # per node: consumers that still have to deliver to it
        received = {}                      # per node: gradient summed so far (lives only in this call)
        # A depth-first walk written with an explicit stack, so a chain of 100,000 ops does not hit
        # Python's recursion limit. Each frame is a complete node and the iterator over its edges.
        stack = [(self, gradient, iter(self._edges))]
        if not self._edges:
            _accumulate(self, gradient)
        while stack:
            node, grad, edges = stack[-1]
            for receiver, rule in edges:
                delivered = _fit_gradient(rule(grad), receiver)
                total = received.pop(receiver, None)
                total = delivered if total is None else total + delivered
                waiting[receiver] -= 1
                if trace is not None:
                    trace(Step(node, receiver, delivered, waiting[receiver]))
                if waiting[receiver]:              # the gate: other consumers still have to deliver
                    received[receiver] = total
                elif receiver._edges:              # complete: descend into it now, depth first;
                    stack.append((receiver, total, iter(receiver._edges)))
                    break                          # the rest of `edges` waits its turn
                else:
                    _accumulate(receiver, total)   # a complete leaf
            else:
                stack.pop()                        # every edge of this node is done: back up


def _count_consumers(loss):
    """For every node that leads to `loss`, count the edges into it from nodes that also lead to loss.

    Only those consumers will ever deliver gradient in this backward pass. A consumer off the path
    to the loss (a value computed for logging, say) must not be counted, or its node would wait forever.
    """
    counts = {}
    to_visit = [loss]
    while to_visit:
        node = to_visit.pop()
        for receiver, _ in node._edges:
            if receiver in counts:
                counts[receiver] += 1
            else:                                  # first time we meet it: look at its inputs too
                counts[receiver] = 1
                to_visit.append(receiver)
    return counts


def _accumulate(leaf, grad):
    """Leaves keep their gradient in .grad, and add to it across backward calls until zeroed."""
    if leaf.grad is None:
        leaf.grad = np.array(grad, dtype=leaf.data.dtype, order="C")   # our own copy, in fast layout
    else:
        leaf.grad += grad


# -- small helpers the ops above use ------------------------------------------------------------------
def _same(g):
    return g


def _as_matrices(g, a, b):
    """matmul treats a 1-D `a` as a row and a 1-D `b` as a column; give G back the axes it lost."""
    if b.ndim == 1:
        b, g = b[:, None], g[..., None]
    if a.ndim == 1:
        a, g = a[None, :], g[..., None, :]
    return g, a, b


def _matmul_grad_a(g, a, b):
    g2, a2, b2 = _as_matrices(g, a, b)
    grad = g2 @ b2.swapaxes(-1, -2)
    return grad[..., 0, :] if a.ndim == 1 else grad


def _matmul_grad_b(g, a, b):
    g2, a2, b2 = _as_matrices(g, a, b)
    # Aᵀ·G computed as (Gᵀ·A)ᵀ: the same numbers, but when B is a transposed weight (as in Linear),
    # its gradient then comes out C-contiguous, which keeps every SGD update on it fast.
    grad = (g2.swapaxes(-1, -2) @ a2).swapaxes(-1, -2)
    return grad[..., 0] if b.ndim == 1 else grad


def _plain_index(index):
    """Indices may hold Tensors (like max's indices): index with their integer data."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        if index.dtype.kind == "f":
            raise IndexError("index: Tensor(...) turned this index into floats; index with a numpy "
                             "array of integers or booleans instead")
        return index.data
    return index


# ===================================================================================================
# nn: layers and losses, built from the ops above (so they need no backward code of their own)
# ===================================================================================================
class Module:
    """Base class of layers and models. Calling a module runs its `forward`.

    Parameters are found by looking through the module's attributes (and lists, tuples and dicts of
    them), so a subclass works even if its __init__ never calls super().__init__().
    """

    def __init__(self):
        pass

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def named_parameters(self):
        """(name, parameter) pairs in definition order, named as PyTorch does: 'fc1.weight'."""
        seen = set()
        for name, tensor in _find_parameters(vars(self), ""):
            if id(tensor) not in seen:        # a parameter shared by two layers is listed once
                seen.add(id(tensor))
                yield name, tensor

    def parameters(self):
        return (tensor for _, tensor in self.named_parameters())

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def state_dict(self):
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict):
        """Copy arrays into the parameters (keeping each parameter's own dtype)."""
        own = dict(self.named_parameters())
        if set(own) != set(state_dict):
            raise KeyError(f"load_state_dict: missing keys {sorted(set(own) - set(state_dict))}, "
                           f"unexpected keys {sorted(set(state_dict) - set(own))}")
        for name, p in own.items():
            value = np.asarray(state_dict[name].data if isinstance(state_dict[name], Tensor)
                               else state_dict[name])
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict: {name} has shape {value.shape}, expected {p.shape}")
            p.data[...] = value


def _find_parameters(value, prefix):
    """Walk attributes, lists, tuples and dicts depth first, yielding (name, tensor that requires grad)."""
    if isinstance(value, Tensor):
        if value.requires_grad:
            yield prefix, value
        return
    if isinstance(value, Module):
        value = vars(value)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield from _find_parameters(item, f"{prefix}.{key}" if prefix else str(key))


class Linear(Module):
    """y = x·Wᵀ + b, with W of shape (out_features, in_features) as in PyTorch.

    Initialised like PyTorch: W and b uniform in ±1/√in_features."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        dtype = dtype or np.float32
        bound = 1 / np.sqrt(in_features)
        self.weight = Tensor(_rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype),
                             requires_grad=True)
        self.bias = Tensor(_rng.uniform(-bound, bound, out_features).astype(dtype),
                           requires_grad=True) if bias else None

    def forward(self, x):
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class Sequential(Module):
    """Runs its modules in order. They are stored as attributes '0', '1', ... so that parameter names
    ('0.weight') match PyTorch's."""

    def __init__(self, *modules):
        for i, module in enumerate(modules):
            setattr(self, str(i), module)

    def forward(self, x):
        for module in vars(self).values():
            x = module(x)
        return x


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class MSELoss(Module):
    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def forward(self, input, target):
        diff = input - target
        return _reduce(diff * diff, self.reduction)


class CrossEntropyLoss(Module):
    """-log softmax(logits)[true class], averaged over the batch.

    The target is either class indices, shape (N,), or probabilities (e.g. one-hot), shape (N, C)."""

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def forward(self, input, target):
        target = target.data if isinstance(target, Tensor) else np.asarray(target)
        if input.ndim != 2:
            raise ValueError(f"CrossEntropyLoss: expected logits of shape (N, C), got {input.shape}")
        if target.shape == input.shape[:1]:       # class indices: turn them into one-hot rows
            target = np.eye(input.shape[1], dtype=input.dtype)[target.astype(np.intp)]
        elif target.shape != input.shape:
            raise ValueError(f"CrossEntropyLoss: target shape {target.shape} fits neither class indices "
                             f"{input.shape[:1]} nor probabilities {input.shape} for logits {input.shape}")
        return _reduce(-(input.log_softmax(dim=1) * target).sum(dim=1), self.reduction)


# ===================================================================================================
# optim
# ===================================================================================================
class SGD:
    """Stochastic gradient descent with torch.optim.SGD's exact update rule:

        g = grad + weight_decay·p
        buf = g (first step), else momentum·buf + (1 - dampening)·g
        g = g + momentum·buf if nesterov, else buf      (only when momentum ≠ 0)
        p = p - lr·g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, "
                             f"{weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        self.params = list(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.buffers = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                buf = self.buffers[i]
                if buf is None:
                    buf = self.buffers[i] = g.copy()
                else:
                    buf *= self.momentum
                    buf += g if self.dampening == 0 else (1 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p.data -= self.lr * g      # in place: p.data is the parameter's own array


# ---------------------------------------------------------------------------------------------------
# `import mytorch.nn as nn` and `from mytorch import optim`, though this is a single file
# ---------------------------------------------------------------------------------------------------
def _submodule(name, *members):
    module = types.ModuleType(f"{__name__}.{name}")
    for member in members:
        setattr(module, member.__name__, member)
    sys.modules[module.__name__] = module
    return module


nn = _submodule("nn", Module, Linear, Sigmoid, ReLU, Tanh, Sequential, MSELoss, CrossEntropyLoss)
optim = _submodule("optim", SGD)
