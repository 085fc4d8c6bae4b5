"""MyTorch: a small autograd engine in one file, built to show how PyTorch's autograd works inside.

A Tensor wraps a numpy array. Every op computes its result and records, for each input, the rule that
turns the gradient of the result into the gradient of that input (the chain rule, one op at a time).
`backward()` walks that graph from the loss back to the leaves, depth first, but *gated*: a node passes
gradient on to its inputs only once every consumer of it that leads to the loss has delivered its share.
Then come conveniences, `gradcheck` (to test a rule you add), `nn` and `optim`, with PyTorch's names and
semantics. Needs only numpy (1.22+) and the standard library; Python 3.9+.

    x = mytorch.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad                       # tensor([2., 4., 6.])
"""
import functools
import sys
import threading
import types
import warnings
from collections import namedtuple

import numpy as np


# === Tensor: the core ================================================================================
class Tensor:
    __slots__ = ("_data", "grad", "requires_grad", "retains_grad", "_edges", "_op")
    __hash__ = object.__hash__   # hashable by identity, though == compares values

    def __init__(self, *data, requires_grad=False):
        """As torch.Tensor(...): data (numbers, lists, arrays, Tensors) becomes a float32 copy; whole numbers
        alone are sizes: Tensor(2, 3) is a 2×3 tensor of zeros (PyTorch leaves that memory uninitialised)."""
        if all(isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) for n in data):
            self._data = np.zeros(data or 0, np.float32)       # Tensor() is empty, as in PyTorch
        elif len(data) == 1:
            self._data = np.array(data[0].data if isinstance(data[0], Tensor) else data[0], np.float32)
        else:
            raise TypeError(f"Tensor: give one sequence of data or whole-number sizes, got {data!r}")
        self.grad = None            # after backward: a Tensor of the same shape, as in PyTorch
        self.requires_grad = bool(requires_grad)
        self.retains_grad = False   # a computed tensor keeps its .grad only if retain_grad() asked
        self._edges = ()            # (input, rule) pairs; rule(gradient of this tensor) -> gradient of input
        self._op = ""               # name of the op that made this tensor; "" for a leaf

    # -- arithmetic: each op's forward, and beside it the derivative for each input ------------------
    # _binary gives the other operand as a Tensor, the two arrays (a, b) in one dtype, and the result.
    # Each rule keeps the arrays it needs (a, b, out) from the forward.
    def __add__(self, other):
        other, a, b, out = _binary("add", np.add, self, other)
        # d(a+b)/da = 1,  d(a+b)/db = 1
        return record("add", out, (self, _same), (other, _same))

    def __sub__(self, other):
        other, a, b, out = _binary("sub", np.subtract, self, other)
        # d(a-b)/da = 1,  d(a-b)/db = -1
        return record("sub", out, (self, _same), (other, np.negative))

    def __mul__(self, other):
        other, a, b, out = _binary("mul", np.multiply, self, other)
        # d(a*b)/da = b,  d(a*b)/db = a
        return record("mul", out, (self, lambda g: g * b), (other, lambda g: g * a))

    def __truediv__(self, other):
        other, a, b, out = _binary("div", np.divide, self, other)
        # d(a/b)/da = 1/b,  d(a/b)/db = -a/b² = -(a/b)/b
        return record("div", out, (self, lambda g: g / b), (other, lambda g: -g * out / b))

    def __matmul__(self, other):
        other, a, b, out = _binary("matmul", np.matmul, self, other)
        # C = A·B:  dA = G·Bᵀ,  dB = Aᵀ·G  (a 1-D A is treated as a row, a 1-D B as a column)
        return record("matmul", out, (self, lambda g: _matmul_grad(g, a, b, to_a=True)),
                      (other, lambda g: _matmul_grad(g, a, b, to_a=False)))

    def __neg__(self): return record("neg", -self._data, (self, np.negative))       # d(-a)/da = -1

    def __pow__(self, exponent):
        other, a, p, out = _binary("pow", np.power, self, exponent)

        def to_base(g):      # d(a^p)/da = p·a^(p-1), and 0 where p = 0 (so x**0 has gradient 0 at 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                return g * np.where(p == 0, 0, p * a ** (p - 1))

        def to_exponent(g):  # d(a^p)/dp = a^p·ln a, and 0 where a = 0 and p >= 0 (as PyTorch)
            with np.errstate(divide="ignore", invalid="ignore"):
                return g * np.where((a == 0) & (p >= 0), 0, out * np.log(a))
        return record("pow", out, (self, to_base), (other, to_exponent))

    # number - tensor and the like: make the left side a Tensor, then use the ops above
    def __radd__(self, other): return _operand(self, other, "add") + self
    def __rsub__(self, other): return _operand(self, other, "sub") - self
    def __rmul__(self, other): return _operand(self, other, "mul") * self
    def __rtruediv__(self, other): return _operand(self, other, "div") / self
    def __rmatmul__(self, other): return _operand(self, other, "matmul") @ self
    def __rpow__(self, other): return _operand(self, other, "pow") ** self

    # -- elementwise functions --------------------------------------------------------------------------
    def exp(self):
        out = np.exp(_floats(self._data))
        # d(e^a)/da = e^a
        return record("exp", out, (self, lambda g: g * out))

    def log(self):
        a = _floats(self._data)
        # d(ln a)/da = 1/a
        return record("log", np.log(a), (self, lambda g: g / a))

    def sigmoid(self):
        """σ(a) = 1 / (1 + e^(-a)). The tutorial builds it from neg, exp, add and divide; as one op its rule is
        σ(1 - σ), and for a < -88.7 (float32) e^(-a) = inf gives σ = 0 and gradient 0, not 0·inf = nan."""
        a = _floats(self._data)
        with np.errstate(over="ignore"):        # (astype: numpy 1.x would make a 0-d float32 float64)
            out = (1 / (1 + np.exp(-a))).astype(a.dtype, copy=False)
        # dσ/da = σ(1 - σ)
        return record("sigmoid", out, (self, lambda g: g * out * (1 - out)))

    def relu(self):
        a = self._data
        # d relu(a)/da = 1 where a > 0, else 0
        return record("relu", np.maximum(a, 0).astype(a.dtype, copy=False), (self, lambda g: g * (a > 0)))

    def tanh(self):
        out = np.tanh(_floats(self._data))
        # d tanh(a)/da = 1 - tanh(a)²
        return record("tanh", out, (self, lambda g: g * (1 - out * out)))

    # √a = a^0.5: pow's rule gives d(√a)/da = 0.5·a^(-0.5) = 1/(2√a)
    def sqrt(self): return self ** 0.5

    def log_softmax(self, dim):
        """log(softmax(x)) along `dim`, as x - max - log(sum(e^(x - max))): large logits never overflow."""
        dim = _dim(dim, self.ndim, "log_softmax")
        shifted = self._data - self._data.max(axis=dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        # d/dx: G - softmax(x)·sum(G)
        return record("log_softmax", out, (self, lambda g: g - np.exp(out) * g.sum(axis=dim, keepdims=True)))

    # -- reductions (dim: None for all, an axis, or a tuple of axes) ------------------------------------
    def sum(self, dim=None, keepdim=False):
        dim, shape = _dims(dim, self.ndim, "sum"), self.shape
        # each element contributes once: d(sum)/da = 1, spread back over the summed axes
        return record("sum", self._data.sum(axis=dim, keepdims=keepdim),
                      (self, lambda g: _expand_reduced(g, shape, dim, keepdim)))

    def mean(self, dim=None, keepdim=False):
        if self.dtype.kind != "f":
            raise RuntimeError(f"mean: the tensor holds {self.dtype} values; take .float().mean() (as PyTorch)")
        total = self.sum(_dims(dim, self.ndim, "mean"), keepdim)
        # the sum over the n elements averaged, divided by n: made of ops, so d(mean)/da = 1/n needs no rule
        return total / (self._data.size // max(total._data.size, 1))

    # The largest value; with `dim`, (values, indices) along that axis, as in PyTorch.
    def max(self, dim=None, keepdim=False): return _extreme(self, "max", np.argmax, dim, keepdim)

    # -- shape -------------------------------------------------------------------------------------------
    def reshape(self, *shape):
        shape, before = _shape_args(shape), self.shape
        # same numbers, new shape: the gradient just takes the old shape back
        return record("reshape", self._data.reshape(shape), (self, lambda g: g.reshape(before)))

    def permute(self, *dims):
        dims = tuple(_dim(d, self.ndim, "permute") for d in _shape_args(dims))
        if sorted(dims) != list(range(self.ndim)):
            raise RuntimeError(f"permute: dims {dims} are not an order of the tensor's {self.ndim} dims")
        # reordering the axes is undone by the inverse order
        return record("permute", self._data.transpose(dims), (self, lambda g: g.transpose(np.argsort(dims))))

    def __getitem__(self, index):
        index, shape, dtype = _plain_index(index), self.shape, self.dtype

        def to_input(g):  # scatter back; np.add.at adds up repeated indices instead of keeping the last
            grad = np.zeros(shape, dtype)
            np.add.at(grad, index, g)
            return grad
        return record("index", self._data[index], (self, to_input))

    # -- the backward pass ---------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False, trace=None):
        """Send d(self)/d(leaf) to every leaf that requires grad, adding it to leaf.grad.
        gradient:     d(something)/d(self), needed unless self holds a single number (then it is 1).
        retain_graph: keep the graph for another backward; by default it is freed, as in PyTorch.
        trace:        optional function, called with a Step for every gradient that moves along an edge."""
        gradient = _first_gradient(self, gradient)
        waiting = _count_consumers(self)   # per node: consumers that still have to deliver to it
        received = {}                      # per node: gradient summed so far (lives only in this call)
        # A depth-first walk written with an explicit stack, so a chain of 100,000 ops does not hit
        # Python's recursion limit. Each frame is a complete node, its gradient, and which input is next.
        stack = [(self, gradient, 0)] if self._edges else []
        while stack:
            node, grad, i = stack.pop()
            receiver, rule = node._edges[i]
            if i + 1 < len(node._edges):           # its other inputs wait their turn on the stack
                stack.append((node, grad, i + 1))  # (after the last one, its gradient is let go)
            delivered = _fit_gradient(rule(grad), receiver, node._op)
            total = received.pop(receiver, None)
            total = delivered if total is None else total + delivered
            waiting[receiver] -= 1
            if trace is not None:
                trace(Step(node, receiver, delivered, waiting[receiver]))
            if waiting[receiver]:                  # the gate: other consumers still have to deliver
                received[receiver] = total
                continue
            if receiver.retains_grad or not receiver._edges:
                _accumulate(receiver, total)       # complete: a leaf keeps it in .grad
            if receiver._edges:                    # complete: descend into it now, depth first
                stack.append((receiver, _read_only(total), 0))
        if not retain_graph:                       # free the graph: its rules and the arrays they keep
            for node in (self, *waiting):
                if node._edges:
                    node._edges = None


def record(op, data, *edges):
    """The output of an op, as a Tensor holding `data`, with an edge (input, rule) to each input that needs a
    gradient: rule(gradient of the output) gives the gradient of that input. Every op ends with it, and so
    can yours (see the README's coursework section). Under no_grad nothing is recorded."""
    out = Tensor.__new__(Tensor)
    out._data = data if type(data) is np.ndarray else np.asarray(data)
    out.grad, out.retains_grad = None, False
    edges = tuple([edge for edge in edges if edge[0].requires_grad]) if _grad_mode.enabled else ()
    out._edges, out.requires_grad, out._op = (edges, True, op) if edges else ((), False, "")
    return out


def _count_consumers(loss):
    """Count, for every node that leads to `loss`, the edges into it from nodes that also
    lead to loss: only those deliver. A consumer off that path (a value computed for
    logging, say) would keep its input waiting forever."""
    counts, to_visit = {}, [loss]
    while to_visit:
        node = to_visit.pop()
        if node._edges is None:
            raise RuntimeError(_FREED)
        for receiver, _ in node._edges:
            if receiver in counts:
                counts[receiver] += 1
            else:                                  # first time we meet it: look at its inputs too
                counts[receiver] = 1
                to_visit.append(receiver)
    return counts


def _accumulate(tensor, grad):
    """tensor.grad += grad. The first gradient is kept as it is, later ones make a new array (in the same .grad
    Tensor): mytorch never writes into an array a Tensor holds, so a .grad may share its array (d(a+b) gives a
    and b the same one)."""
    if tensor.grad is None:
        tensor.grad = record("", grad)
    else:
        tensor.grad._data = tensor.grad._data + grad


def _fit_gradient(grad, tensor, op=""):
    """Sum `grad` over the axes along which `tensor` was broadcast in the forward pass: x (3,) + y (2, 3)
    used x once per row, so x's gradient is the sum over the rows; likewise over axes where x had size 1."""
    shape = tensor._data.shape
    if type(grad) is not np.ndarray:             # numpy's scalars will do; a Tensor or a tuple will not
        if not isinstance(grad, (np.generic, float, int)):
            raise TypeError(f"backward: the rule of '{op}' gave a {type(grad).__name__}; a rule takes the gradient "
                            "(a numpy array) and returns one: use .data, not Tensor ops")
        grad = np.asarray(grad)
    if grad.shape != shape:
        if grad.ndim > len(shape):                                    # axes x did not have at all
            grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i:i + 1] != (1,))
        if stretched and grad.ndim == len(shape):                     # axes where x had size 1
            grad = grad.sum(axis=stretched, keepdims=True)
        if grad.shape != shape:
            raise ValueError(f"backward: the rule of '{op}' gave a gradient of shape {grad.shape} for an "
                             f"input of shape {shape}")
    # a float64 consumer of a float32 input: the gradient takes the input's dtype
    return grad if grad.dtype == tensor._data.dtype else grad.astype(tensor._data.dtype)


