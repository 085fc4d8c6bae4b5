"""MyTorch: a small autograd engine in one file, built to show how PyTorch's autograd works inside.

A Tensor wraps a numpy array. Every op computes its result and records, for each input, the rule
that turns the gradient of the result into the gradient of that input (the chain rule, one op at a
time). `backward()` walks that graph from the loss back to the leaves, depth first, but *gated*: a
node passes gradient on to its inputs only once every consumer of it that leads to the loss has
delivered its share.

    x = mytorch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad                       # tensor([2., 4., 6.])

The file reads top to bottom, in parts (each starts with a banner):
  1. The lesson: record; Tensor with the tutorial's ops and their rules; backward, the gated walk
  2. More ops, grouped by family (still in class Tensor)
  3. What the ops use: type promotion, dims, numpy details
  4. Grad mode and randomness
  5. Creating tensors, and ops on several tensors
  6. nn.functional, then nn (layers, losses, init, utils)
  7. optim (optimizers and learning-rate schedules)
  8. Checkpoints (save, load) and gradcheck
  9. The namespaces: mytorch.nn, mytorch.optim, and names mytorch lacks
Needs only numpy (1.22+) and the standard library; Python 3.9+.
"""
import functools
import json
import math
import sys
import threading
import types
import warnings
from collections import namedtuple

import numpy as np


# ==================================================================================================
# Part 1. The lesson: every op records how to send gradient back; backward() walks that record
# ==================================================================================================
def record(op, data, *edges):
    """The output of an op: a Tensor holding `data` (a numpy array), with an edge (input, rule) to
    each input that requires grad. rule(gradient of the output) gives the gradient of that input.
    Every op ends with it, and so can yours (see the README's coursework section). Under no_grad
    nothing is recorded: the output is a plain leaf."""
    out = _wrap(data)
    if _grad_mode.enabled:
        edges = [edge for edge in edges if edge[0].requires_grad]
        if edges:
            out._edges, out._op, out.requires_grad = edges, op, True
    return out


# What backward(trace=...) reports for every gradient that moves along an edge: `sender` passed
# `grad` to its input `receiver`, which still waits for `waiting` more consumers (0: it is
# complete).
Step = namedtuple("Step", "sender receiver grad waiting")
_FREED = "backward: part of this graph was already freed by an earlier backward(); pass " \
         "retain_graph=True to that first backward() if you need to go through the graph again"