def _first_gradient(loss, gradient):
    """The gradient backward() starts from: 1 for a single number, else the one given (as our own array)."""
    if not loss.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad (no input required it, or no_grad)")
    if gradient is None:
        if loss._data.size != 1:
            raise RuntimeError(f"backward: shape {loss.shape} needs gradient= (only a single number implies 1)")
        gradient = np.ones(loss.shape, loss.dtype)
    else:
        gradient = np.array(gradient._data if isinstance(gradient, Tensor) else gradient, loss.dtype)
        if gradient.shape != loss.shape:
            raise ValueError(f"backward: gradient has shape {gradient.shape}, expected {loss.shape}")
    if loss.retains_grad or not loss._edges:      # a leaf (or retain_grad()) keeps its own gradient too
        _accumulate(loss, gradient)
    return _read_only(gradient)


def _read_only(grad):
    """The gradient an op's rules receive, made read-only: a rule that changed it in place (g *= 2) would
    change what its other inputs receive too; numpy now stops it with an error."""
    grad = np.asarray(grad)             # (numpy's 0-d sums are scalars, which have no flags)
    grad.flags.writeable = False
    return grad


# What the backward walk reports, if asked: `sender` passed `grad` to its input `receiver`, which still
# waits for `waiting` more of its consumers (0: it is complete, and the walk descends into it now).
Step = namedtuple("Step", "sender receiver grad waiting")
_FREED = ("backward: part of this graph was already freed by an earlier backward(); pass "
          "retain_graph=True to that first backward() if you need to go through the graph again")


# === What the core uses: operands and dtypes, grad mode, small helpers ===============================
def _binary(op, numpy_op, x, other):
    """For x (op) other: other as a Tensor, the two arrays in the dtype PyTorch's promotion gives, and
    numpy_op of them. Shapes that do not broadcast together get an error naming the op."""
    y = _operand(x, other, op)
    dtype = _result_dtype(x._data, y._data)
    if op == "div" and dtype.kind != "f":          # true division of integers gives floats, as in PyTorch
        dtype = np.dtype(np.float32)
    if op == "matmul":
        _same_dtype(op, x._data, y._data)
    a, b = x._data.astype(dtype, copy=False), y._data.astype(dtype, copy=False)     # (no copy if it has it)
    try:
        return y, a, b, numpy_op(a, b)
    except ValueError:
        raise ShapeError(f"{op}: shapes {x.shape} and {y.shape} do not fit (" + ("inner sizes must match" if op ==
                         "matmul" else "they cannot be broadcast together") + ")") from None


def _operand(x, other, op):
    """The other side of a binary op with x, as a Tensor. A Python (or numpy) number takes x's dtype, unless
    it is of a higher kind (bool < integer < float): int tensor + 0.5 is float32, float64 * 2 stays float64."""
    if isinstance(other, Tensor): return other
    if isinstance(other, (int, float, np.number, np.bool_)):
        number = np.asarray(other)
        higher = _KIND_RANK[number.dtype.kind] > _KIND_RANK[x._data.dtype.kind]
        return record("", number.astype(_DEFAULT_DTYPE.get(number.dtype.kind, number.dtype) if higher else x.dtype))
    if isinstance(other, np.ndarray): return record("", other)  # used as it is (not copied), as from_numpy does
    kind = f"{type(other).__module__}.{type(other).__qualname__}".replace("builtins.", "")
    # (a torch.Tensor too: mytorch.tensor(x.detach().numpy()))
    raise TypeError(f"{op}: expected a Tensor, number or numpy array, got a {kind}: convert it, mytorch.tensor(x)")


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}       # bool < integers < floats
_DEFAULT_DTYPE = {"f": np.float32, "i": np.int64}    # what Python's floats and ints become, as in PyTorch


def _result_dtype(a, b):
    """PyTorch's type promotion of two arrays. The higher kind wins: int32 with float64 gives float64, int64
    with float32 gives float32. Within a kind, an array with dimensions wins over a 0-d one (float32 with a
    0-d float64 gives float32); else the larger type (float32 with float64: float64; uint8 with int8: int16)."""
    rank_a, rank_b = (_KIND_RANK[a.dtype.kind], a.ndim > 0), (_KIND_RANK[b.dtype.kind], b.ndim > 0)  # kind first
    if rank_a == rank_b: return np.promote_types(a.dtype, b.dtype)
    return a.dtype if rank_a > rank_b else b.dtype


def _same_dtype(op, a, b):      # one dtype for matrix products, as in PyTorch (float32 @ float64: error)
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: the inputs are {a.dtype} and {b.dtype}; give both one dtype (.float(), .double())")


def _floats(a):         # what exp, log, tanh, sigmoid compute in: integers as float32 (numpy: float16 or 64)
    return a if a.dtype.kind == "f" else a.astype(np.float32)


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an op: a RuntimeError, as PyTorch raises, and a ValueError, as numpy does."""


def _dim(dim, ndim, op, new=0):
    """`dim` as an axis counted from 0, or PyTorch's IndexError if a tensor with `ndim` dims (and `new` axes
    to be added, as by unsqueeze) has no such dim."""
    top = max(ndim + new, 1)    # a 0-d tensor takes dim 0 and -1, as in PyTorch
    if not isinstance(dim, (int, np.integer)) or not -top <= dim < top:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-top}, {top - 1}], "
                         f"but got {dim}): the tensor has {ndim} dims")
    return int(dim) % top


def _dims(dim, ndim, op):      # for reductions: None (all), one dim, or a tuple or list of dims
    if dim is None: return None
    return tuple(_dim(d, ndim, op) for d in dim) if isinstance(dim, (tuple, list)) else _dim(dim, ndim, op)


def _expand_reduced(grad, shape, dim, keepdim):    # undo a reduction: put back its axes, stretch to `shape`
    if dim is not None and not keepdim:
        grad = np.expand_dims(grad, dim)
    return np.zeros(shape, grad.dtype) + grad     # (a new array: np.broadcast_to's view would be read-only)


def _same(g): return g          # the rule of an input that passes the gradient on unchanged


# reshape(2, 3) and reshape((2, 3)) alike
def _shape_args(shape): return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _matmul_grad(g, a, b, to_a):
    """dA = G·Bᵀ (to_a) or dB = Aᵀ·G. matmul read a 1-D A as a row and a 1-D B as a column: G gets back
    the axes it lost, and the gradient drops the one its input lacked."""
    row, column = a.ndim == 1, b.ndim == 1
    if column:
        b, g = b[:, None], g[..., None]
    if row:
        a, g = a[None, :], g[..., None, :]
    if to_a:
        grad = g @ b.swapaxes(-1, -2)
        return grad[..., 0, :] if row else grad
    grad = a.swapaxes(-1, -2) @ g
    return grad[..., 0] if column else grad


def _plain_index(index):
    """Indices may hold Tensors (like max's indices): index with their integer data."""
    if isinstance(index, tuple): return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor) and index.dtype.kind == "f":
        raise IndexError("index: this Tensor holds floats; index with integers or booleans (t.long())")
    return index._data if isinstance(index, Tensor) else index


# What x.max(dim) and x.min(dim) return, like PyTorch: unpacks as (values, indices), or use .values
MinMax = namedtuple("MinMax", "values indices")


def _extreme(x, op, arg, dim, keepdim):
    """max and min: over everything, or along `dim` as (values, indices)."""
    if isinstance(dim, Tensor):
        # (an element-wise max of two tensors is an exercise in the slides)
        raise TypeError(f"{op}: an element-wise {op} of two tensors is not in mytorch: mytorch.where(a > b, a, b)")
    a = x._data
    if dim is None:
        out = a.max() if op == "max" else a.min()
        hits = a == out
        # gradient goes to the extreme element, split evenly between ties (as in PyTorch)
        return record(op, out, (x, lambda g: g * hits / hits.sum()))
    dim = _dim(dim, x.ndim, op)
    where = arg(a, axis=dim, keepdims=True)            # the index of the extreme along dim, in a 1-long axis

    def to_input(g):     # only the chosen element along `dim` receives gradient
        grad = np.zeros_like(a)
        np.put_along_axis(grad, where, g if keepdim else np.expand_dims(g, dim), axis=dim)
        return grad
    indices = where if keepdim else where.squeeze(dim)
    values = np.take_along_axis(a, where, axis=dim).reshape(indices.shape)
    return MinMax(record(op, values, (x, to_input)), record("", indices))


# -- grad mode (one per thread, as in PyTorch) --------------------------------------------------------
class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