class Tensor:
    """A numpy array and what autograd needs: `requires_grad`; `grad`, filled in by backward(); and
    `_edges`, the (input, rule) pairs that the op which made it recorded (none for a leaf)."""
    # What every tensor starts with (a tensor changes its own, as the attributes of a new object)
    requires_grad = False
    grad = None             # after backward: d(loss)/d(this tensor), a Tensor of its shape
    _edges = ()             # (input, rule) pairs: rule(gradient of this) = input's gradient
    _op = ""                # the name of the op that made it; "" for a leaf
    retains_grad = False    # a computed tensor keeps its .grad only if retain_grad() asked
    _base = None            # the tensor whose .data or detach() this is (see `data`)
    __hash__ = object.__hash__   # a dict key by identity, though == compares values

    def __init__(self, *data, requires_grad=False):
        """As torch.Tensor(...): a float32 copy of the data (numbers, lists, arrays, Tensors)."""
        self._data = _float32_array(data)   # (whole numbers alone are sizes: Tensor(2, 3))
        self.requires_grad = requires_grad

    # -- The tutorial's ops. Each computes its result with numpy, then records, for each input, the
    # rule that turns g, the gradient of the result, into the gradient of that input.
    # (_promote gives both operands one dtype, as PyTorch's type promotion does: read past it.)
    def __add__(self, other):
        a, b, other = _promote(self, other, "add")
        # d(a+b)/da = 1,  d(a+b)/db = 1
        return record("add", a + b,
                      (self, lambda g: g),
                      (other, lambda g: g))

    def __sub__(self, other):
        a, b, other = _promote(self, other, "sub")
        # d(a-b)/da = 1,  d(a-b)/db = -1
        return record("sub", a - b,
                      (self, lambda g: g),
                      (other, lambda g: -g))

    def __mul__(self, other):
        a, b, other = _promote(self, other, "mul")
        # d(a*b)/da = b,  d(a*b)/db = a
        return record("mul", a * b,
                      (self, lambda g: g * b),
                      (other, lambda g: g * a))

    def __truediv__(self, other):
        a, b, other = _promote(self, other, "div")
        out = a / b
        # d(a/b)/da = 1/b,  d(a/b)/db = -a/b² = -(a/b)/b
        return record("div", out,
                      (self, lambda g: g / b),
                      (other, lambda g: -g * out / b))

    def __matmul__(self, other):
        a, b, other = _promote(self, other, "matmul")
        # C = A·B:  dA = G·Bᵀ,  dB = Aᵀ·G   (_matmul_grad: also for a 1-D A or B)
        return record("matmul", a @ b,
                      (self, lambda g: _matmul_grad(g, a, b,
                                                    to_a=True)),
                      (other, lambda g: _matmul_grad(g, a, b,
                                                     to_a=False)))

    def __neg__(self):
        # d(-a)/da = -1
        return record("neg", -_checked(self, "neg"),
                      (self, lambda g: -g))

    def exp(self):
        out = np.exp(_as_float(self._data))
        # d(e^a)/da = e^a
        return record("exp", out,
                      (self, lambda g: g * out))

    def log(self):
        a = _as_float(self._data)
        # d(ln a)/da = 1/a
        return record("log", np.log(a),
                      (self, lambda g: g / a))

    def sum(self, dim=None, keepdim=False):
        """The sum over `dim`: None (or ()) for all, one dim, or a tuple of dims."""
        dims, shape = _dims(self, dim, "sum"), self._data.shape
        out = self._data.sum(axis=dims, keepdims=keepdim,
                             dtype=_sum_dtype(self._data))
        # each element counts once: d(sum)/da = 1, spread back over the summed axes
        return record("sum", out,
                      (self, lambda g: _spread(g, shape,
                                               dims, keepdim)))

    def mean(self, dim=None, keepdim=False):
        """The sum divided by the count: made of ops, so it needs no rule of its own."""
        _checked(self, "mean", "f")       # floats only, as PyTorch's mean
        total = self.sum(_dims(self, dim, "mean"), keepdim)
        count = self._data.size // max(total._data.size, 1)
        return total / count

    # -- The backward pass -------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False, trace=None):
        """Send d(self)/d(leaf) to every leaf that requires grad, adding it to leaf.grad.
        gradient:     d(something)/d(self); needed unless self is a single number (then it is 1).
        retain_graph: keep the graph for another backward; by default it is freed, as in PyTorch.
        trace:        a function called with a Step for every gradient that moves along an edge."""
        gradient = self._first_gradient(gradient)
        # per node: how many consumers still have to deliver to it
        waiting = self._count_consumers()
        received = {}               # per node: the gradient summed so far
        # Depth first, with an explicit stack, so that a chain of 100,000 ops does not
        # hit Python's recursion limit. Each frame: a complete node, its gradient, and
        # which of its inputs is next.
        stack = [(self, gradient, 0)] if self._edges else []
        while stack:
            node, grad, i = stack.pop()
            receiver, rule = node._edges[i]
            # its other inputs wait their turn on the stack (after the last one, its
            # gradient is let go)
            if i + 1 < len(node._edges):
                stack.append((node, grad, i + 1))
            delivered = receiver._fit_gradient(rule(grad), node._op)
            total = received.pop(receiver, None)
            total = delivered if total is None else total + delivered
            waiting[receiver] -= 1
            if trace is not None:
                trace(Step(node, receiver, delivered, waiting[receiver]))
            if waiting[receiver]:       # the gate: other consumers have yet to deliver
                received[receiver] = total
                continue
            if receiver.retains_grad or not receiver._edges:
                receiver._accumulate(total)         # complete: a leaf keeps it in .grad
            if receiver._edges:                     # complete: go down into it now, depth first
                stack.append((receiver, _read_only(total), 0))
        # free the graph: its rules, and the arrays they keep
        if not retain_graph:
            for node in (self, *waiting):
                if node._edges:
                    node._edges = None

    def _count_consumers(self):
        """For every node that leads to this one (the loss), count the edges into it from nodes that
        also lead to the loss: only those deliver. A consumer off that path (a value computed for
        logging, say) would keep its input waiting forever."""
        counts, to_visit = {}, [self]
        while to_visit:
            node = to_visit.pop()
            if node._edges is None:
                raise RuntimeError(_FREED)
            for receiver, _ in node._edges:
                if receiver in counts:
                    counts[receiver] += 1
                else:           # the first time we meet it: look at its inputs too
                    counts[receiver] = 1
                    to_visit.append(receiver)
        return counts

    def _accumulate(self, grad):
        """self.grad += grad, for a leaf that (still) requires grad, or a tensor that retains its
        grad. mytorch never writes into an array a Tensor holds, so the first gradient is kept as it
        is (even if another .grad holds the same array: d(a+b) gives a and b one array) and a later
        one makes a new array in the same .grad Tensor."""
        if not self.requires_grad:          # requires_grad_(False) after the forward: no .grad
            return
        if self.grad is None:
            self.grad = _wrap(grad)
        else:
            self.grad._data = self.grad._data + grad

    def _fit_gradient(self, grad, op):
        """A rule's gradient for this tensor in its shape and dtype: summed over the axes along
        which this tensor was broadcast in the forward pass (x (3,) + y (2, 3) used x once per row,
        so x's gradient is the sum over the rows; likewise over axes where x had size 1)."""
        shape = self._data.shape
        if type(grad) is not np.ndarray:
            grad = _rule_output(grad, op)
        if grad.shape != shape:
            grad = _unbroadcast(grad, shape, op)
        if grad.dtype != self._data.dtype:  # a float64 consumer of a float32 input, say
            grad = grad.astype(self._data.dtype)
        return grad

    def _first_gradient(self, gradient):
        """The gradient backward() starts from: 1 for a single number, else the one given."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no input of it "
                               "required grad, or it was computed under no_grad)")
        if gradient is None and self._data.size != 1:
            raise RuntimeError(f"backward: a tensor of shape {self.shape} needs gradient= (only a "
                               "single number implies 1)")
        if gradient is None:
            gradient = np.ones(self.shape, self.dtype)
        else:
            gradient = np.array(gradient, self.dtype)   # (np.array reads a Tensor too)
        if gradient.shape != self.shape:
            raise ShapeError(f"backward: gradient has shape {gradient.shape}, expected "
                             f"{self.shape}")
        if self.retains_grad or not self._edges:      # a leaf (or retain_grad()) keeps its own
            self._accumulate(gradient)
        return _read_only(gradient)

    # ==============================================================================================
    # Part 2. More ops, grouped by family: the same pattern, a forward and a rule per input
    # ==============================================================================================

    # -- The other side of arithmetic: 2 - x makes 2 a tensor, then uses the op above --------------
    __radd__ = __add__              # 2 + x is x + 2, and 2 * x is x * 2

    def __rsub__(self, other):
        return _operand(self, other, "sub") - self

    __rmul__ = __mul__

    def __rtruediv__(self, other):
        return _operand(self, other, "div") / self

    def __rmatmul__(self, other):
        return _operand(self, other, "matmul") @ self

    def __rpow__(self, other):
        return _operand(self, other, "pow") ** self

    def __pow__(self, exponent):
        a, p, exponent = _promote(self, exponent, "pow")
        # (an integer to a negative integer power: numpy's ValueError; PyTorch gives 0 for a
        # tensor power, and raises a RuntimeError for a number)
        out = (a ** p).astype(a.dtype, copy=False)    # (numpy: bool ** bool is int8)

        def to_base(g):      # d(a^p)/da = p·a^(p-1), and 0 where p = 0 (x**0 has gradient 0 at 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                return g * np.where(p == 0, 0,
                                    p * a ** (p - 1))

        def to_exponent(g):  # d(a^p)/dp = a^p·ln a, and 0 where a = 0 and p >= 0 (as PyTorch)
            with np.errstate(divide="ignore", invalid="ignore"):
                return g * np.where((a == 0) & (p >= 0), 0,
                                    out * np.log(a))
        return record("pow", out,
                      (self, to_base),
                      (exponent, to_exponent))

    pow = __pow__

    def __floordiv__(self, other):
        a, b, _ = _promote(self, other, "floor_divide")
        return _wrap(np.floor_divide(a, b))     # no derivative (PyTorch has none either)

    def __mod__(self, other):
        a, b, other = _promote(self, other, "remainder")
        # a % b = a - b·floor(a/b):  d/da = 1,  d/db = -floor(a/b)
        return record("remainder", np.remainder(a, b),
                      (self, lambda g: g),
                      (other, lambda g: -g * np.floor_divide(a, b)))

    # -- Elementwise functions ---------------------------------------------------------------------
    def sigmoid(self):
        """σ(a) = 1 / (1 + e^(-a)). The tutorial builds it from neg, exp, add and divide; as one op
        its rule is σ(1 - σ), and for a < -88.7 (float32) e^(-a) = inf gives σ = 0 and gradient 0,
        not 0·inf = nan."""
        a = _as_float(self._data)
        with np.errstate(over="ignore"):
            out = 1 / (1 + np.exp(-a))
        out = out.astype(a.dtype, copy=False)   # (numpy 1.x makes a 0-d float32 float64)
        # dσ/da = σ(1 - σ)
        return record("sigmoid", out,
                      (self, lambda g: g * out * (1 - out)))

    def tanh(self):
        out = np.tanh(_as_float(self._data))
        # d tanh(a)/da = 1 - tanh(a)²
        return record("tanh", out,
                      (self, lambda g: g * (1 - out * out)))

    def relu(self):
        a = _checked(self, "relu")
        # d relu(a)/da = 0 where a <= 0, else 1 (at NaN too, as PyTorch)
        out = np.maximum(a, 0)
        out = out.astype(a.dtype, copy=False)   # (numpy 1.x makes a 0-d float32 float64)
        return record("relu", out,
                      (self, lambda g: np.where(a <= 0, 0, g)))

    def sqrt(self):
        out = np.sqrt(_as_float(self._data))
        # d(√a)/da = 1/(2√a)
        return record("sqrt", out,
                      (self, lambda g: g / (2 * out)))

    def abs(self):
        a = _checked(self, "abs")
        # d|a|/da = sign(a): 0 at 0 (and at NaN), as PyTorch
        return record("abs", np.abs(a),
                      (self, lambda g: g * np.nan_to_num(
                          np.sign(a))))

    def clamp(self, min=None, max=None):
        """Each element held between min and max (numbers or tensors), as PyTorch's clamp."""
        if min is None and max is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        out = self
        if min is not None:
            out = _clamp_side(out, min, np.greater)
        if max is not None:
            out = _clamp_side(out, max, np.less)
        return out

    # -- Softmax along a dim -----------------------------------------------------------------------
    def softmax(self, dim):
        dim = _dim(dim, self.ndim, "softmax")
        a = _checked(self, "softmax", "f")
        top = a.max(axis=dim, keepdims=True,
                    initial=-np.inf)
        e = np.exp(a - top)
        out = e / e.sum(axis=dim, keepdims=True)
        # d softmax/dx: s·(G - sum(G·s))
        return record("softmax", out,
                      (self, lambda g: out * (g - (g * out).sum(
                          dim, keepdims=True))))

    def log_softmax(self, dim):
        """log(softmax(x)) as x - max - log(sum(e^(x - max))): large logits never overflow."""
        dim = _dim(dim, self.ndim, "log_softmax")
        a = _checked(self, "log_softmax", "f")
        shifted = a - a.max(axis=dim, keepdims=True,
                            initial=-np.inf)
        sums = np.exp(shifted).sum(axis=dim, keepdims=True)
        out = shifted - np.log(sums)
        # d/dx: G - softmax(x)·sum(G)
        return record("log_softmax", out,
                      (self, lambda g: g - np.exp(out) * g.sum(
                          axis=dim, keepdims=True)))

    # -- More reductions -------------------------------------------------------------------------
    def var(self, dim=None, unbiased=True, keepdim=False, *,
            correction=None):
        """Variance as PyTorch's: divide by n - correction (1 unless unbiased=False). Made of
        ops."""
        centred = self - self.mean(dim, keepdim=True)
        squares = (centred * centred).sum(dim, keepdim)
        count = self._data.size // max(squares._data.size, 1)
        if correction is None:
            correction = int(unbiased)
        return squares / np.maximum(count - correction, 0)

    def max(self, dim=None, keepdim=False):
        """The largest value; with `dim`, (values, indices) along that dim, as in PyTorch."""
        return _extreme(self, "max", dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """The smallest value; with `dim`, (values, indices) along that dim, as in PyTorch."""
        return _extreme(self, "min", dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        """The largest values over one dim or several (all by default); ties share the gradient."""
        return _extreme_over(self, "amax", dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return _extreme_over(self, "amin", dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _arg(self, "argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _arg(self, "argmin", dim, keepdim)

    # -- Shape: reshape and permute have rules; the other shape ops are made of them --------------
    def reshape(self, *shape):
        before = self.shape
        # the same numbers in a new shape: the gradient takes the old shape back
        return record("reshape", self._data.reshape(_shape_args(shape)),
                      (self, lambda g: g.reshape(before)))

    def permute(self, *dims):
        dims = tuple(_dim(d, self.ndim, "permute")
                     for d in _shape_args(dims))
        if sorted(dims) != list(range(self.ndim)):
            raise RuntimeError(f"permute: dims {dims} are not an order of the tensor's "
                               f"{self.ndim} dims")
        # reordering the axes is undone by the inverse order
        return record("permute", self._data.transpose(dims),
                      (self, lambda g: g.transpose(np.argsort(dims))))

    def view(self, *shape):
        """reshape, for a tensor whose elements are in order (as PyTorch's view, which shares
        memory)."""
        if not self._data.flags.c_contiguous:
            raise RuntimeError("view size is not compatible with input tensor's size and stride: "
                               "this tensor was permuted or transposed; use .reshape(...) instead")
        return self.reshape(*shape)

    def contiguous(self):
        """A tensor whose elements are in order (as PyTorch's: itself if they are)."""
        if self._data.flags.c_contiguous:
            return self
        # the same values, copied in order: the gradient passes on
        return record("contiguous", np.ascontiguousarray(self._data),
                      (self, lambda g: g))

    def flatten(self, start_dim=0, end_dim=-1):
        start = _dim(start_dim, self.ndim, "flatten")
        end = _dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if self.ndim == 0:
            return self.reshape(1)
        shape = self.shape
        size = math.prod(shape[start:end + 1])
        return self.reshape(shape[:start] + (size,)
                            + shape[end + 1:])

    def unsqueeze(self, dim):
        dim = _dim(dim, self.ndim, "unsqueeze", new=1)
        shape = self.shape
        return self.reshape(shape[:dim] + (1,)
                            + shape[dim:])

    def squeeze(self, dim=None):
        dims = range(self.ndim)
        if dim is not None:
            dims = [_dim(d, self.ndim, "squeeze")
                    for d in np.atleast_1d(dim)]
        kept = [n for i, n in enumerate(self.shape)
                if n != 1 or i not in dims]
        return self.reshape(kept)

    def transpose(self, dim0, dim1):
        dims = list(range(self.ndim))
        dim0 = _dim(dim0, self.ndim, "transpose")
        dim1 = _dim(dim1, self.ndim, "transpose")
        if dim0 == dim1:                        # (and a 0-d tensor's dims 0 and -1)
            return self
        dims[dim0], dims[dim1] = dim1, dim0     # the two dims trade places
        return self.permute(dims)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D: use .T or .transpose(0, 1)")
        return self.T

    @property
    def T(self):
        return self.permute(tuple(reversed(range(self.ndim))))

    def expand(self, *sizes):
        """A view with size-1 dims stretched (-1: keep the size), as PyTorch's. Its gradient sums
        over what was stretched, as for broadcasting (made of ops: no rule)."""
        sizes = _shape_args(sizes)
        new = len(sizes) - self.ndim
        sizes = [n if n != -1 else self.shape[i - new]
                 for i, n in enumerate(sizes)]
        return self + np.zeros(sizes, self.dtype)   # (x + zeros: the broadcast, and its rule)

    def repeat(self, *repeats):
        """The tensor tiled: repeat(2, 3) is 2 copies along dim 0, 3 along dim 1 (numpy's tile)."""
        repeats = _shape_args(repeats)
        if len(repeats) < self.ndim:
            raise RuntimeError("repeat: Number of dimensions of repeat dims can not be smaller "
                               f"than number of dimensions of tensor ({len(repeats)} < "
                               f"{self.ndim})")
        shape = (1,) * (len(repeats) - self.ndim) + self.shape
        # made of ops: a size-1 dim before each dim, stretched to its count of copies, then merged
        # (so the copies' gradients are summed back by the stretch's rule)
        spaced = self.reshape([n for size in shape
                               for n in (1, size)])
        tiled = spaced.expand([n for pair in zip(repeats, shape)
                               for n in pair])
        return tiled.reshape([r * n for r, n
                              in zip(repeats, shape)])

    def __getitem__(self, index):
        index, shape, dtype = _plain_index(index), self.shape, self.dtype

        def to_input(g):   # scatter back: np.add.at adds up repeated indices (not keeping the last)
            grad = np.zeros(shape, dtype)
            np.add.at(grad, index, g)
            return grad
        return record("index", self._data[index],
                      (self, to_input))

    # -- Matrix products ---------------------------------------------------------------------------
    matmul = __matmul__

    # -- dtype and device: a cast changes no value, so its gradient passes on (cast back) ----------
    def to(self, dtype):
        """A tensor of that dtype: this one if it has it already (as in PyTorch), else a cast.
        A device ('cpu') is accepted: mytorch has only the CPU."""
        if isinstance(dtype, str):
            return _cpu_only(self, dtype)
        if self.dtype == dtype:
            return self
        # d(cast a)/da = 1; a cast to integers leaves the graph (no gradient flows through it)
        edges = []
        if np.dtype(dtype).kind == "f":
            edges = [(self, lambda g: g)]
        return record("to", self._data.astype(dtype), *edges)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        return _cpu_only(self, "cuda")

    def clone(self):
        # d(copy of a)/da = 1
        return record("clone", self._data.copy(),
                      (self, lambda g: g))

    # -- The array and its properties, as in PyTorch ---------------------------------------------
    # mytorch never writes into an array once a Tensor holds it: an update (x += 1, t[0] = 5, an
    # optimizer step, load_state_dict) gives the Tensor a new array. So the arrays that a recorded
    # op kept for its rule still hold the values its forward used. (PyTorch writes in place and
    # checks a version counter instead.)
    @property
    def data(self):
        """As PyTorch's: the same numbers as a tensor cut from the graph. An in-place change of it
        (p.data.zero_(), p.data[0] = 5) changes this tensor too. For the numpy array: .numpy()."""
        return self.detach()

    @data.setter
    def data(self, value):       # p.data = p.data - lr * p.grad: takes the new values
        self._data = np.asarray(value)

    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def is_leaf(self):
        return not self._op

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self.shape[_dim(dim, self.ndim, "size")]

    def numel(self):
        return self._data.size

    def dim(self):
        return self.ndim

    def numpy(self):
        """The numpy array itself (no copy), as PyTorch's t.numpy(); for a tensor that requires
        grad, t.detach().numpy(). mytorch gives a tensor a new array when it changes (x += 1), so an
        array taken before keeps its old values (in PyTorch both share memory and see the
        change)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def detach(self):
        """The same numbers, cut from the graph. An in-place change of the result (d.zero_())
        changes this tensor too, as in PyTorch; a change of this tensor is not seen by the result
        (mytorch gives the changed tensor a new array)."""
        out = _wrap(self._data)
        out._base = self if self._base is None else self._base
        return out

    def item(self, error=RuntimeError):     # (float(t), int(t): a ValueError, as PyTorch's)
        if self._data.size != 1:
            raise error(f"item: a Tensor with {self._data.size} elements cannot be converted "
                        "to Scalar: only one element tensors can be converted to Python scalars")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    # -- The graph: which tensors keep a gradient --------------------------------------------------
    def retain_grad(self):
        """Keep this computed tensor's gradient in .grad at the next backward (a leaf keeps it)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self.retains_grad = not self.is_leaf

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only a leaf's flag can change (for a computed "
                               "tensor, use x.detach())")
        if requires_grad and self.dtype.kind != "f":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               f"gradients (not {self.dtype}: make it with dtype=mytorch.float32)")
        self.requires_grad = bool(requires_grad)
        return self

    # -- In-place updates: the same Tensor object gets new values, in a new array (see data) -------
    def _inplace(self, op, numpy_op, other):
        """x += y and the like: x (op) y becomes x's values."""
        a, b, other = _promote(self, other, op)
        _check_in_place(self, other, op)
        out = numpy_op(a, b)
        if out.shape != self.shape:
            raise RuntimeError(f"{op}: an in-place op must keep the shape {self.shape}, not "
                               f"{out.shape}")
        if _KIND_RANK[out.dtype.kind] \
                > _KIND_RANK[self.dtype.kind]:
            raise RuntimeError(f"{op}: result type {out.dtype} can't be cast to the desired output "
                               f"type {self.dtype} (as in PyTorch: make a new tensor, "
                               f"x = x {op[0]} y)")
        self._set(out.astype(self.dtype, copy=False))
        return self

    def _assign(self, index, value, op):
        """t[index] = value (and zero_, copy_): the value cast to t's dtype, as PyTorch does."""
        value = _operand(self, value, op)
        _check_in_place(self, value, op)
        # a new array in the same memory order (as PyTorch's copy_), holding the old values where
        # the index does not reach; a write to all of it (copy_, zero_) needs none of them
        data = np.empty_like(self._data) if index is ... else np.copy(self._data)
        try:
            data[index] = value._data
        except ValueError:
            raise ShapeError(f"{op}: a value of shape {value.shape} does not fit the shape "
                             f"{data[index].shape} it is assigned to") from None
        self._set(data)
        return self

    def _set(self, data):
        self._data = data
        if self._base is not None:          # .data or detach() of another tensor: it changes too
            self._base._data = data

    def __iadd__(self, other):
        return self._inplace("+=", np.add, other)

    def __isub__(self, other):
        return self._inplace("-=", np.subtract, other)

    def __imul__(self, other):
        return self._inplace("*=", np.multiply, other)

    def __itruediv__(self, other):
        return self._inplace("/=", np.divide, other)

    def mul_(self, other):
        return self._inplace("mul_", np.multiply, other)

    def copy_(self, source):
        return self._assign(..., source, "copy_")

    def zero_(self):
        return self._assign(..., 0, "zero_")

    def __setitem__(self, index, value):
        """t[mask] = 0, t[0, 1] = 5: an in-place update like those above."""
        self._assign(_plain_index(index), value, "t[i] =")

    # -- Comparisons and logic give boolean tensors, with no graph (masks) -------------------------
    def _compare(self, numpy_op, other, op):
        a, b, _ = _promote(self, other, op)
        return _wrap(numpy_op(a, b))

    def __eq__(self, other):
        return self._compare(np.equal, other, "==")

    def __ne__(self, other):
        return self._compare(np.not_equal, other, "!=")

    def __lt__(self, other):
        return self._compare(np.less, other, "<")

    def __le__(self, other):
        return self._compare(np.less_equal, other, "<=")

    def __gt__(self, other):
        return self._compare(np.greater, other, ">")

    def __ge__(self, other):
        return self._compare(np.greater_equal, other, ">=")

    def __and__(self, other):
        return self._compare(np.bitwise_and, other, "&")

    def __or__(self, other):
        return self._compare(np.bitwise_or, other, "|")

    def __invert__(self):
        return _wrap(np.invert(self._data))

    # -- Python's and numpy's protocols ----------------------------------------------------------
    def __float__(self):
        return float(self.item(ValueError))

    def __int__(self):
        return int(self.item(ValueError))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.item())

    def __format__(self, spec):          # f"{loss:.4f}" and f"{loss}": the number, as PyTorch's
        if self.ndim == 0:
            return format(self._data.item(), spec)
        return format(str(self), spec)

    def __len__(self):
        return len(self._data)          # (a 0-d tensor: numpy's TypeError, as PyTorch raises one)

    def __iter__(self):                 # the rows, as in PyTorch
        return (self[i] for i in range(len(self)))

    def __array__(self, dtype=None, copy=None):        # np.asarray(t), np.mean([loss, ...])
        if copy:                                        # (numpy 2 asks for a copy so)
            return np.array(self._data, dtype)
        return np.asarray(self._data, dtype)

    # array + tensor: numpy leaves the op to the tensor (its __radd__), and numpy's functions do not
    # take tensors: np.exp(t) is an error (use t.exp(), or np.exp(t.numpy()))
    __array_ufunc__ = None

    def __repr__(self):
        body = np.array2string(self._data, separator=", ",
                               prefix="tensor(")
        extras = ""
        if self.dtype != np.float32:
            extras = f", dtype={self.dtype}"
        if self._op:
            extras += f", grad_fn=<{self._op}>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    def __getattr__(self, name):         # only for names Tensor does not have
        if name.startswith("__"):
            raise AttributeError(name)
        raise _missing("Tensor", name)


# ==================================================================================================
# Part 3. What the ops use: type promotion, dims and shapes, and numpy's details
# ==================================================================================================
class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an op: a RuntimeError, as PyTorch raises, and a ValueError, as
    numpy's."""


# What x.max(dim) and x.min(dim) give, as in PyTorch: unpacks as (values, indices), or use .values
MinMax = namedtuple("MinMax", "values indices")

_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}       # bool < integers < floats
_DEFAULT_DTYPE = {"f": np.float32, "i": np.int64}    # what Python's floats and ints become
_EXTREMES = {"max": np.max, "amax": np.max,
             "argmax": np.argmax,
             "min": np.min, "amin": np.min,
             "argmin": np.argmin}


def _wrap(data):
    """A Tensor around `data` as it is, with no graph. (Tensor(...) copies its data into float32, as
    torch.Tensor does, so an op's output is made without calling it.)"""
    out = Tensor.__new__(Tensor)
    out._data = data if type(data) is np.ndarray else np.asarray(data)
    return out


def _float32_array(data):
    """torch.Tensor(...)'s data: whole numbers alone are sizes (Tensor(2, 3) is 2×3 zeros, where
    PyTorch leaves the memory unset; Tensor() is empty); anything else is one piece of data."""
    if all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
           for n in data):
        return np.zeros(data or 0, np.float32)
    if len(data) != 1:
        raise TypeError(f"Tensor: give one sequence of data or whole-number sizes, got {data!r}")
    return np.array(data[0], np.float32)


def _promote(x, other, op):
    """The two operands of a binary op as arrays of one dtype, the one PyTorch's type promotion
    gives, and `other` as a Tensor. Shapes that do not fit the op get an error that names it."""
    other = _operand(x, other, op)
    a, b = x._data, other._data
    if op in ("sub", "-=", "matmul") and bool in (a.dtype, b.dtype) \
            or op == "floor_divide" and a.dtype == b.dtype == bool:
        raise NotImplementedError(f"{op}: not for bool tensors, as in PyTorch (for a mask, ~mask; "
                                  "for numbers, .float())")
    if a.dtype != b.dtype or op == "div" and a.dtype.kind != "f":
        dtype = _result_dtype(a, b, op)
        a = a.astype(dtype, copy=False)
        b = b.astype(dtype, copy=False)
    if a.shape != b.shape or op == "matmul":
        _check_shapes(a, b, op)
    return a, b, other


def _operand(x, other, op):
    """The other side of a binary op with x, as a Tensor. A Python (or numpy) number takes the dtype
    the result will have: x's, unless the number is of a higher kind (bool < integer < float): int
    tensor + 0.5 is float32, float64 tensor * 2 stays float64; in a true division it is a float."""
    if isinstance(other, Tensor):
        return other
    if isinstance(other, np.ndarray):
        return _wrap(other)                 # used as it is (not copied), as from_numpy does
    if not isinstance(other, (int, float, np.number, np.bool_)):
        kind = f"{type(other).__module__}.{type(other).__qualname__}".replace("builtins.", "")
        raise TypeError(f"{op}: expected a Tensor, number or numpy array, got a {kind}: "
                        "convert it with mytorch.tensor(...) (a torch.Tensor: "
                        "mytorch.tensor(t.numpy()))")
    number, dtype = np.asarray(other), x.dtype
    if number.dtype == bool:        # a bool stays one (the ops that refuse bools see it)
        return _wrap(number)
    if _KIND_RANK[number.dtype.kind] > _KIND_RANK[dtype.kind]:
        dtype = _DEFAULT_DTYPE.get(number.dtype.kind, number.dtype)
    if op == "div" and np.dtype(dtype).kind != "f":
        dtype = np.float32
    cast = number.astype(dtype)
    if op == "pow" and cast.dtype.kind != "f" and cast != number:
        raise RuntimeError(f"pow: {other} does not fit the tensor's {dtype}: PyTorch refuses it "
                           "too (an integer to a negative power, say): use floats, x.float()")
    return _wrap(cast)