class no_grad:
    """`with mytorch.no_grad():` (or `@mytorch.no_grad()` on a function) computes but records no graph."""
    mode = False

    # `@no_grad` without () too: then the function comes in place of nothing
    def __new__(cls, func=None): return super().__new__(cls) if func is None else cls()(func)

    def __enter__(self): self.previous, _grad_mode.enabled = _grad_mode.enabled, self.mode

    def __exit__(self, *exc_info): _grad_mode.enabled = self.previous

    def __call__(self, func):            # as a decorator: the mode holds while func runs
        @functools.wraps(func)
        def with_mode(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return func(*args, **kwargs)
        return with_mode


class enable_grad(no_grad):
    """Records the graph again (inside no_grad, say): a context manager or a decorator."""
    mode = True


class set_grad_enabled(no_grad):
    """set_grad_enabled(False) switches recording off at once; as `with set_grad_enabled(mode):` only inside."""
    def __new__(cls, mode): return object.__new__(cls)

    def __init__(self, mode): self.mode, self.previous, _grad_mode.enabled = mode, _grad_mode.enabled, bool(mode)

    def __enter__(self): pass            # (the mode was set when it was made)

    def __call__(self, func):            # as a decorator: only while func runs
        _grad_mode.enabled = self.previous
        return super().__call__(func)


def is_grad_enabled(): return _grad_mode.enabled


# -- randomness ----------------------------------------------------------------------------------------
_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator behind parameter initialisation, randn, rand, randint and Dropout."""
    global _rng
    _rng = np.random.default_rng(seed)


# === Conveniences: more of Tensor, with PyTorch's names (the loop after the class adds them to Tensor)
class _TensorConveniences:
    # -- the array, and a few properties, as in PyTorch -------------------------------------------------
    # mytorch never writes into an array once a Tensor holds it: an update (x += 1, t[0] = 5, an optimizer
    # step, load_state_dict) gives the Tensor a new array. So the arrays a recorded op kept for its backward
    # rule still hold the values its forward used. (PyTorch writes in place and checks a version counter.)
    @property
    def data(self): return self._data

    @data.setter
    def data(self, value): self._data = np.asarray(value)    # p.data = p.data - lr * p.grad: takes the new array

    @property
    def shape(self): return self._data.shape

    @property
    def ndim(self): return self._data.ndim

    @property
    def dtype(self): return self._data.dtype

    @property
    def is_leaf(self): return not self._op

    @property
    def T(self): return self.permute(tuple(reversed(range(self.ndim))))

    # The array itself (no copy). mytorch gives a tensor a new array when it changes, so this array
    # keeps the values it had (in PyTorch, t.numpy() and t share memory and see later changes).
    def numpy(self): return self._data

    def detach(self):
        """The same array, cut from the graph. A later in-place change of either tensor gives that tensor a new
        array, so the other keeps the old values (in PyTorch they share memory: both see the change)."""
        return record("", self._data)

    def retain_grad(self):
        """Keep this computed tensor's gradient in .grad at the next backward (a leaf keeps it anyway)."""
        if not self.requires_grad: raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self.retains_grad = not self.is_leaf

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only a leaf's flag can change (a computed tensor: x.detach())")
        if requires_grad and self.dtype.kind != "f":
            raise RuntimeError(f"Only Tensors of floating point and complex dtype can require gradients (not "
                               f"{self.dtype}: make it with dtype=mytorch.float32)")
        self.requires_grad = bool(requires_grad)
        return self

    # -- in-place updates: the same Tensor object gets new values (in a new array: see data above) -------
    def _inplace(self, op, numpy_op, other):
        other = _operand(self, other, op)
        if _grad_mode.enabled and (self.requires_grad or other.requires_grad):
            raise RuntimeError(_IN_PLACE_LEAF if self.requires_grad and self.is_leaf else _IN_PLACE.format(op))
        _, _, _, out = _binary(op, numpy_op, self, other)
        if out.shape != self.shape:
            raise RuntimeError(f"{op}: an in-place op must keep the shape {self.shape}, not {out.shape}")
        if _KIND_RANK[out.dtype.kind] > _KIND_RANK[self.dtype.kind]:
            raise RuntimeError(f"{op}: result type {out.dtype} can't be cast to the desired output type "
                               f"{self.dtype} (as in PyTorch: make a new tensor, x = x {op[0]} y)")
        self._data = out.astype(self.dtype, copy=False)
        return self

    def __iadd__(self, other): return self._inplace("+=", np.add, other)
    def __isub__(self, other): return self._inplace("-=", np.subtract, other)
    def __imul__(self, other): return self._inplace("*=", np.multiply, other)
    def __itruediv__(self, other): return self._inplace("/=", np.divide, other)
    def zero_(self): return self._inplace("zero_", functools.partial(_assigned, ...), 0)      # t[...] = 0

    def __setitem__(self, index, value):
        """t[mask] = 0, t[0, 1] = 5: an in-place update like those above (a new array, no graph recorded)."""
        self._inplace("t[i] =", functools.partial(_assigned, _plain_index(index)), value)

    # -- comparisons and logic give boolean tensors (no graph), usable as masks ------------------------
    def _compare(self, numpy_op, other, op):
        if op in ("==", "!=") and not isinstance(other, (Tensor, int, float, np.number, np.ndarray)):
            return NotImplemented                  # t == None is False, as in PyTorch
        return record("", _binary(op, numpy_op, self, other)[3])

    def __eq__(self, other): return self._compare(np.equal, other, "==")
    def __ne__(self, other): return self._compare(np.not_equal, other, "!=")
    def __lt__(self, other): return self._compare(np.less, other, "<")
    def __le__(self, other): return self._compare(np.less_equal, other, "<=")
    def __gt__(self, other): return self._compare(np.greater, other, ">")
    def __ge__(self, other): return self._compare(np.greater_equal, other, ">=")

    def __and__(self, other): return self._compare(np.bitwise_and, other, "&")
    def __or__(self, other): return self._compare(np.bitwise_or, other, "|")
    def __invert__(self): return record("", np.invert(self._data))

    # -- Python and numpy protocols ---------------------------------------------------------------------
    def item(self, error=RuntimeError):     # float(t) and int(t) raise ValueError instead, as in PyTorch
        if self._data.size != 1:
            raise error(f"only one element tensors can be converted to Python scalars; a Tensor with "
                        f"{self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def __float__(self): return float(self.item(ValueError))
    def __int__(self): return int(self.item(ValueError))
    def __bool__(self): return bool(self.item()) if self._data.size == 1 else _fail(RuntimeError(_AMBIGUOUS))
    def __format__(self, spec): return format(self.item() if spec and self._data.size == 1 else str(self), spec)
    def tolist(self): return self._data.tolist()

    # rows, as in PyTorch; a 0-d tensor has none
    def __iter__(self):
        return (self[i] for i in range(len(self))) if self.ndim else _fail(TypeError("iteration over a 0-d tensor"))

    def __len__(self): return len(self._data) if self.ndim else _fail(TypeError("len() of a 0-d tensor"))

    def __array__(self, dtype=None, copy=None):          # np.asarray(t), np.mean([loss, ...])
        return np.array(self._data, dtype, copy=True) if copy else np.asarray(self._data, dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """`array + tensor` stays a Tensor op; other ufuncs (np.isfinite(t), `p.data -= lr * p.grad`) read the
        numbers of tensors that need no grad (as in PyTorch)."""
        if method == "__call__" and ufunc in _REFLECTED and len(inputs) == 2 and not kwargs:
            return getattr(inputs[1], _REFLECTED[ufunc])(inputs[0])
        if any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
            raise TypeError(f"numpy's {ufunc.__name__} cannot follow the graph: use Tensor ops, or .detach() first")
        return getattr(ufunc, method)(*[x._data if isinstance(x, Tensor) else x for x in inputs], **kwargs)

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extras = "" if self.dtype == np.float32 else f", dtype={self.dtype}"
        extras += f", grad_fn=<{self._op}>" if self._op else ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extras})"

    def __getattr__(self, name):                 # only for names Tensor does not have
        raise AttributeError(name if name.startswith("__") else f"'Tensor' object has no attribute '{name}': "
                             "mytorch's Tensor does not have it (PyTorch's may): add it (README: 'Add your own op')")

    def size(self, dim=None): return self.shape if dim is None else self.shape[_dim(dim, self.ndim, "size")]
    def numel(self): return self._data.size
    def dim(self): return self.ndim
    def cpu(self): return self

    def clone(self): return record("clone", self._data.copy(), (self, _same))       # d(copy)/da = 1

    # -- dtype: a cast changes no value, so the gradient passes unchanged (_fit_gradient casts it back) --
    def to(self, dtype):
        """A tensor of that dtype: this one if it has it already (as in PyTorch), else a cast."""
        if isinstance(dtype, str): return _cpu_only(self, dtype)  # a device: mytorch has only the CPU
        if self.dtype == dtype: return self
        # d(cast a)/da = 1; a cast to integers leaves the graph (no gradient flows through it)
        edges = [(self, _same)] if np.dtype(dtype).kind == "f" else []
        return record("to", self._data.astype(dtype), *edges)

    def float(self): return self.to(np.float32)
    def double(self): return self.to(np.float64)
    def long(self): return self.to(np.int64)
    def cuda(self, *args, **kwargs): return _cpu_only(self, "cuda")

    # -- more elementwise functions ----------------------------------------------------------------------
    def pow(self, exponent): return self ** exponent

    def abs(self):
        a = self._data
        # d|a|/da = sign(a) (0 at 0, as PyTorch)
        return record("abs", np.abs(a), (self, lambda g: g * np.sign(a)))

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None (as in PyTorch)")
        a = self._data
        inside = (a > (-np.inf if min is None else min)) & (a < (np.inf if max is None else max))
        # d clamp(a)/da = 1 strictly between min and max, else 0 (PyTorch's choice at the bounds too)
        out = np.clip(a, min, max)
        out = out.astype(a.dtype, copy=False) if a.dtype.kind == "f" else out    # (numpy 1.x lifts a 0-d float32)
        return record("clamp", out, (self, lambda g: g * inside))

    def softmax(self, dim):
        dim = _dim(dim, self.ndim, "softmax")
        e = np.exp(self._data - self._data.max(axis=dim, keepdims=True))
        out = e / e.sum(axis=dim, keepdims=True)
        # d softmax/dx: s·(G - sum(G·s))
        return record("softmax", out, (self, lambda g: out * (g - (g * out).sum(dim, keepdims=True))))

    # -- matrix products ----------------------------------------------------------------------------------
    def matmul(self, other): return self @ other

    def mm(self, other):
        if self.ndim != 2 or getattr(other, "ndim", 0) != 2:
            raise RuntimeError(f"mm: both must be matrices, not {self.shape} and {np.shape(other)} (use @)")
        return self @ other

    # -- more reductions ---------------------------------------------------------------------------------
    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """Variance as PyTorch's: divide by n - correction (1 unless unbiased=False). Made of ops: no rule."""
        centred = self - self.mean(dim, keepdim=True)
        squares = (centred * centred).sum(dim, keepdim)
        count = self._data.size // squares._data.size
        return squares / np.maximum(count - (correction if correction is not None else int(unbiased)), 0)

    def min(self, dim=None, keepdim=False): return _extreme(self, "min", np.argmin, dim, keepdim)

    def argmax(self, dim=None, keepdim=False): return _arg(self, np.argmax, dim, keepdim)

    def argmin(self, dim=None, keepdim=False): return _arg(self, np.argmin, dim, keepdim)

    # -- more shape ops: each a reshape or a permute, so they need no rule of their own -----------------
    def view(self, *shape): return self.reshape(*shape)

    def unsqueeze(self, dim):
        return self.reshape(np.expand_dims(self._data, _dim(dim, self.ndim, "unsqueeze", new=1)).shape)

    def flatten(self, start_dim=0, end_dim=-1):
        start, end = _dim(start_dim, self.ndim, "flatten"), _dim(end_dim, self.ndim, "flatten")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:]) if self.ndim else self.reshape(1)

    def squeeze(self, dim=None):
        dims = range(self.ndim) if dim is None else [_dim(d, self.ndim, "squeeze") for d in np.atleast_1d(dim)]
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if n != 1 or i not in dims))

    def transpose(self, dim0, dim1):
        dim0, dim1 = _dim(dim0, self.ndim, "transpose"), _dim(dim1, self.ndim, "transpose")
        # the axes in order, but dim0 and dim1 trade places
        return self.permute([dim1 if d == dim0 else dim0 if d == dim1 else d for d in range(self.ndim)])

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D (use .T)")
        return self.T


for _name, _member in list(vars(_TensorConveniences).items()):
    if isinstance(_member, (types.FunctionType, property)):
        setattr(Tensor, _name, _member)
_REFLECTED = {np.add: "__radd__", np.subtract: "__rsub__", np.multiply: "__rmul__", np.divide: "__rtruediv__",
              np.matmul: "__rmatmul__", np.power: "__rpow__", np.equal: "__eq__", np.not_equal: "__ne__",
              np.less: "__gt__", np.less_equal: "__ge__", np.greater: "__lt__", np.greater_equal: "__le__"}
_IN_PLACE_LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
_IN_PLACE = ("{}: mytorch records no in-place op in a graph; make a new tensor (y = x + 1, not x += 1), "
             "or change x under `with mytorch.no_grad():`")