def _result_dtype(a, b, op):
    """PyTorch's type promotion of two arrays. The higher kind wins (bool < integer < float): int32
    with float64 gives float64, int64 with float32 gives float32. Within a kind, an array with dims
    wins over a 0-d one (float32 with a 0-d float64 gives float32); else the larger type (float32
    with float64: float64; uint8 with int8: int16). A true division of integers gives float32."""
    if op == "matmul" and a.dtype != b.dtype:
        raise RuntimeError(f"matmul: the inputs are {a.dtype} and {b.dtype}; PyTorch asks for "
                           "one dtype: .float() or .double() one of them")
    rank_a = (_KIND_RANK[a.dtype.kind], a.ndim > 0)
    rank_b = (_KIND_RANK[b.dtype.kind], b.ndim > 0)
    if rank_a == rank_b:
        dtype = np.promote_types(a.dtype, b.dtype)
    elif rank_a > rank_b:
        dtype = a.dtype
    else:
        dtype = b.dtype
    if op == "div" and dtype.kind != "f":
        return np.dtype(np.float32)
    return dtype


def _check_shapes(a, b, op):
    """An error that names the op and both shapes, where they do not fit it."""
    if op == "matmul":     # a's last size and b's next-to-last (b 1-D: its only one) meet
        if a.shape[-1:] != b.shape[-2:][:1] or not a.ndim:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not fit (inner sizes must "
                             "match; both need at least one dim)")
        return
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"{op}: shapes {a.shape} and {b.shape} do not fit (they cannot be "
                         "broadcast together)") from None


def _as_float(a):
    """What exp, log, tanh, sigmoid and sqrt compute in: integers as float32, as in PyTorch (numpy
    would give float16 for uint8, float64 for int64)."""
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def _checked(x, op, kinds="uif"):
    """x's array, or an error for an op that takes no bool tensors (kinds "f": floats only): a
    NotImplementedError, as PyTorch's relu and abs raise; its mean raises a RuntimeError, which
    NotImplementedError is a kind of."""
    if x.dtype.kind not in kinds:
        raise NotImplementedError(f"{op}: not for {x.dtype} tensors, as in PyTorch: use .float()")
    return x._data


def _sum_dtype(a):
    """Sums of integers and bools are int64, as in PyTorch (numpy's sum of uint8 is uint64)."""
    return np.int64 if a.dtype.kind in "biu" else None


def _dim(dim, ndim, op, new=0):
    """`dim` as an axis counted from 0, or PyTorch's IndexError if a tensor with `ndim` dims (and
    `new` axes to be added, as by unsqueeze) has no such dim."""
    top = max(ndim + new, 1)    # a 0-d tensor takes dim 0 and -1, as in PyTorch
    if not isinstance(dim, (int, np.integer)) \
            or not -top <= dim < top:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-top}, "
                         f"{top - 1}], but got {dim}): the tensor has {ndim} dims")
    return int(dim) % top


def _dims(x, dim, op):
    """A reduction's dims as numpy's axis: None for all (dim None, or () or [] as in PyTorch), one
    dim, or a tuple of dims."""
    if dim is None:
        return None
    if not isinstance(dim, (tuple, list)):
        dim = (dim,)
    dims = tuple(_dim(d, x.ndim, op) for d in dim)
    return dims if dims and x.ndim else None    # (a 0-d tensor: its one element)


def _spread(grad, shape, dims, keepdim):
    """Undo a reduction for its gradient: put back the reduced axes, and stretch it to `shape`."""
    if dims is not None and not keepdim:
        grad = np.expand_dims(grad, dims)
    return np.broadcast_to(grad, shape).copy()     # (a copy: broadcast_to gives a read-only view)


def _unbroadcast(grad, shape, op):
    """grad summed back to `shape` over the axes that broadcasting added or stretched. A shape that
    no broadcast explains is the error of the rule that gave it."""
    if grad.ndim > len(shape):                  # axes the input did not have at all
        grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape)
                      if n == 1 and grad.shape[i:i + 1] != (1,))
    if stretched and grad.ndim == len(shape):   # axes where the input had size 1
        grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        raise ShapeError(f"backward: the rule of '{op}' gave a gradient of shape {grad.shape} for "
                         f"an input of shape {shape}")
    return grad


def _rule_output(grad, op):
    """A rule's result as an array: numpy's scalars will do; a Tensor or a tuple will not."""
    if not isinstance(grad, (np.generic, float, int)):
        raise TypeError(f"backward: the rule of '{op}' gave a {type(grad).__name__}; a rule takes "
                        "the gradient (a numpy array) and returns one: compute it with numpy on "
                        "arrays (x.detach().numpy()), not with Tensor ops")
    return np.asarray(grad)


def _read_only(grad):
    """The gradient an op's rules receive, made read-only: a rule that changed it in place (g *= 2)
    would change what the node's other inputs receive too; numpy now stops it with an error."""
    grad = np.asarray(grad)             # (numpy's 0-d sums are scalars, which have no flags)
    grad.setflags(write=False)
    return grad


def _shape_args(shape):
    """reshape(2, 3) and reshape((2, 3)) alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


def _matmul_grad(g, a, b, to_a):
    """dA = G·Bᵀ (to_a) or dB = Aᵀ·G. matmul read a 1-D A as a row, a 1-D B as a column: G
    gets
    back the axes it lost, and the gradient drops the one its input lacked."""
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


def _clamp_side(x, bound, beyond):
    """One side of clamp: x where beyond(x, bound) (x > min, or x < max) or x is NaN, else the
    bound. As PyTorch: a number bound passes the gradient to x only strictly inside; a tensor bound
    is an element-wise max (min) of the two, which share the gradient at a tie."""
    tie = 0.5 if isinstance(bound, Tensor) else 0
    a, b, bound = _promote(x, bound, "clamp")
    out = np.where(beyond(a, b) | np.isnan(a), a, b)
    # d/dx = 1 where x is kept, d/d(bound) = 1 where the bound is taken; half each at a tie
    return record("clamp", out,
                  (x, lambda g: _share(g, beyond(a, b),
                                       tie * (a == b))),
                  (bound, lambda g: _share(g, beyond(b, a),
                                           tie * (a == b))))


def _share(g, whole, part):
    """g where `whole`, g·part elsewhere, and 0 where neither (even for a NaN g: as PyTorch, which
    selects the gradient rather than multiplying it by 0)."""
    return np.where(whole, g, np.where(part != 0, g * part, 0))


def _extreme(x, op, dim, keepdim):
    """max and min: over everything (as amax, amin), or along one dim as (values, indices)."""
    if dim is None:
        return _extreme_over(x, op, None, False)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim is one dim, not {dim!r} ({op} of two tensors: "
                        f"mytorch.where(a > b, a, b); over several dims: a{op}(dims))")
    if x.ndim == 0:                     # dim 0 of a 0-d tensor: itself, at index 0
        x, keepdim = x.reshape(1), False
    dim = _dim(dim, x.ndim, op)
    indices = _EXTREMES["arg" + op](x._data, axis=dim,
                                    keepdims=True)
    where = list(np.indices(indices.shape, sparse=True))
    where[dim] = indices                # the extreme's index along dim, every other index as it is
    values = x[tuple(where)]            # (indexing's rule sends each value's gradient back there)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return MinMax(values, _wrap(indices))


def _extreme_over(x, op, dim, keepdim):
    """amax and amin (and max, min over everything): ties share the gradient evenly, as in PyTorch;
    a NaN is the extreme, and NaNs share it."""
    dims, shape = _dims(x, dim, op), x.shape
    a = x._data
    top = _EXTREMES[op](a, axis=dims, keepdims=True)
    hits = np.where(np.isnan(top), np.isnan(a),
                    a == top)
    share = hits / hits.sum(axis=dims, keepdims=True)
    out = top if keepdim else np.squeeze(top, axis=dims)
    return record(op, out,
                  (x, lambda g: _share(_spread(g, shape, dims, keepdim),
                                       False, share)))


def _arg(x, op, dim, keepdim):
    """argmax and argmin: indices, no graph."""
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__} (a{op[3:]} "
                        "takes several dims)")
    a = _checked(x, op)
    axis = None if dim is None else _dim(dim, x.ndim, op)
    if x.ndim == 0:                     # a 0-d tensor's only element: index 0
        return _wrap(np.array(0))
    return _wrap(_EXTREMES[op](a, axis=axis, keepdims=keepdim))


def _plain_index(index):
    """An index as numpy takes it: Tensors in it (like max's indices) give their integers."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, slice) and index.step is not None \
            and index.step < 0:
        raise ValueError("index: step must be greater than zero (PyTorch has no negative steps): "
                         "x[mytorch.arange(n - 1, -1, -1)] reverses")
    if not isinstance(index, Tensor):
        return index
    if index.dtype.kind == "f":
        raise IndexError("index: this Tensor holds floats; index with integers or booleans "
                         "(t.long())")
    return index._data


def _check_in_place(x, other, op):
    """An in-place op may not change a tensor of a recorded graph: mytorch records no in-place
    op."""
    if _grad_mode.enabled and (x.requires_grad or other.requires_grad):
        raise RuntimeError(f"{op}: mytorch records no in-place op in a graph (here: a leaf "
                           "Variable that requires grad is being used in an in-place operation, "
                           "or a tensor of a recorded graph). Make a new tensor (y = x + 1, not "
                           "x += 1), or change x under `with mytorch.no_grad():`")


def _cpu_only(thing, device):
    if str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"mytorch runs on the CPU only: there is no device {device!r}; leave "
                           "out .to(device) and .cuda()")
    return thing


# ==================================================================================================
# Part 4. Grad mode (whether ops record a graph) and randomness
# ==================================================================================================
class _GradMode(threading.local):
    enabled = True          # one switch per thread, as in PyTorch


_grad_mode = _GradMode()


class no_grad:
    """`with mytorch.no_grad():` computes without recording a graph; `@mytorch.no_grad()` above a
    function does so whenever it runs. The mode before comes back afterwards."""
    mode = False

    def __init__(self, func=None):
        if func is not None:            # @no_grad without (): PyTorch takes it, mytorch says so
            raise TypeError("no_grad: write the decorator with parentheses, "
                            "@mytorch.no_grad() (PyTorch also takes it without)")

    def __enter__(self):
        self.previous = _grad_mode.enabled
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc_info):
        _grad_mode.enabled = self.previous

    def __call__(self, func):
        @functools.wraps(func)
        def with_mode(*args, **kwargs):
            with type(self)():          # a fresh one: the decorated function may recurse
                return func(*args, **kwargs)
        return with_mode


class enable_grad(no_grad):
    """Records the graph again (inside no_grad, say): a context manager or a decorator."""
    mode = True


def is_grad_enabled():
    return _grad_mode.enabled


_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator behind parameter initialisation, randn, rand, randint, multinomial,
    Dropout."""
    global _rng
    _rng = np.random.default_rng(seed)


# ==================================================================================================
# Part 5. Creating tensors, and ops on several tensors
# ==================================================================================================
# dtypes, for dtype=... (mytorch.bool, .float and .int are in __getattr__: Python's names inside)
float16 = np.float16
float32 = np.float32
float64 = double = np.float64
uint8 = np.uint8
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = long = np.int64


def tensor(data, dtype=None, requires_grad=False):
    """As torch.tensor: a copy of `data`. An array keeps its dtype (float64 stays float64); Python
    floats become float32, ints int64, bools bool."""
    return _leaf(_array(data, dtype), requires_grad)


def _array(data, dtype=None):
    """torch.tensor's dtype rule, as a numpy array of our own."""
    array = np.array(data, dtype)
    if dtype is None and not _holds_numpy(data):    # Python numbers only: float32 (not float64)
        dtype = _DEFAULT_DTYPE.get(array.dtype.kind, array.dtype)
        array = array.astype(dtype, copy=False)
    return array


def _as_tensor(data):
    """A Tensor as it is (its graph kept); anything else as mytorch.tensor(data)."""
    if isinstance(data, Tensor):
        return data
    return tensor(data)


def _holds_numpy(data):
    """Arrays, numpy numbers and Tensors keep their dtype, also inside lists."""
    if isinstance(data, (list, tuple)):
        return any(_holds_numpy(item) for item in data)
    return isinstance(data, (np.ndarray, np.generic, Tensor))


def _leaf(array, requires_grad=False):
    """A new leaf on a fresh array (no copy)."""
    return _wrap(array).requires_grad_(requires_grad)


def from_numpy(array):
    """A Tensor on the same memory as `array` (no copy; its dtype kept), as torch.from_numpy. Unlike
    PyTorch, a later change of the tensor (x += 1) gives it a new array: `array` keeps the old
    values, and a change made to `array` by numpy is seen by the tensor only until then."""
    return _wrap(np.asarray(array))


# dtype float32 unless said, as in PyTorch; the random ones follow manual_seed
def zeros(*size, dtype=float32, requires_grad=False):
    return _leaf(np.zeros(_shape_args(size), dtype), requires_grad)


def ones(*size, dtype=float32, requires_grad=False):
    return _leaf(np.ones(_shape_args(size), dtype), requires_grad)


def zeros_like(input, dtype=None, requires_grad=False):
    return _leaf(np.zeros_like(input._data, dtype), requires_grad)


def ones_like(input, dtype=None, requires_grad=False):
    return _leaf(np.ones_like(input._data, dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None,
           requires_grad=False):
    """arange(5), arange(1, 5, 0.5): int64 for whole numbers, else float32."""
    if end is None:
        start, end = 0, start
    dtype = dtype or _array([start, end, step]).dtype
    return _leaf(np.arange(start, end, step, dtype), requires_grad)


def randn(*size, dtype=float32, requires_grad=False):
    """Standard normal numbers."""
    array = _rng.standard_normal(_shape_args(size))
    return _leaf(array.astype(dtype), requires_grad)


def rand(*size, dtype=float32, requires_grad=False):
    """Uniform numbers in [0, 1)."""
    array = _rng.random(_shape_args(size))
    return _leaf(array.astype(dtype), requires_grad)


def randint(low, high=None, size=None, dtype=int64):
    """randint(high, size) or randint(low, high, size): whole numbers in [low, high)."""
    if size is None:
        low, high, size = 0, low, high
    return _leaf(_rng.integers(low, high, size, dtype=dtype))


def multinomial(input, num_samples, replacement=False):
    """For each row of weights (non-negative, any sum), num_samples indices drawn with probabilities
    in proportion to them, as torch.multinomial."""
    weights = input._data
    if num_samples > weights.shape[-1] and not replacement:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement (as PyTorch says)")
    p = weights / weights.sum(axis=-1, keepdims=True)
    rows = p.reshape(-1, p.shape[-1])
    drawn = [_rng.choice(len(row), num_samples, replacement, row)
             for row in rows]
    shape = p.shape[:-1] + (num_samples,)
    return _wrap(np.array(drawn, np.int64).reshape(shape))


def where(condition, input, other):
    """input where condition holds, else other (numbers or tensors, broadcast together, in the dtype
    PyTorch's promotion gives)."""
    condition = np.asarray(condition, dtype=bool)
    input = _as_tensor(input)
    a, b, other = _promote(input, other, "where")
    try:
        out = np.where(condition, a, b)
    except ValueError:
        raise ShapeError(f"where: condition {condition.shape}, input {a.shape} and other {b.shape} "
                         "cannot be broadcast together") from None
    # d/d input = 1 where the condition holds, d/d other = 1 elsewhere
    return record("where", out,
                  (input, lambda g: np.where(condition, g, 0)),
                  (other, lambda g: np.where(condition, 0, g)))


def cat(tensors, dim=0):
    """Join tensors along an existing dim, in the dtype PyTorch's promotion gives. 1-D empty tensors
    are left out, as PyTorch does (so `out = mytorch.tensor([])`, then `out = cat([out, rows])`)."""
    tensors = [_as_tensor(t) for t in tensors]
    first = next((t for t in tensors if t.shape != (0,)),
                 tensors[0])
    dim = _dim(dim, first.ndim, "cat")
    # a 1-D empty tensor joins as an empty slice of the others' shape (PyTorch skips it)
    empty = first.shape[:dim] + (0,) + first.shape[dim + 1:]
    tensors = [t.reshape(empty) if t.shape == (0,) else t
               for t in tensors]
    # PyTorch's promotion: the highest kind wins, then the larger type of that kind
    kinds = [_KIND_RANK[t.dtype.kind] for t in tensors]
    dtype = np.result_type(*[t.dtype for t, kind in zip(tensors, kinds)
                             if kind == max(kinds)])
    try:
        out = np.concatenate([t._data for t in tensors],
                             axis=dim, dtype=dtype)
    except ValueError:
        raise ShapeError(f"cat: shapes {[t.shape for t in tensors]} do not fit along dim "
                         f"{dim}") from None
    edges, stop = [], 0
    for t in tensors:           # each input gets back its own slice of the gradient
        start, stop = stop, stop + t.shape[dim]
        part = (slice(None),) * dim + (slice(start, stop),)
        edges.append((t,
                      lambda g, part=part: g[part]))
    return record("cat", out, *edges)


def stack(tensors, dim=0):
    """Join tensors along a new dim: each gets a dim of size 1 there, then cat."""
    tensors = [_as_tensor(t) for t in tensors]
    return cat([t.unsqueeze(dim) for t in tensors], dim)


# ==================================================================================================
# Part 6. nn.functional, then nn: layers and losses, made of the ops above
# ==================================================================================================
# nn.functional's sigmoid, tanh, softmax and log_softmax are the Tensor methods: F.softmax(x, 1) is
# x.softmax(1). relu, with inplace=True, gives PyTorch's result, computed out of place (see ReLU).
def relu(input, inplace=False):
    return input.relu()


def linear(input, weight, bias=None):
    """y = x·Wᵀ + b as one op (PyTorch's F.linear): one node and one rule instead of three."""
    x = _operand(weight, input, "linear")
    a, w = x._data, weight._data
    if not a.ndim or a.shape[-1:] != w.shape[1:]:
        raise ShapeError(f"linear: input of shape {a.shape} does not fit a weight of shape "
                         f"{w.shape} (its in_features)")
    if a.dtype != w.dtype \
            or bias is not None and bias.dtype != w.dtype:
        raise RuntimeError(f"linear: the input is {a.dtype}, the weight {w.dtype}, the bias "
                           f"{getattr(bias, 'dtype', None)}: PyTorch asks for one dtype (.float())")
    out = a @ w.T
    n = math.prod(a.shape[:-1])             # rows in the batch (sizes 0 too: no -1 to infer)
    rows = a.reshape(n, a.shape[-1])        # (one batch axis for all: a view)
    # dW = Gᵀ·x and db = G, each summed over the batch;  dx = G·W  (x last: the walk goes
    # down into x once this node is done, so it need not keep G meanwhile)
    edges = [(weight, lambda g: g.reshape(n, len(w)).T @ rows),
             (x, lambda g: g @ w)]
    if bias is not None:
        out += bias._data                   # into the fresh product: no extra array
        edges.insert(1, (bias,
                         lambda g: g.reshape(n, len(w)).sum(0)))
    return record("linear", out, *edges)


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: in training, zero each element with probability p and scale the rest by
    1/(1-p), so the expected value stays; otherwise the input itself. inplace as in relu."""
    if not training or _probability(p) == 0:
        return input
    keep = _rng.random(input.shape) >= p
    if p < 1:
        keep = keep / (1 - p)
    return input * keep.astype(input.dtype)


def _probability(p):
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return p


def mse_loss(input, target, *, reduction="mean"):
    """(input - target)², averaged (or summed, or each); reduction keyword-only, as in MSELoss."""
    target = _operand(input, target, "mse_loss")
    if input.shape != target.shape:
        warnings.warn(f"MSELoss: target shape {target.shape} differs from input shape "
                      f"{input.shape}; they will be broadcast together, rarely what you meant "
                      "(PyTorch warns too)",
                      stacklevel=2)
    # one dtype for both, promoted as if both had dims (PyTorch broadcasts them first): floats
    dtype = _result_dtype(np.atleast_1d(input._data),
                          np.atleast_1d(target._data), "mse_loss")
    if dtype.kind != "f":
        raise NotImplementedError(f"mse_loss: not for {dtype} tensors, as in PyTorch: use "
                                  ".float()")
    squares = (input.to(dtype) - target.to(dtype)) ** 2
    return _reduce(squares, reduction)


def _reduce(loss, reduction):
    """The losses' mean, their sum, or each of them ('none')."""
    _check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(reduction):
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use 'mean', 'sum' or "
                         "'none' (as in PyTorch)")


def cross_entropy(input, target, weight=None, *, ignore_index=-100,
                  reduction="mean"):
    """-log softmax(logits)[true class], as PyTorch's. Targets are class indices (N,) (labels equal
    to ignore_index left out) or probabilities (N, C), such as one-hot rows. Unbatched logits (C,)
    take one label. With a `weight` per class, row i counts w[y_i] times: the mean is Σ
    w[y_i]·loss_i / Σ w[y_i] (for probabilities, loss_i = -Σ_c w_c·p_ic·log q_ic and the mean
    divides by N, as PyTorch). The weight is a constant: no gradient flows to it."""
    target = _as_tensor(target)
    if input.dtype.kind != "f":
        raise RuntimeError(f"cross_entropy: the input (the first argument) holds {input.dtype} "
                           f"values, shape {input.shape}, and the target has shape "
                           f"{target.shape}: the input looks like the labels. Call "
                           "loss_fn(logits, labels), logits first")
    if input.ndim == 1:                 # unbatched: a batch of one
        loss = cross_entropy(input.unsqueeze(0),
                             target.unsqueeze(0), weight,
                             ignore_index=ignore_index, reduction=reduction)
        return loss.reshape(()) if reduction == "none" else loss
    if weight is not None and (weight.shape != input.shape[1:]
                               or weight.dtype != input.dtype):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all "
                           f"{input.shape[-1]} classes or no classes, in the logits' dtype "
                           f"{input.dtype}: got {weight.dtype} {weight.shape}")
    _check_reduction(reduction)
    if target.shape == input.shape:     # probabilities: made of ops
        if target.dtype.kind != "f":
            raise RuntimeError("cross_entropy: Expected floating point type for target with class "
                               f"probabilities, got {target.dtype} (as PyTorch says)")
        if weight is not None:
            target = target * weight
        losses = -(input.log_softmax(1) * target).sum(1)
        return _reduce(losses, reduction)
    kept, classes = _labels(target, input, ignore_index)
    return _class_loss(input, kept, classes, weight, reduction)