# argmax and argmin: indices, no graph
def _arg(x, arg, dim, keepdim): return record("", arg(x._data, _dims(dim, x.ndim, arg.__name__), keepdims=keepdim))


def _assigned(index, a, value):      # a copy of a, with a[index] = value
    a = a.copy()
    a[index] = value
    return a


def _cpu_only(thing, device):
    if str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"mytorch runs on the CPU only: no device {device!r}; leave out .to(device) / .cuda()")
    return thing


def _fail(error): raise error      # a raise that one-line defs can use as an expression


_AMBIGUOUS = "Boolean value of Tensor with more than one value is ambiguous"     # PyTorch's words



# -- new tensors ----------------------------------------------------------------------------------------
float16, float32, float64, double = np.float16, np.float32, np.float64, np.float64   # for dtype=...
uint8, int8, int16, int32, int64, long = np.uint8, np.int8, np.int16, np.int32, np.int64, np.int64


def tensor(data, dtype=None, requires_grad=False):
    """As torch.tensor: a copy of `data`. An array keeps its dtype (float64 stays float64); Python floats
    become float32, ints int64, bools bool."""
    return _leaf(_array(data, dtype), requires_grad)


def _array(data, dtype=None):                   # torch.tensor's dtype rule, as a numpy array of our own
    array = np.array(data._data if isinstance(data, Tensor) else data, dtype)
    if dtype is None and not _holds_numpy(data):   # only Python numbers: float32 (not numpy's float64), int64
        array = array.astype(_DEFAULT_DTYPE.get(array.dtype.kind, array.dtype), copy=False)
    return array


def _holds_numpy(data):         # arrays, numpy numbers and Tensors keep their dtype, also inside lists
    if isinstance(data, (list, tuple)): return any(_holds_numpy(item) for item in data)
    return isinstance(data, (np.ndarray, np.generic, Tensor))


# a new leaf on a fresh array (no copy)
def _leaf(array, requires_grad=False): return record("", array).requires_grad_(requires_grad)


def from_numpy(array):
    """A Tensor on the same memory as `array` (no copy; its dtype kept), as torch.from_numpy. Unlike PyTorch,
    a later change of the tensor (x += 1) gives it a new array: `array` keeps the old values, and a change
    made to `array` by numpy is seen by the tensor only until then."""
    return record("", np.asarray(array))


# dtype float32 unless said, as in PyTorch; the random ones follow manual_seed
def zeros(*size, dtype=float32, requires_grad=False): return _leaf(np.zeros(_shape_args(size), dtype), requires_grad)