def _labels(target, logits, ignore_index):
    """Which rows count (their label is not ignore_index), and each row's class, or PyTorch's
    errors."""
    labels = target._data
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ShapeError(f"cross_entropy: for logits of shape {logits.shape}, the target is class "
                         f"labels (N,) or probabilities (N, C), not {labels.shape}")
    if labels.dtype not in (np.int64, np.uint8):
        raise RuntimeError("cross_entropy: class labels must be integers (int64), not "
                           f"{labels.dtype}: use labels.long(); for probabilities, give a target "
                           "of shape (N, C)")
    kept = labels != ignore_index
    classes = labels * kept         # (a row left out points at class 0, with weight 0)
    num_classes = logits.shape[1]
    wrong = labels[(classes < 0) | (classes >= num_classes)]
    if wrong.size:
        raise IndexError(f"cross_entropy: Target {wrong[0]} is out of bounds: the classes are "
                         f"0..{num_classes - 1} (or ignore_index)")
    return kept, classes


def _class_loss(input, kept, classes, weight, reduction):
    """-w[y_i]·log softmax(x_i)[y_i] for each row i, reduced, as one op (as in PyTorch). Its rule:
    w[y_i]·(softmax(x_i) - one_hot(y_i)), divided by Σ w[y_i] for the mean."""
    x, rows = input._data, np.arange(len(classes))
    w = kept.astype(x.dtype)
    if weight is not None:
        w *= weight._data[classes]
    divisor = w.sum() if reduction == "mean" else 1     # (no row left: 0/0, nan as in PyTorch)
    shifted = x - x.max(axis=1, keepdims=True)          # (large logits never overflow)
    sums = np.exp(shifted).sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(sums)
    losses = -w * log_probs[rows, classes]
    if reduction != "none":
        losses = losses.sum() / divisor if divisor else np.nan

    def to_input(g):    # d loss_i/d x_i = w_i·(softmax(x_i) - one_hot(y_i)), times g / divisor
        scale = (g * w / (divisor or 1))[:, None]
        grad = np.exp(log_probs) * scale
        grad[rows, classes] -= scale[:, 0]
        return grad
    return record("cross_entropy", np.asarray(losses, x.dtype),
                  (input, to_input))


def one_hot(tensor, num_classes=-1):
    """Integer labels as rows of 0s with a 1 at the label (int64), as F.one_hot; num_classes=-1: the
    largest label + 1."""
    labels = tensor._data
    if num_classes == -1:
        num_classes = int(labels.max(initial=-1)) + 1
    if labels.dtype != np.int64 or not 0 <= labels.min(initial=0) \
            <= labels.max(initial=0) < num_classes:
        raise RuntimeError(f"one_hot takes a LongTensor (int64); Class values must be in "
                           f"[0, num_classes={num_classes})")
    return _leaf(np.eye(num_classes, dtype=np.int64)[labels])



# -- nn: Module and Parameter ----------------------------------------------------------------------
class Parameter(Tensor):
    """A Tensor that a Module trains: a leaf that requires grad (PyTorch's nn.Parameter). It keeps
    the data's dtype, as nn.Parameter(tensor) does."""

    def __init__(self, data, requires_grad=True):
        self._data = _array(data)
        self.requires_grad_(requires_grad)


class Module:
    """Layers and models: calling one runs `forward`. Parameters and sub-modules are found in
    attributes (and lists, tuples, dicts of them), so super().__init__() is optional. Buffers
    (register_buffer) are tensors saved and cast with the model but not trained, e.g. a loss's class
    weights."""
    training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __setattr__(self, name, value):
        """As PyTorch: an attribute that holds a Parameter takes a Parameter or None, nothing
        else."""
        held = vars(self).get(name)
        if isinstance(held, Parameter) and value is not None \
                and not isinstance(value, Parameter):
            raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                            "(nn.Parameter or None expected). To change its values: with "
                            f"mytorch.no_grad(): m.{name} -= lr * m.{name}.grad")
        object.__setattr__(self, name, value)

    # -- What is inside: sub-modules, parameters, buffers (each walk in PyTorch's order) -----------
    def _children(self):
        return [(name, value) for name, value in _inside(vars(self))
                if isinstance(value, Module)]

    def _walk(self, prefix=""):
        """(path, module) for this module and every one inside it, by every path."""
        pairs = [(prefix, self)]
        for name, child in self._children():
            pairs += child._walk(f"{prefix}.{name}" if prefix else name)
        return pairs

    def named_modules(self, prefix=""):
        """This module and all modules inside it, depth first; one used twice is listed once."""
        return _unique(self._walk(prefix))

    def modules(self):
        return (module for _, module in self.named_modules())

    def named_children(self):
        """The modules directly inside, each once."""
        return _unique(self._children())

    def children(self):
        return (child for _, child in self.named_children())

    def _own_params(self):
        """What a Module trains: Parameters, and (unlike PyTorch) leaf tensors that require grad."""
        return [(name, value) for name, value in _inside(vars(self))
                if isinstance(value, Parameter)
                or isinstance(value, Tensor) and value.requires_grad and value.is_leaf]

    def named_parameters(self, prefix=""):
        """As PyTorch lists them: a module's own first ('bias'), then its sub-modules'
        ('fc1.weight'); each once; frozen Parameters too."""
        return _unique(_named(self.named_modules(prefix), Module._own_params))

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def register_buffer(self, name, tensor):
        """A tensor the module keeps as attribute `name`: in state_dict, cast by double() / float(),
        never trained (PyTorch's persistent=False is not in mytorch). None: a buffer not set yet."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(Tensor or None expected)")
        setattr(self, name, tensor)
        vars(self).setdefault("_buffers", {})[name] = True      # the names, in order

    def _own_buffers(self):
        names = vars(self).get("_buffers", ())
        return [(name, getattr(self, name)) for name in names
                if getattr(self, name) is not None]

    def named_buffers(self, prefix=""):
        return _unique(_named(self.named_modules(prefix), Module._own_buffers))

    def buffers(self):
        return (b for _, b in self.named_buffers())

    # -- Changing every module or parameter at once ------------------------------------------------
    def apply(self, fn):
        """fn(module) for every sub-module, then for this one (to initialise weights, say)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def train(self, mode=True):
        for module in self.modules():
            module.training = mode
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        _zero_grads(self.parameters(), set_to_none)

    def _cast(self, dtype):
        """Every floating parameter, buffer and grad to dtype, in place (the same objects)."""
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={dtype}")
        grads = [p.grad for p in self.parameters()
                 if p.grad is not None]
        for t in [*self.parameters(), *self.buffers(),
                  *grads]:
            if t.dtype.kind == "f":                 # (integer buffers stay as they are)
                t._data = t._data.astype(dtype, copy=False)
        return self

    def double(self):
        return self._cast(np.float64)

    def float(self):
        return self._cast(np.float32)

    def to(self, target):
        """model.to('cpu') or model.to(mytorch.float64): casts in place and returns the model
        itself, as PyTorch (the CPU is the only device)."""
        if isinstance(target, str):
            return _cpu_only(self, target)
        return self._cast(target)

    def cuda(self, *args, **kwargs):
        return _cpu_only(self, "cuda")

    # -- Saving and loading: by name, every name of a module used twice (as PyTorch) ---------------
    def _state(self):
        return dict(_named(self._walk(), Module._own_params,
                           Module._own_buffers))

    def state_dict(self):
        """Copies (numpy arrays) of the parameters and buffers by name, in PyTorch's order."""
        return {name: t._data.copy()
                for name, t in self._state().items()}

    def load_state_dict(self, state_dict, strict=True):
        """Take arrays (or Tensors) for the parameters and buffers, each keeping its own dtype and
        memory order. As PyTorch: missing or unexpected names raise if strict, a shape that differs
        always; returns (missing_keys, unexpected_keys)."""
        own = self._state()
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        errors = [f"size mismatch for {name}: copying a param with shape {np.shape(value)} from "
                  f"checkpoint, the shape in current model is {own[name].shape}."
                  for name, value in state_dict.items()
                  if name in own and np.shape(value) != own[name].shape]
        if strict and missing:
            errors.append(f"Missing key(s) in state_dict: {json.dumps(missing)[1:-1]}. ")
        if strict and unexpected:
            errors.append(f"Unexpected key(s) in state_dict: {json.dumps(unexpected)[1:-1]}. ")
        if errors:
            title = f"Error(s) in loading state_dict for {type(self).__name__}:"
            raise RuntimeError("\n\t".join([title, *errors]))
        with no_grad():     # as PyTorch: each tensor copies the values in (keeping its dtype)
            for name in own:                # in order: a tensor under two names takes the last
                if name in state_dict:      # (np.asarray: torch tensors and lists too)
                    own[name].copy_(np.asarray(state_dict[name], own[name].dtype))
        return missing, unexpected

    # -- print(model) ----------------------------------------------------------------------------
    def extra_repr(self):
        """The settings print(model) shows inside a layer's parentheses: Linear(in_features=2,
        ...)."""
        return ""

    def __repr__(self):
        """As PyTorch prints a model: Name(settings), or one '(name): layer' line per sub-module."""
        extra = self.extra_repr()
        children = [f"({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self._children()]
        lines = extra.splitlines() + children
        if not children and len(lines) <= 1:        # ReLU(), Linear(in_features=2, ...)
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _inside(value, name=""):
    """(name, value) pairs of attributes, also inside lists, tuples and dicts: 'blocks.0'."""
    if not isinstance(value, (dict, list, tuple)):
        return [(name, value)]
    items = value.items() if isinstance(value, dict) else enumerate(value)
    pairs = []
    for key, item in items:
        pairs += _inside(item, f"{name}.{key}" if name else str(key))
    return pairs


def _named(modules, *owns):
    """('path.name', tensor) for what each own(module) lists, module by module."""
    for path, module in modules:
        for own in owns:
            for name, t in own(module):
                yield (f"{path}.{name}" if path else name), t


def _unique(pairs):
    """(name, value) pairs, each value once, under its first name."""
    first = {}
    for name, value in pairs:
        first.setdefault(value, name)
    return iter([(name, value)
                 for value, name in first.items()])


def _zero_grads(params, set_to_none):
    """zero_grad of modules and optimizers: no grad (PyTorch's default), or the same one, zeroed."""
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        else:
            p.grad.zero_()


# -- nn: layers ------------------------------------------------------------------------------------
class Linear(Module):
    """y = x·Wᵀ + b, W of shape (out_features, in_features), W and b uniform in
    ±1/√in_features."""
    def __init__(self, in_features, out_features, bias=True,
                 dtype=float32):
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / np.sqrt(in_features)
        self.weight = Parameter(_rng.uniform(-bound, bound,
                                             (out_features, in_features))
                                .astype(dtype))
        self.bias = None
        if bias:
            self.bias = Parameter(_rng.uniform(-bound, bound, out_features).astype(dtype))

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class ReLU(Module):
    """max(x, 0). inplace=True is accepted and gives PyTorch's result, but computed out of place:
    mytorch's in-place ops are copy-on-write, so here the input keeps its values."""
    def __init__(self, inplace=False):
        self.inplace = inplace

    def forward(self, x):
        return relu(x, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout in training (see `dropout`); the identity in eval mode. inplace as in
    ReLU."""
    def __init__(self, p=0.5, inplace=False):
        self.p, self.inplace = _probability(p), inplace

    def forward(self, x):
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Embedding(Module):
    """A table of num_embeddings vectors (rows of weight, N(0, 1) as in PyTorch): each index in the
    input picks its row."""
    def __init__(self, num_embeddings, embedding_dim, dtype=float32):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        weight = _rng.standard_normal((num_embeddings, embedding_dim))
        self.weight = Parameter(weight.astype(dtype))

    def forward(self, input):
        return self.weight[input]       # (indexing's rule adds each row's gradients)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class _Indexed(Module):
    """What Sequential and ModuleList share: modules kept as attributes '0', '1', ... (so names are
    PyTorch's, '0.weight'), reached by position: len(m), m[i], iteration; append and extend add at
    the end. A module may be in it twice."""
    def _add(self, named):
        for name, module in named:
            if not isinstance(module, Module):          # nn.ReLU, not nn.ReLU()?
                raise TypeError(f"{type(self).__name__}: {module!r} is not a Module (a layer needs "
                                "its (): nn.ReLU())")
            setattr(self, str(name), module)
        return self

    def __len__(self):
        return len(self._children())

    def __getitem__(self, i):       # a slice: one of its kind, as PyTorch's
        if type(i) is slice:
            return self._slice(i)
        return list(self)[i]

    def __iter__(self):
        return iter([module for _, module in self._children()])

    def append(self, module):
        return self.extend([module])

    def extend(self, modules):
        return self._add(enumerate(modules, start=len(self)))    # named by number


class Sequential(_Indexed):
    """Runs its modules in order: Sequential(a, b, c), or Sequential(OrderedDict(name=module, ...))
    to name them (any dict will do here). A slice is a Sequential keeping the names."""
    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], dict):
            self._add(modules[0].items())
        else:
            self._add(enumerate(modules))

    def _slice(self, i):            # the slice keeps the names
        return Sequential(dict(self._children()[i]))

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleList(_Indexed):
    """A list of modules whose parameters the model finds (names '0.weight', ...); no forward."""
    def __init__(self, modules=None):
        self.extend(modules or [])

    def _slice(self, i):            # renumbered
        return ModuleList(list(self)[i])



# -- nn: losses ------------------------------------------------------------------------------------
class MSELoss(Module):
    """(input - target)², averaged (see `mse_loss`). reduction is keyword-only: PyTorch's first two
    arguments (size_average, reduce) are deprecated there and not in mytorch."""
    def __init__(self, *, reduction="mean"):
        self.reduction = reduction

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(Module):
    """-log softmax(logits)[true class], averaged (see `cross_entropy`); `weight` (one per class,
    the first argument as in PyTorch) is kept as a buffer. PyTorch's size_average and reduce
    (deprecated) and label_smoothing are not in mytorch, so the other settings are keyword-only."""
    def __init__(self, weight=None, *, ignore_index=-100,
                 reduction="mean"):
        self.register_buffer("weight", weight)
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, input, target):
        return cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction)


# -- nn.init: fill a tensor in place (no graph), from mytorch's generator --------------------------
def _init(tensor, values):
    with no_grad():
        return tensor.copy_(values)


def zeros_(tensor):
    return _init(tensor, 0)


def ones_(tensor):
    return _init(tensor, 1)


def normal_(tensor, mean=0.0, std=1.0):
    return _init(tensor, _rng.normal(mean, std, tensor.shape))


def uniform_(tensor, a=0.0, b=1.0):
    return _init(tensor, _rng.uniform(a, b, tensor.shape))


def xavier_uniform_(tensor, gain=1.0):
    """Uniform in ±gain·√(6 / (fan_in + fan_out)) (Glorot and Bengio's)."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * (6 / (fan_in + fan_out)) ** 0.5
    return uniform_(tensor, -bound, bound)


def kaiming_uniform_(tensor, a=0, mode="fan_in",
                     nonlinearity="leaky_relu"):
    """Uniform in ±gain·√(3 / fan) (He et al.'s), gain as PyTorch's calculate_gain."""
    gains = {"linear": 1, "sigmoid": 1, "tanh": 5 / 3,
             "relu": 2 ** 0.5,
             "leaky_relu": (2 / (1 + a * a)) ** 0.5}
    if mode not in ("fan_in", "fan_out") or nonlinearity not in gains:
        raise ValueError(f"kaiming_uniform_: mode {mode!r} or nonlinearity {nonlinearity!r} not "
                         f"supported: modes fan_in, fan_out; nonlinearities {list(gains)}")
    fan = _fans(tensor)[mode == "fan_out"]
    bound = gains[nonlinearity] * (3 / fan) ** 0.5
    return uniform_(tensor, -bound, bound)


def _fans(tensor):
    """(fan_in, fan_out) of a weight (out, in, ...): inputs and outputs per unit, as in PyTorch."""
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out: not for a tensor with fewer than 2 dimensions")
    field = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * field, tensor.shape[0] * field


# -- nn.utils --------------------------------------------------------------------------------------
def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all the gradients together so that their norm (of all of them as one vector: 2, inf,
    any p) is at most max_norm, as PyTorch's; returns the norm they had."""
    grads = [p.grad for p in parameters if p.grad is not None]
    flat = np.concatenate([g._data.ravel() for g in grads])
    norm = np.linalg.norm(flat, norm_type)
    scale = float(min(max_norm / (norm + 1e-6), 1.0))
    for g in grads:
        g._data = g._data * scale               # (a new array: see Tensor.data)
    return _wrap(norm.astype(grads[0].dtype))


# ==================================================================================================
# Part 7. optim: optimizers and learning-rate schedules
# ==================================================================================================
class Optimizer:
    """What SGD, Adam and AdamW share: PyTorch's checks on the parameters, param_groups, zero_grad,
    step, print(optimizer), and state_dict / load_state_dict to save and resume training."""
    l2_in_gradient = True      # weight decay as PyTorch's SGD and Adam add it: g + weight_decay·p

    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list (was a parameters() generator "
                             "used up?)")
        if not all(isinstance(p, Tensor) and p.is_leaf for p in params):
            raise ValueError("can't optimize a non-leaf Tensor (or a non-Tensor: parameter groups, "
                             "dicts, are not in mytorch): pass e.g. model.parameters()")
        self.param_groups = [dict(defaults, params=params)]     # one group, in PyTorch's layout
        self.state = {}             # per parameter: momentum buffer, Adam's moments

    def _params(self):
        """The parameters, in order (state_dict numbers them so)."""
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none=True):
        _zero_grads(self._params(), set_to_none)

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:              # unused: left alone
                    continue
                g, old = p.grad._data, p._data
                if group["weight_decay"] and self.l2_in_gradient:
                    g = g + float(group["weight_decay"]) * old
                state = self.state.setdefault(p, {})
                new = self._updated(old, g, group, state)
                p._data = np.asarray(new, old.dtype)    # a new array (see Tensor.data), p's dtype

    def __repr__(self):
        """As PyTorch prints an optimizer: its settings, in a 'Parameter Group 0'."""
        (group,) = self.param_groups
        lines = [f"    {key}: {value}"
                 for key, value in sorted(group.items())
                 if key != "params"]
        return "\n".join([f"{type(self).__name__} (", "Parameter Group 0", *lines, ")"])

    def state_dict(self):
        """As PyTorch's: {'state': {i: {'momentum_buffer': ...}}, 'param_groups': [{'lr': ...,
        'params': [0, 1, ...]}]}, parameters numbered in order; arrays are copies (numpy)."""
        number = {p: i for i, p in enumerate(self._params())}
        groups = [dict(g, params=[number[p] for p in g["params"]])
                  for g in self.param_groups]
        states = {number[p]: _copied(state)
                  for p, state in self.state.items()}
        return {"state": states, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take the settings and per-parameter state that state_dict() gave, for the same parameters
        in the same order (copies, each array in its parameter's dtype)."""
        (saved,), (group,) = state_dict["param_groups"], self.param_groups
        if len(saved["params"]) != len(group["params"]):
            raise ValueError("loaded state dict's parameter group doesn't match the size of "
                             "optimizer's group")
        group.update(dict(saved, params=group["params"]))
        params = self._params()     # the saved state's parameter i is params[i] (i: "3" from load)
        self.state = {params[int(i)]:
                      _copied(state, params[int(i)].dtype)
                      for i, state in state_dict["state"].items()}


def _copied(state, dtype=None):
    """An optimizer's state of one parameter, its arrays copied (in dtype)."""
    return {key: np.array(value, dtype) if isinstance(value, np.ndarray)
            else value
            for key, value in state.items()}


class SGD(Optimizer):
    """Stochastic gradient descent with torch.optim.SGD's exact update rule:
        g = grad + weight_decay·p
        buf = g (first step), else momentum·buf + (1 - dampening)·g
        g = g + momentum·buf (nesterov), else buf
        p = p - lr·g"""
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0,
                 weight_decay=0, nesterov=False):
        if min(lr, momentum, weight_decay) < 0 \
                or nesterov and (momentum <= 0 or dampening):
            raise ValueError("SGD: lr, momentum and weight_decay must be >= 0; nesterov momentum "
                             "requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum,
                                      dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _updated(self, p, g, group, state):
        # The settings as 0-d arrays in p's dtype: numpy multiplies by one of those faster than by a
        # Python float, which it converts at every call (and an np.float64 setting cannot make
        # float32 arrays float64)
        momentum = np.array(group["momentum"], p.dtype)
        minus_lr = np.array(-group["lr"], p.dtype)
        buf = state.get("momentum_buffer")
        if momentum and buf is None:            # the first step: buf = g (an array, even 0-d)
            buf = state["momentum_buffer"] = np.array(g, p.dtype)
        elif momentum:                          # the optimizer's own array, updated in place
            buf *= momentum
            dampening = group["dampening"]
            buf += g if dampening == 0 else (1 - dampening) * g
        if momentum and group["nesterov"]:      # -lr·(g + momentum·buf), in its one new array
            step = buf * momentum
            step += g
            step *= minus_lr
        else:                                   # -lr·buf, or -lr·g without momentum
            step = (buf if momentum else g) * minus_lr
        step += p                               # p - lr·(...)
        return step


class Adam(Optimizer):
    """Adam with torch.optim.Adam's exact update rule, t counting steps from 1:
        g = grad + weight_decay·p
        m = β1·m + (1 - β1)·g;   v = β2·v + (1 - β2)·g²   (both start at 0)
        p = p - lr/(1 - β1^t) · m / (√v / √(1 - β2^t) + eps)"""
    default_weight_decay = 0

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=None):
        if weight_decay is None:
            weight_decay = self.default_weight_decay
        if min(lr, eps, weight_decay, *betas) < 0 \
                or max(betas) >= 1:
            raise ValueError(f"{type(self).__name__}: lr, eps and weight_decay must be >= 0, and "
                             "both betas in [0, 1)")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay))

    def _updated(self, p, g, group, state):
        beta1, beta2 = group["betas"]
        t = state.get("step", 0) + 1
        m = beta1 * state.get("exp_avg", 0) \
            + (1 - beta1) * g
        v = beta2 * state.get("exp_avg_sq", 0) \
            + (1 - beta2) * g * g
        state.update(step=t, exp_avg=m, exp_avg_sq=v)
        denominator = np.sqrt(v) / (1 - beta2 ** t) ** 0.5 \
            + group["eps"]
        step_size = group["lr"] / (1 - beta1 ** t)
        return p - step_size * m / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay, as torch.optim.AdamW: p shrinks by lr·weight_decay·p,
    then takes Adam's step (whose gradient has no weight_decay·p added). weight_decay is 0.01
    unless given, as in PyTorch."""
    l2_in_gradient = False
    default_weight_decay = 1e-2

    def _updated(self, p, g, group, state):
        shrunk = p * (1 - group["lr"] * group["weight_decay"])
        return super()._updated(shrunk, g, group, state)


# -- optim.lr_scheduler: each sets the param_groups' "lr" per scheduler.step() ---------------------
class LRScheduler:
    """What LambdaLR and StepLR share: lr = initial lr × lr_lambda(n), n counting scheduler.step()
    calls from 0 (PyTorch's name for n: last_epoch). Made, it takes step 0."""
    def __init__(self, optimizer, lr_lambda):
        self.optimizer, self.lr_lambda = optimizer, lr_lambda
        self.last_epoch = -1
        self.base_lrs = [group.setdefault("initial_lr", group["lr"])
                         for group in optimizer.param_groups]
        self.step()

    def step(self):
        self.last_epoch += 1
        groups = self.optimizer.param_groups
        for group, base_lr in zip(groups, self.base_lrs):
            group["lr"] = base_lr * self.lr_lambda(self.last_epoch)

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Where the schedule is (last_epoch, base_lrs, settings), as PyTorch's: not the optimizer,
        nor the function (which the code that makes the scheduler gives again)."""
        return {key: value for key, value in vars(self).items()
                if key not in ("optimizer", "lr_lambda")}

    def load_state_dict(self, state_dict):
        vars(self).update(state_dict)


class LambdaLR(LRScheduler):
    """lr = initial lr × lr_lambda(n): LRScheduler itself, under PyTorch's name for it."""


class StepLR(LRScheduler):
    """lr = initial lr × gamma^(n // step_size): multiplied by gamma every step_size steps."""
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer,
                         lambda n: self.gamma ** (n // self.step_size))


# ==================================================================================================
# Part 8. Checkpoints (save, load) and gradcheck
# ==================================================================================================
def save(obj, path):
    """Save what a training script saves (state dicts of models and optimizers: dicts and lists of
    tensors, arrays, numbers and strings) to the file at `path`, as numpy's .npz: each array as it
    is, and the structure as JSON text. No pickle: loading runs no code from the file. As JSON has
    them, dict keys come back as strings, tuples as lists."""
    arrays = []

    def stored(value):          # what JSON cannot write: an array, by its number in `arrays`
        arrays.append(np.asarray(value))
        kind = "__tensor__" if isinstance(value, Tensor) else "__array__"
        return {kind: len(arrays) - 1}
    structure = json.dumps(obj, default=stored)
    with open(path, "wb") as file:                  # (np.savez would add .npz to a path)
        np.savez(file, *arrays, mytorch_checkpoint=structure)


def load(path):
    """What save() saved, read without running any code from the file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            structure = str(npz["mytorch_checkpoint"])
            arrays = [npz[f"arr_{i}"] for i in range(len(npz.files) - 1)]
    except (ValueError, KeyError) as error:       # (a file that is not there: Python's error)
        raise RuntimeError(f"load: {path} is not a checkpoint that mytorch.save wrote "
                           f"({type(error).__name__}). "
                           "For a file of torch.save, load it with torch, and give mytorch its "
                           "tensors as numpy arrays (t.numpy())") from None

    def restored(d):
        if "__tensor__" in d:
            return from_numpy(arrays[d["__tensor__"]])
        return arrays[d["__array__"]] if "__array__" in d else d
    return json.loads(structure, object_hook=restored)


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3,
              raise_exception=True):
    """Check autograd's gradients of func(*inputs) against finite differences, as
    torch.autograd.gradcheck. For every output element y and input element x[j]:

        dy/dx[j] ≈ (y(x[j] + eps) - y(x[j] - eps)) / 2·eps,

    the definition of a derivative. Like PyTorch, it moves the elements of the caller's own tensors
    and puts them back, so a function that reads them another way (a closure over model.weight) is
    checked too. Inputs that require grad must be float64: float32's rounding would drown such
    small differences."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [i for i, x in enumerate(inputs)
               if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is no gradient to "
                         "check")
    saved = [(x, x._data, x.grad, x.retains_grad) for x in map(inputs.__getitem__, checked)]
    try:
        for i in checked:
            x = inputs[i]
            if x.dtype != np.float64:
                raise TypeError(f"gradcheck: input {i} is {x.dtype}, not float64: use x.double() "
                                "or model.double() (or mytorch.tensor(..., dtype=mytorch.float64))")
            numeric, analytic = _jacobians(func, inputs, x, eps)
            wrong = np.argwhere(~(np.abs(analytic - numeric) <= atol + rtol * np.abs(numeric)))
            if len(wrong) and not raise_exception:
                return False
            for m, j in wrong[:1]:
                element = np.unravel_index(j, x.shape)
                raise RuntimeError(f"gradcheck: input {i}, element {tuple(map(int, element))}, "
                                   f"output element {m}: autograd gives {analytic[m, j]:.6g}, "
                                   f"finite differences give {numeric[m, j]:.6g}")
    finally:                 # the caller's tensors get back their own arrays and gradients
        for x, data, grad, retains in saved:
            x._data, x.grad, x.retains_grad = data, grad, retains
    return True


def _jacobians(func, inputs, x, eps):
    """[m, j]: d(output element m)/dx[j], by central differences and by backward() (with a 1 at
    output element m). func's outputs that are not floats (max's indices) are left out."""
    def outputs():
        out = func(*inputs)
        out = out if isinstance(out, (tuple, list)) else [out]
        return [o for o in out if o.dtype.kind == "f"]
    original, numeric, analytic = x._data, [], []
    x.retains_grad = True       # (x may be computed: x.double() of a float32 leaf, say)
    for j in range(original.size):
        moved = []
        for step in (eps, -eps):
            x._data = original.copy()
            x._data.flat[j] += step
            with no_grad():
                moved.append(np.concatenate([o._data.ravel()
                                             for o in outputs()]))
        numeric.append((moved[0] - moved[1]) / (2 * eps))
    x._data = original
    for out in outputs():
        for m in range(out._data.size):
            x.grad = None
            if out.requires_grad:
                seed = np.eye(1, out._data.size, m).reshape(out.shape)
                out.backward(seed, retain_graph=True)
            grad = np.zeros(original.shape) if x.grad is None else x.grad._data
            analytic.append(grad.ravel())
    return np.array(numeric).T, np.array(analytic)


# ==================================================================================================
# Part 9. The namespaces: `import mytorch.nn as nn` and `from mytorch import optim` from this one
# file; names mytorch lacks
# ==================================================================================================
def _submodule(name, *members):
    """A module `mytorch.<name>` holding `members`, importable as such. A name it lacks raises an
    AttributeError that lists what it has and says what to do."""
    module = sys.modules[f"{__name__}.{name}"] = types.ModuleType(f"{__name__}.{name}")
    module.__dict__.update((member.__name__, member) for member in members)

    def __getattr__(attribute):         # called only for a name the module lacks
        names = ", ".join(sorted(n for n in vars(module)
                                 if n[0] != "_"))
        raise _missing(f"mytorch.{name}", attribute, f" (it has {names})")
    module.__getattr__ = __getattr__
    return module


def __getattr__(name):
    """mytorch.max(x, 1) and torch's other functions that are Tensor methods here (under their own
    names max, min, abs and sum would hide Python's inside this file); the dtypes bool, float and
    int (the same); for any other name, say that mytorch lacks it and what to do."""
    if name in _TENSOR_FUNCTIONS:
        return getattr(Tensor, name)
    if name in _MORE_DTYPES:
        return _MORE_DTYPES[name]
    raise _missing("mytorch", name)


def _missing(owner, name, has=""):
    """The AttributeError for a name that mytorch lacks (PyTorch may have it), with what to do."""
    hint = _HINTS.get(name, "Build it from Tensor ops, or add it as an op with mytorch.record "
                            "(README: 'Add your own op')")
    return AttributeError(f"{owner} has no {name!r}{has}: mytorch does not have it (PyTorch "
                          f"may). {hint}")


_TENSOR_FUNCTIONS = ("abs max min amax amin argmax argmin sum mean var exp log sqrt tanh sigmoid "
                     "relu clamp softmax log_softmax matmul reshape flatten squeeze unsqueeze "
                     "transpose permute t pow numel").split()
_MORE_DTYPES = {"bool": np.bool_, "float": np.float32, "int": np.int32}
_CONV = ("mytorch has no convolutions: build one from indexing and a matrix product (im2col); the "
         "README's coursework section has a worked 2-D convolution and max-pool")
_HINTS = {"Function": "Write the op as a function that ends with mytorch.record(name, output, "
                      "(input, rule)) (README: 'Add your own op')",
          "Conv2d": _CONV, "conv2d": _CONV, "MaxPool2d": _CONV, "max_pool2d": _CONV, "pad": _CONV,
          "unfold": _CONV}

nn = _submodule("nn", Module, Parameter, Linear, Sigmoid, ReLU, Tanh, Flatten, Dropout, Embedding,
                Sequential, ModuleList, MSELoss, CrossEntropyLoss)
nn.functional = _submodule("nn.functional", relu, Tensor.sigmoid, Tensor.tanh, Tensor.softmax,
                           Tensor.log_softmax, dropout, linear, one_hot, mse_loss,
                           cross_entropy)
nn.init = _submodule("nn.init", zeros_, ones_, normal_, uniform_, xavier_uniform_, kaiming_uniform_)
nn.utils = _submodule("nn.utils", clip_grad_norm_)
optim = _submodule("optim", Optimizer, SGD, Adam, AdamW)
optim.lr_scheduler = _submodule("optim.lr_scheduler", LRScheduler, LambdaLR, StepLR)
autograd = _submodule("autograd", gradcheck)

__all__ = ("Tensor tensor from_numpy record Step no_grad enable_grad "
           "is_grad_enabled manual_seed zeros ones zeros_like ones_like arange "
           "randn rand randint multinomial where cat stack save load gradcheck nn optim autograd "
           "float16 float32 float64 double uint8 int8 int16 int32 int64 long").split()
__all__ += _TENSOR_FUNCTIONS