def ones(*size, dtype=float32, requires_grad=False): return _leaf(np.ones(_shape_args(size), dtype), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):     # dtype from the value: 3 int64, 3.0 float32
    return _leaf(np.full(size, fill_value, dtype or _array(fill_value).dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False): return _leaf(np.zeros_like(t.data, dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False): return _leaf(np.ones_like(t.data, dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):   # arange(5), arange(1, 5, 0.5)
    start, end = (0, start) if end is None else (start, end)
    return _leaf(np.arange(start, end, step, dtype or _array([start, end, step]).dtype), requires_grad)


def linspace(start, end, steps, dtype=float32, requires_grad=False):
    return _leaf(np.linspace(start, end, steps, dtype=dtype), requires_grad)


def eye(n, m=None, dtype=np.float32, requires_grad=False): return _leaf(np.eye(n, m, dtype=dtype), requires_grad)


def randn(*size, dtype=np.float32, requires_grad=False):          # standard normal
    return _leaf(_rng.standard_normal(_shape_args(size)).astype(dtype), requires_grad)


def rand(*size, dtype=np.float32, requires_grad=False):           # uniform in [0, 1)
    return _leaf(_rng.random(_shape_args(size)).astype(dtype), requires_grad)


def randint(low, high=None, size=None, dtype=np.int64):           # randint(high, size), randint(low, high, size)
    low, high, size = (0, low, high) if size is None else (low, high, size)
    return _leaf(_rng.integers(low, high, size, dtype=dtype))


# -- ops on several tensors -----------------------------------------------------------------------------
def where(condition, a, b):
    """a where condition holds, else b (broadcast together, in the dtype PyTorch's promotion gives)."""
    condition = np.asarray(condition._data if isinstance(condition, Tensor) else condition, dtype=bool)
    a = a if isinstance(a, Tensor) else _operand(b, a, "where") if isinstance(b, Tensor) else tensor(a)
    b, _, _, out = _binary("where", functools.partial(np.where, condition), a, b)
    # d/da = 1 where the condition holds, d/db = 1 elsewhere
    return record("where", out, (a, lambda g: np.where(condition, g, 0)), (b, lambda g: np.where(condition, 0, g)))


def cat(tensors, dim=0):
    """Join tensors along an existing axis."""
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    dim = _dim(dim, tensors[0].ndim, "cat")
    top = max(_KIND_RANK[t.dtype.kind] for t in tensors)     # PyTorch's promotion: the highest kind wins
    dtype = np.result_type(*[t.dtype for t in tensors if _KIND_RANK[t.dtype.kind] == top])
    try:
        out = np.concatenate([t._data for t in tensors], axis=dim, dtype=dtype)
    except ValueError:
        raise ShapeError(f"cat: shapes {[t.shape for t in tensors]} do not fit along dim {dim}") from None
    ends = np.cumsum([t.shape[dim] for t in tensors])[:-1]
    # each input gets back its own slice of the gradient: np.split cuts where np.concatenate joined
    return record("cat", out, *[(t, lambda g, i=i: np.split(g, ends, axis=dim)[i]) for i, t in enumerate(tensors)])


def stack(tensors, dim=0):
    """Join tensors along a new axis: each gets an axis of size 1 there, then cat."""
    return cat([(t if isinstance(t, Tensor) else tensor(t)).unsqueeze(dim) for t in tensors], dim)


def linear(x, weight, bias=None):
    """y = x·Wᵀ + b as one op (PyTorch's F.linear): one node and one rule instead of three."""
    x = _operand(weight, x, "linear")
    a, w = x._data, weight._data
    if a.shape[-1:] != w.shape[1:]:
        raise ShapeError(f"linear: input of shape {a.shape} does not fit a weight of shape {w.shape} (in_features)")
    _same_dtype("linear", a, w)
    out = a @ w.T
    def rows(m): return m if m.ndim == 2 else m.reshape(-1, m.shape[-1])    # one batch axis for all
    # dW = Gᵀ·x and db = G, each summed over the batch;  dx = G·W  (x last: the walk goes down into x
    # once this node is done, so it need not keep G meanwhile)
    edges = [(weight, lambda g: rows(g).T @ rows(a)), (x, lambda g: g @ w)]
    if bias is not None:
        out += bias._data                  # into the fresh product: no extra array
        edges.insert(1, (bias, lambda g: rows(g).sum(axis=0)))
    return record("linear", out, *edges)


# -- checking a backward rule ---------------------------------------------------------------------------
def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check autograd's gradients of func(*inputs) against finite differences, as torch.autograd.gradcheck.
    For every output element y and input element x[j]:  dy/dx[j] ≈ (y(x[j] + eps) - y(x[j] - eps)) / 2·eps,
    the definition of a derivative. Like PyTorch, it moves the elements of the caller's own tensors and puts
    them back, so a function that reads them another way (a closure over model.weight) is checked too.
    Inputs that require grad must be float64: float32's rounding would drown such small differences."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is no gradient to check")

    def outputs():           # func's floating outputs (max's indices are no function of x)
        out = func(*inputs)
        return [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if o.dtype.kind == "f"]

    def outputs_moved(x, original, j, step):    # every output, flat, with x[j] moved by step
        x._data = original.copy()
        x._data.flat[j] += step
        with no_grad():
            return np.concatenate([o._data.ravel() for o in outputs()])
    saved = [(x, x._data, x.grad) for _, x in checked]
    try:
        for i, x in checked:
            if x.dtype != np.float64:
                # float64: mytorch.tensor(..., dtype=mytorch.float64), x.double(), model.double()
                raise TypeError(f"gradcheck: input {i} is {x.dtype}, not float64: use x.double() or model.double()")
            original, analytic = x._data, []
            numeric = [(outputs_moved(x, original, j, eps) - outputs_moved(x, original, j, -eps)) / (2 * eps)
                       for j in range(original.size)]
            x._data = original
            for out in outputs():                   # analytic[m]: d(output element m)/dx, from backward()
                for m in range(out._data.size):
                    x.grad, seed = None, np.eye(1, out._data.size, m).reshape(out.shape)   # 1 at element m
                    if out.requires_grad:
                        out.backward(seed, retain_graph=True)
                    analytic.append(np.zeros(x._data.size) if x.grad is None else x.grad._data.ravel())
            numeric, analytic = np.array(numeric).T, np.array(analytic)
            wrong = np.argwhere(~(np.abs(analytic - numeric) <= atol + rtol * np.abs(numeric)))
            if len(wrong) and not raise_exception: return False
            if len(wrong):
                (m, j), element = wrong[0], tuple(int(k) for k in np.unravel_index(wrong[0][1], x.shape))
                raise RuntimeError(f"gradcheck: input {i}, element {element}, output element {m}: autograd "
                                   f"gives {analytic[m, j]:.6g}, finite differences give {numeric[m, j]:.6g}")
    finally:                 # the caller's tensors get back their own arrays and gradients
        for x, data, grad in saved:
            x._data, x.grad = data, grad
    return True


def __getattr__(name):       # mytorch.<a name it does not have>: say so, and what to do
    if name in _MORE_DTYPES: return _MORE_DTYPES[name]
    raise AttributeError(f"module 'mytorch' has no attribute '{name}': mytorch does not have it (PyTorch may). "
                         "Build it from its ops, or add it as an op with mytorch.record (README: 'Add your own op')")


_MORE_DTYPES = {"bool": np.bool_, "float": np.float32, "int": np.int32}    # names taken by Python's builtins


# === nn: layers and losses, built from the ops above (so they need no backward code of their own) ====
class Parameter(Tensor):
    """A Tensor that a Module trains: a leaf that requires grad (PyTorch's nn.Parameter)."""
    __slots__ = ()
    def __init__(self, data, requires_grad=True):        # keeps the data's dtype, as nn.Parameter(tensor)
        Tensor.__init__(self, requires_grad=requires_grad)
        self.data = _array(data)

    def __repr__(self): return "Parameter containing:\n" + Tensor.__repr__(self)

class Module:
    """Layers and models: calling one runs `forward`. Parameters and sub-modules are found in attributes
    (and lists, tuples, dicts of them), so super().__init__() is optional. Buffers (register_buffer) are
    tensors saved and cast with the model but not trained, e.g. running statistics or a loss's class weights."""
    training = True

    def __call__(self, *args, **kwargs): return self.forward(*args, **kwargs)

    # -- what is inside: sub-modules, parameters, buffers (each walk in PyTorch's order) -------------------
    def _children(self): return [(n, value) for n, value in _inside(vars(self)) if isinstance(value, Module)]

    def _walk(self, prefix=""):     # (path, module) for this module and every one inside, by every path
        return [(prefix, self)] + [pair for name, child in self._children()
                                   for pair in child._walk(f"{prefix}.{name}" if prefix else name)]

    def named_modules(self, prefix="", remove_duplicate=True):
        """This module and all modules inside it, depth first; a module used twice is listed once (first name)."""
        return _unique(self._walk(prefix)) if remove_duplicate else iter(self._walk(prefix))

    def modules(self): return (module for _, module in self.named_modules())

    def named_children(self): return _unique(self._children())     # the modules directly inside, each once

    def children(self): return (child for _, child in self.named_children())

    def _own_params(self):     # what a Module trains: Parameters, and (unlike PyTorch) leaves requiring grad
        return [(name, v) for name, v in _inside(vars(self))
                if isinstance(v, Parameter) or isinstance(v, Tensor) and v.requires_grad and v.is_leaf]

    # named_parameters lists them as PyTorch does: a module's own first ('bias'), then its sub-modules'
    # ('fc1.weight'); each once; frozen Parameters too, and (unlike PyTorch) plain leaf tensors that require grad
    def named_parameters(self, prefix=""): return _unique(_named(self.named_modules(prefix), Module._own_params))

    def parameters(self): return (p for _, p in self.named_parameters())

    def register_buffer(self, name, tensor):
        """A tensor the module keeps as attribute `name`: in state_dict, cast by double() / float(), never
        trained (PyTorch's persistent=False is not in mytorch). None is allowed: a buffer not set yet."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None)")
        setattr(self, name, tensor)
        vars(self).setdefault("_buffers", {})[name] = True      # the names (in order); the tensors are attributes

    def _own_buffers(self):
        return [(n, getattr(self, n)) for n in vars(self).get("_buffers", ()) if getattr(self, n) is not None]

    def named_buffers(self, prefix=""): return _unique(_named(self.named_modules(prefix), Module._own_buffers))

    def buffers(self): return (b for _, b in self.named_buffers())

    # -- changing every module or parameter at once ------------------------------------------------------
    def apply(self, fn):
        """fn(module) for every sub-module, then for this one (e.g. to initialise weights); returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter; returns self. (A plain tensor attribute that no longer
        requires grad stops being a parameter: make it an nn.Parameter to unfreeze it later.)"""
        for p in list(self.parameters()):
            p.requires_grad_(requires_grad)
        return self

    def train(self, mode=True):
        for module in self.modules():
            module.training = mode
        return self

    def eval(self): return self.train(False)

    def zero_grad(self, set_to_none=True): _zero_grads(self.parameters(), set_to_none)

    def _cast(self, dtype):     # every floating parameter, buffer and grad to dtype, in place (same objects)
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        for t in [*self.parameters(), *self.buffers(), *[p.grad for p in self.parameters() if p.grad is not None]]:
            if t.dtype.kind == "f":                                 # (integer buffers stay as they are)
                t.data = t.data.astype(dtype, copy=False)
        return self

    def double(self): return self._cast(np.float64)

    def float(self): return self._cast(np.float32)

    def to(self, *args, **kwargs):
        """model.to('cpu'), model.to(mytorch.float64), model.to('cpu', dtype=mytorch.float64): casts in place and
        returns the model itself, as PyTorch (the CPU is the only device)."""
        for target in (*args, *kwargs.values()):        # a device or a dtype
            _cpu_only(self, target) if isinstance(target, str) else self._cast(target)
        return self

    def cuda(self, *args, **kwargs): return _cpu_only(self, "cuda")

    # -- saving and loading: by name, every name of a module used twice (as PyTorch) -----------------------
    def _state(self): return dict(_named(self._walk(), Module._own_params, Module._own_buffers))

    # state_dict: copies (numpy arrays) of the parameters and buffers by name, in PyTorch's order
    def state_dict(self): return {name: t.data.copy() for name, t in self._state().items()}

    def load_state_dict(self, state_dict, strict=True):
        """Take arrays (or Tensors) for the parameters and buffers, each keeping its own dtype. As PyTorch:
        missing or unexpected names raise if strict, a shape that differs always; returns
        (missing_keys, unexpected_keys)."""
        own = self._state()
        missing, unexpected = [n for n in own if n not in state_dict], [n for n in state_dict if n not in own]
        errors = [f"{kind} key(s) in state_dict: " + ", ".join(f'"{name}"' for name in names) + ". "
                  for kind, names in [("Missing", missing), ("Unexpected", unexpected)] if strict and names]
        errors += [f"size mismatch for {name}: copying a param with shape {np.shape(value)} from checkpoint, the "
                   f"shape in current model is {own[name].shape}."
                   for name, value in state_dict.items() if name in own and np.shape(value) != own[name].shape]
        if errors:
            raise RuntimeError("\n\t".join([f"Error(s) in loading state_dict for {type(self).__name__}:", *errors]))
        for name in own.keys() & state_dict.keys():
            own[name].data = np.array(state_dict[name], dtype=own[name].dtype)   # a copy (np.array reads Tensors)
        return _IncompatibleKeys(missing, unexpected)

    # -- print(model) -----------------------------------------------------------------------------------
    # extra_repr: the settings print(model) shows inside a layer's parentheses: Linear(in_features=2, ...)
    def extra_repr(self): return ""

    def _child_reprs(self): return [(name, repr(child)) for name, child in self._children()]

    def __repr__(self):
        """As PyTorch prints a model: Name(settings), or one '(name): layer' line per sub-module, indented."""
        extra = self.extra_repr()
        lines = extra.splitlines() + [f"({n}): " + text.replace("\n", "\n  ") for n, text in self._child_reprs()]
        # ReLU(), Linear(in_features=2, ...)
        if not lines or len(lines) == 1 and extra: return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

_IncompatibleKeys = namedtuple("_IncompatibleKeys", "missing_keys unexpected_keys")   # load_state_dict's answer

def _inside(value, name=""):    # (name, value) pairs of attributes, also in lists, tuples, dicts: 'blocks.0'
    if not isinstance(value, (dict, list, tuple)): return [(name, value)]
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return [pair for key, item in items for pair in _inside(item, f"{name}.{key}" if name else str(key))]

def _named(modules, *owns):     # ('path.name', tensor) for what each own(module) lists, module by module
    return ((f"{path}.{name}" if path else name, t) for path, m in modules for own in owns for name, t in own(m))

def _unique(pairs):             # (name, value) pairs, each value once, under its first name: a shared one once
    first = {}
    for name, value in pairs:
        first.setdefault(value, name)
    return iter([(name, value) for value, name in first.items()])

def _zero_grads(params, set_to_none):     # zero_grad of modules and optimizers
    for p in params:      # set_to_none (PyTorch's default): no grad; else the same grad Tensor, zeroed
        p.grad = None if set_to_none or p.grad is None else p.grad.zero_()

class Linear(Module):
    """y = x·Wᵀ + b, W of shape (out_features, in_features), W and b uniform in ±1/√in_features (PyTorch's)."""
    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / np.sqrt(in_features)
        self.weight = Parameter(_rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype))
        self.bias = Parameter(_rng.uniform(-bound, bound, out_features).astype(dtype)) if bias else None

    def forward(self, x): return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

class Sigmoid(Module):
    def forward(self, x): return x.sigmoid()      # F.sigmoid is Tensor.sigmoid itself

class Tanh(Module):
    def forward(self, x): return x.tanh()

class ReLU(Module):
    """max(x, 0). inplace=True is accepted and gives PyTorch's result, but computed out of place: mytorch's
    in-place ops are copy-on-write, so here the input keeps its values (PyTorch overwrites it)."""
    def __init__(self, inplace=False): self.inplace = inplace

    def forward(self, x): return relu(x, self.inplace)

    def extra_repr(self): return "inplace=True" if self.inplace else ""

class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1): self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x): return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self): return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

class Dropout(Module):
    """Inverted dropout in training (see `dropout`); the identity in eval mode. inplace as in ReLU."""
    def __init__(self, p=0.5, inplace=False): self.p, self.inplace = _probability(p), inplace

    def forward(self, x): return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self): return f"p={self.p}, inplace={self.inplace}"

class _Indexed(Module):
    """What Sequential and ModuleList share: modules kept as attributes '0', '1', ... (names as PyTorch's,
    '0.weight'), reached by position: len(m), m[i], iteration; append and extend add at the end. A module may
    be in it twice."""
    def _add(self, named):        # (name, module) pairs; returns self
        for name, module in named:
            if not isinstance(module, Module):          # nn.ReLU, not nn.ReLU()?
                raise TypeError(f"{type(self).__name__}: {module!r} is not a Module (a layer needs (): nn.ReLU())")
            setattr(self, str(name), module)
        return self

    def __len__(self): return len(self._children())

    def __iter__(self): return iter([module for _, module in self._children()])

    def append(self, module): return self.extend([module])

    def extend(self, modules): return self._add(enumerate(modules, start=len(self)))   # named by number

class Sequential(_Indexed):
    """Runs its modules in order: Sequential(a, b, c), or Sequential(OrderedDict(name=module, ...)) to name
    them (any dict will do here; PyTorch takes only an OrderedDict). A slice is a Sequential keeping the names."""
    def __init__(self, *modules):
        self._add(modules[0].items() if len(modules) == 1 and isinstance(modules[0], dict) else enumerate(modules))

    def __getitem__(self, i): return Sequential(dict(self._children()[i])) if type(i) is slice else list(self)[i]

    def forward(self, x):
        for module in self:
            x = module(x)
        return x

class ModuleList(_Indexed):
    """A list of modules whose parameters the model finds (names '0.weight', ...); no forward of its own."""
    def __init__(self, modules=None): self.extend(modules or [])

    def __getitem__(self, i): return ModuleList(list(self)[i]) if type(i) is slice else list(self)[i]

    def _child_reprs(self):    # as PyTorch prints it: equal neighbours as one line, '(0-2): 3 x Linear(...)'
        texts = [repr(module) for module in self]
        starts = [i for i, text in enumerate(texts) if i == 0 or text != texts[i - 1]]    # where each run starts
        return [(str(a), texts[a]) if b - a == 1 else (f"{a}-{b - 1}", f"{b - a} x {texts[a]}")
                for a, b in zip(starts, starts[1:] + [len(texts)])]

class MSELoss(Module):
    """(input - target)², averaged (see `mse_loss`). reduction is keyword-only: PyTorch's first two arguments
    (size_average, reduce) are deprecated there and not in mytorch, so passing them is a TypeError."""
    def __init__(self, *, reduction="mean"): self.reduction = reduction

    def forward(self, input, target): return mse_loss(input, target, reduction=self.reduction, _stacklevel=4)

class CrossEntropyLoss(Module):
    """-log softmax(logits)[true class], averaged, as PyTorch's (see `cross_entropy`); `weight` (one per
    class, the first argument as in PyTorch) is kept as a buffer. PyTorch's size_average and reduce
    (deprecated) and label_smoothing are not in mytorch: passing them is a TypeError, so the others are
    keyword-only."""
    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input, target):
        return cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

# --- nn.functional: the functions the layers above call (`import mytorch.nn.functional as F`); F.sigmoid,
# F.tanh, F.softmax, F.log_softmax are the Tensor methods themselves: F.softmax(x, 1) runs x.softmax(1) --------
# relu: max(x, 0); inplace=True gives the same result, computed out of place (see ReLU)
def relu(input, inplace=False): return input.relu()

def _probability(p):
    if not 0 <= p <= 1: raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return p

def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1-p), so
    the expected value stays; otherwise the input itself. inplace as in ReLU (computed out of place)."""
    if not training or _probability(p) == 0: return input
    keep = _rng.random(input.shape) >= p
    return input * (keep / (1 - p) if p < 1 else keep).astype(input.dtype)

def mse_loss(input, target, *, reduction="mean", _stacklevel=2):
    """(input - target)², averaged (or summed, or each); reduction keyword-only, as in MSELoss. The warning
    about shapes points at the caller's line (_stacklevel: frames up to it, as in PyTorch's softmax)."""
    if getattr(target, "shape", input.shape) != input.shape:
        warnings.warn(f"MSELoss: target shape {target.shape} differs from input shape {input.shape}; they will "
                      "be broadcast together, rarely what you meant (PyTorch warns too)", stacklevel=_stacklevel)
    return _reduce((input - target) ** 2, reduction)

def _reduce(loss, reduction):   # the losses' mean, their sum, or each of them ('none'); as PyTorch, nothing else
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use 'mean', 'sum' or 'none'")
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss

def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """-log softmax(logits)[true class], as PyTorch's: targets are class indices (N,) (labels equal to
    ignore_index left out) or probabilities (N, C), e.g. one-hot. Unbatched logits (C,) take one label.
    With a `weight` per class, row i counts w[y_i] times: the mean is Σ w[y_i]·loss_i / Σ w[y_i] (for
    probabilities, loss_i = -Σ_c w_c·p_ic·log q_ic and the mean divides by N, as PyTorch). As in
    CrossEntropyLoss, the settings after weight are keyword-only. The weight is a constant: no gradient
    flows to it."""
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if input.ndim == 1:                      # unbatched: a batch of one
        target = target.unsqueeze(0) if isinstance(target, Tensor) else labels[None]
        loss = cross_entropy(input.unsqueeze(0), target, weight, ignore_index=ignore_index, reduction=reduction)
        return loss.reshape(()) if reduction == "none" else loss
    if input.ndim != 2:
        raise ValueError(f"CrossEntropyLoss: expected logits of shape (N, C) or (C,), got {input.shape}")
    if weight is not None and (weight.shape != input.shape[1:] or weight.dtype != input.dtype):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {input.shape[1]} "
                           f"classes or no classes, in dtype {input.dtype}: got {weight.dtype} {weight.shape}")
    log_probs = input.log_softmax(dim=1)
    if labels.shape == input.shape[:1]:
        return _nll(log_probs, _class_labels(labels, input.shape[1], ignore_index), weight, ignore_index, reduction)
    if labels.shape != input.shape:          # neither class indices (N,) nor probabilities (N, C)
        raise ValueError(f"cross_entropy: target shape {labels.shape} is not {input.shape[:1]} or {input.shape}")
    target = target if isinstance(target, Tensor) else tensor(labels.astype(input.dtype))
    return _reduce(-(log_probs * (target if weight is None else target * weight.data)).sum(dim=1), reduction)

def _class_labels(labels, classes, ignore_index):  # integers, or an error: -1 is no last class, 1.7 no class 1
    whole = labels.astype(np.intp, copy=False)     # (int64 labels: the same array, nothing to check)
    # floats are labels if they hold whole numbers (Tensor([0, 2, 1])); probabilities need a target (N, C)
    if labels.dtype.kind not in "iuf" or whole is not labels and (whole != labels).any():
        raise ValueError(f"CrossEntropyLoss: class labels must be whole numbers: {labels.ravel()[:3].tolist()}")
    wrong = whole[(whole != ignore_index) & ((whole < 0) | (whole >= classes))]
    if wrong.size:
        raise IndexError(f"CrossEntropyLoss: label {wrong[0]} is not in 0..{classes - 1} nor ignore_index")
    return whole

def _nll(log_probs, labels, weight, ignore_index, reduction):   # -w[y_i]·log_probs[i, y_i], ignored rows out
    lp = log_probs.data
    rows = np.flatnonzero(labels != ignore_index)
    cols = labels[rows]
    w = np.ones(len(rows), lp.dtype) if weight is None else weight.data[cols]     # each row's class weight
    total = (w.sum() or np.nan) if reduction == "mean" else 1    # the mean: / Σ w[y_i] (nan if no rows)
    losses = np.zeros(len(labels), lp.dtype)                     # (ignored rows: 0)
    losses[rows] = -lp[rows, cols] * w
    # the weighted mean is the sum / Σ w[y_i]; _reduce also says no to an unknown reduction
    out = np.asarray(_reduce(losses, "sum" if reduction == "mean" else reduction) / total, lp.dtype)
    def to_log_probs(g):      # d(-w_i·lp[i, y_i] / total)/d lp[i, y_i] = -w_i / total; every other entry 0
        grad = np.zeros_like(lp)
        grad[rows, cols] = -(g[rows] if reduction == "none" else g / total) * w
        return grad
    return record("nll", out, (log_probs, to_log_probs))

def one_hot(tensor, num_classes=-1):
    """Integer labels as rows of 0s with a 1 at the label (int64), as F.one_hot; num_classes=-1: max + 1."""
    labels = tensor.data
    n = num_classes if num_classes != -1 else int(labels.max(initial=-1)) + 1       # classes
    if labels.dtype.kind not in "iu" or not n or labels.size and not 0 <= labels.min() <= labels.max() < n:
        raise RuntimeError(f"one_hot takes a LongTensor (int64); Class values must be in [0, num_classes={n})")
    return _leaf(np.eye(n, dtype=np.int64)[labels])

# === optim ===========================================================================================
class Optimizer:
    """What SGD and Adam share: PyTorch's checks on the parameters, param_groups, zero_grad, step, and
    state_dict / load_state_dict to save and resume training."""
    def __init__(self, params, defaults):
        params = list(params)
        if params and isinstance(params[0], dict):
            raise TypeError("mytorch's optimizers take one list of tensors: parameter groups are not supported")
        if not params:
            raise ValueError("optimizer got an empty parameter list (was a parameters() generator used up?)")
        if not all(isinstance(p, Tensor) and p.is_leaf for p in params):
            raise ValueError("can't optimize a non-leaf Tensor (or a non-Tensor): pass e.g. model.parameters()")
        self.param_groups = [dict(defaults, params=params)]     # one group, in PyTorch's layout
        self.state = {}           # per parameter: momentum buffer, Adam's moments

    def _params(self): return [p for group in self.param_groups for p in group["params"]]   # numbered in order

    def zero_grad(self, set_to_none=True): _zero_grads(self._params(), set_to_none)

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.requires_grad:        # (frozen or unused: left alone)
                    g, old = p.grad._data, p._data
                    # the L2 penalty, as PyTorch adds it: g + weight_decay·p
                    g = g + float(group["weight_decay"]) * old if group["weight_decay"] else g
                    new = self._updated(old, g, group, self.state.setdefault(p, {}))
                    p._data = np.asarray(new, old.dtype)    # a new array (see Tensor.data) of p's own dtype

    def state_dict(self):
        """As PyTorch's: {'state': {i: {'momentum_buffer': ...}}, 'param_groups': [{'lr': ..., 'params': [0, 1,
        ...]}]}, parameters numbered in order; arrays are copies (numpy, as Module.state_dict)."""
        number = {p: i for i, p in enumerate(self._params())}
        return {"state": {number[p]: _copied(state) for p, state in self.state.items()},
                "param_groups": [dict(g, params=[number[p] for p in g["params"]]) for g in self.param_groups]}

    def load_state_dict(self, state_dict):
        """Take the settings and per-parameter state that state_dict() gave, for the same parameters in the same
        order (copies, each array in its parameter's dtype)."""
        if [len(g["params"]) for g in state_dict["param_groups"]] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("loaded state dict's parameter group doesn't match the size of optimizer's group")
        for group, saved in zip(self.param_groups, state_dict["param_groups"]):
            group.update((key, value) for key, value in saved.items() if key != "params")
        params = self._params()         # parameter i of the saved state is params[i], as state_dict() numbers them
        self.state = {params[i]: _copied(state, params[i].dtype) for i, state in state_dict["state"].items()}

def _copied(state, dtype=None):     # an optimizer's state of one parameter, its arrays copied (in dtype)
    return {key: np.array(value, dtype) if isinstance(value, np.ndarray) else value for key, value in state.items()}

class SGD(Optimizer):
    """Stochastic gradient descent with torch.optim.SGD's exact update rule:
        g = grad + weight_decay·p
        buf = g (first step), else momentum·buf + (1 - dampening)·g;   g = g + momentum·buf (nesterov), else buf
        p = p - lr·g"""
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if lr < 0 or momentum < 0 or weight_decay < 0 or nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: lr, momentum, weight_decay must be >= 0; nesterov: momentum > 0, dampening 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _updated(self, p, g, group, state):     # (Python floats: an np.float64 must not make arrays float64)
        momentum, lr, buf = float(group["momentum"]), float(group["lr"]), state.get("momentum_buffer")
        if momentum and buf is None:               # the first step: buf = g (an array, even for a 0-d p)
            buf = state["momentum_buffer"] = np.array(g, p.dtype)
        elif momentum:                             # the optimizer's own array, updated in place
            buf *= momentum
            buf += g if group["dampening"] == 0 else (1 - group["dampening"]) * g
        if momentum and group["nesterov"]:         # -lr·(g + momentum·buf), built in place in its one new array
            step = buf * momentum
            step += g
            step *= -lr
        else:                                      # -lr·buf, or -lr·g without momentum
            step = (buf if momentum else g) * -lr
        step += p                                  # p - lr·(...)
        return step

class Adam(Optimizer):
    """Adam with torch.optim.Adam's exact update rule, t counting steps from 1:
        g = grad + weight_decay·p;   m = β1·m + (1 - β1)·g;   v = β2·v + (1 - β2)·g²   (both start at 0)
        p = p - lr/(1 - β1^t) · m / (√v / √(1 - β2^t) + eps)"""
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):   # (values: in the call)
            raise ValueError("Adam: lr, eps and weight_decay must be >= 0, and both betas in [0, 1)")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _updated(self, p, g, group, state):
        (beta1, beta2), t = group["betas"], state.get("step", 0) + 1
        m, v = state.get("exp_avg", 0), state.get("exp_avg_sq", 0)
        state.update(step=t, exp_avg=beta1 * m + (1 - beta1) * g, exp_avg_sq=beta2 * v + (1 - beta2) * g * g)
        denominator = np.sqrt(state["exp_avg_sq"]) / (1 - beta2 ** t) ** 0.5 + group["eps"]
        return p - group["lr"] / (1 - beta1 ** t) * state["exp_avg"] / denominator

# -- learning-rate schedules (torch.optim.lr_scheduler): each sets param_groups' "lr" per scheduler.step()
class LRScheduler:
    """What LambdaLR and StepLR share: lr = initial lr × lr_lambda(n), n counting scheduler.step() calls from 0
    (PyTorch's name for n: last_epoch). Made, it takes step 0: lr = initial lr × lr_lambda(0)."""
    def __init__(self, optimizer, lr_lambda):
        self.optimizer, self.lr_lambda, self.last_epoch = optimizer, lr_lambda, -1
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
        self.step()

    def step(self):
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base_lr * self.lr_lambda(self.last_epoch)

    def get_last_lr(self): return [group["lr"] for group in self.optimizer.param_groups]

class LambdaLR(LRScheduler):
    """lr = initial lr × lr_lambda(n): LRScheduler itself, under PyTorch's name for it."""

class StepLR(LRScheduler):
    """lr = initial lr × gamma^(n // step_size): multiplied by gamma every step_size steps."""
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, lambda n: self.gamma ** (n // self.step_size))

# --- `import mytorch.nn as nn` and `from mytorch import optim`, though this is a single file ---------
def _submodule(name, *members):
    """A module `mytorch.<name>` holding `members`, importable as such. A name it lacks (one PyTorch has, say)
    raises an AttributeError that lists what it has and says how to add the missing piece."""
    module = sys.modules[f"{__name__}.{name}"] = types.ModuleType(f"{__name__}.{name}")
    module.__dict__.update((member.__name__, member) for member in members)
    def __getattr__(attribute):     # called only for a name the module lacks
        names = ", ".join(sorted(n for n in vars(module) if n[0] != "_"))
        raise AttributeError(f"mytorch.{name} has no {attribute!r} (it has {names}): build it from Tensor ops")
    module.__getattr__ = __getattr__
    return module

nn = _submodule("nn", Module, Parameter, Linear, Sigmoid, ReLU, Tanh, Flatten, Dropout, Sequential, ModuleList,
                MSELoss, CrossEntropyLoss)
nn.functional = _submodule("nn.functional", relu, Tensor.sigmoid, Tensor.tanh, Tensor.softmax, Tensor.log_softmax,
                           dropout, linear, one_hot, mse_loss, cross_entropy)
optim = _submodule("optim", Optimizer, SGD, Adam)
optim.lr_scheduler = _submodule("optim.lr_scheduler", LRScheduler, LambdaLR, StepLR)
