"""Tests for mytorch.py: every op against finite differences and PyTorch, the gated backward's
promises, nn, optim, an end-to-end run against PyTorch; and train_mnist.py on tiny synthetic MNIST
files (no network). Run with `python -m pytest`."""
import gc
import gzip
import importlib.util
import io
import os
import re
import struct
import subprocess
import sys
import sysconfig
import tracemalloc
from pathlib import Path

# As train_mnist.py does, before numpy loads: one BLAS thread. A second one spins, and on a busy
# 2-core machine that shares the cores with torch's threads it slows everything many times over.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import mytorch  # noqa: E402
from mytorch import Tensor, nn, optim  # noqa: E402

ROOT = Path(__file__).resolve().parent
rng = np.random.default_rng(0)


try:                   # PyTorch is the reference where it is installed; its tests skip where it is not
    import torch
except ImportError:
    torch = None


def torch_or_skip():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    return torch


# ---------------------------------------------------------------------------------------------------
# Gradient checking
# ---------------------------------------------------------------------------------------------------
def numeric_grads(fn, arrays, upstream, eps=1e-6):
    """Central differences of sum(upstream * fn(arrays)) with respect to each array (float64)."""
    grads = []
    for array in arrays:
        grad = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            saved = array[i]
            array[i] = saved + eps
            plus = np.sum(upstream * fn(*[Tensor(a) for a in arrays]).data)
            array[i] = saved - eps
            minus = np.sum(upstream * fn(*[Tensor(a) for a in arrays]).data)
            array[i] = saved
            grad[i] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return grads


def check_op(fn, *shapes, positive=False, torch_fn=None):
    """Check fn's forward and backward (with a random upstream gradient) in float64 against central
    finite differences, and against PyTorch's autograd on the same inputs when torch is installed."""
    low, high = (0.5, 2.0) if positive else (-2.0, 2.0)
    arrays = [rng.uniform(low, high, shape) for shape in shapes]
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    for t, expected in zip(tensors, numeric_grads(fn, arrays, upstream)):
        assert t.grad.shape == t.shape and t.grad.dtype == np.float64
        np.testing.assert_allclose(t.grad, expected, rtol=1e-5, atol=1e-7)
    if torch is None:
        return
    torch_tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    torch_out = (torch_fn or fn)(*torch_tensors)
    torch_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, torch_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for t, tt in zip(tensors, torch_tensors):
        np.testing.assert_allclose(t.grad, tt.grad.numpy(), rtol=1e-10, atol=1e-12)


BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), ()), ((), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)),
                    ((2, 3, 4), (3, 4)), ((2, 1, 4), (3, 1)), ((1, 4), (3, 1))]
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
          "mul": lambda a, b: a * b, "div": lambda a, b: a / b}


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary_ops_broadcast(op, shapes):
    check_op(BINARY[op], *shapes, positive=(op == "div"))


@pytest.mark.parametrize("fn", [lambda a: a + 2.5, lambda a: 2.5 + a, lambda a: a - 1, lambda a: 3 - a,
                                lambda a: a * 4, lambda a: 4 * a, lambda a: a / 3, lambda a: 3 / a,
                                lambda a: -a, lambda a: a ** 3, lambda a: a ** -1.5, lambda a: a ** 0.5],
                         ids=["a+n", "n+a", "a-n", "n-a", "a*n", "n*a", "a/n", "n/a", "neg", "pow3",
                              "pow-1.5", "pow0.5"])
def test_number_operands_and_pow(fn):
    check_op(fn, (3, 4), positive=True)


def test_numpy_array_operand_on_either_side():
    check_op(lambda a: a * np.arange(4.0) + np.ones((3, 1)), (3, 4),
             torch_fn=lambda a: a * torch.arange(4.0, dtype=a.dtype) + 1)
    a = Tensor(np.ones(3), requires_grad=True)
    out = np.arange(3.0) - a            # numpy on the left hands over to Tensor.__rsub__
    assert isinstance(out, Tensor)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [-1, -1, -1])


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                                    ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5)),
                                    ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (5, 4, 2))],
                         ids=str)
def test_matmul(shapes):
    check_op(lambda a, b: a @ b, *shapes)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "relu", "tanh", "sigmoid"])
def test_elementwise_functions(name):
    check_op(lambda a: getattr(a, name)(), (3, 4), positive=name in ("log", "sqrt"))


def test_relu_at_zero_matches_pytorch():
    torch_or_skip()
    a = Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    a.relu().sum().backward()
    t = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    t.relu().sum().backward()
    np.testing.assert_array_equal(a.grad, t.grad.numpy())


REDUCTION_DIMS = [None, 0, 1, -1, (0, 1)]


@pytest.mark.parametrize("shape", [(3, 4), (3, 3)], ids=["nonsquare", "square"])
@pytest.mark.parametrize("dim, keepdim", [(dim, keepdim) for dim in REDUCTION_DIMS for keepdim in (False, True)
                                          if dim is not None or not keepdim],   # torch: keepdim needs a dim
                         ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "var"])
def test_reductions(name, shape, dim, keepdim):
    kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    check_op(lambda a: getattr(a, name)(**kwargs), shape)


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_correction(correction):
    check_op(lambda a: a.var(dim=1, correction=correction), (3, 5))
    x = rng.normal(size=(4, 6))
    np.testing.assert_allclose(Tensor(x).var(dim=0, unbiased=False).data, x.var(axis=0))
    np.testing.assert_allclose(Tensor(x).var().data, x.var(ddof=1))


@pytest.mark.parametrize("shape", [(3, 4), (3, 3)], ids=["nonsquare", "square"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_over_dim_returns_values_and_indices(shape, dim, keepdim):
    check_op(lambda a: a.max(dim=dim, keepdim=keepdim).values, shape)
    x = rng.normal(size=shape)
    result = Tensor(x).max(dim=dim, keepdim=keepdim)
    values, indices = result                      # unpacks like torch.return_types.max
    np.testing.assert_array_equal(indices.data, np.expand_dims(x.argmax(dim), dim) if keepdim
                                  else x.argmax(dim))
    assert indices.dtype.kind == "i" and values is result.values


def test_max_over_all_splits_gradient_between_ties_like_pytorch():
    check_op(lambda a: a.max(), (3, 4))
    torch_or_skip()
    x = np.array([[1.0, 5.0], [5.0, 2.0]])
    a, t = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a.max().backward()
    t.max().backward()
    np.testing.assert_array_equal(a.grad, t.grad.numpy())


@pytest.mark.parametrize("fn", [lambda a: a.reshape(4, 3), lambda a: a.reshape((2, 6)),
                                lambda a: a.reshape(-1), lambda a: a.T, lambda a: a.transpose(0, 1),
                                lambda a: a.reshape(2, 2, 3).transpose(0, 2)],
                         ids=["reshape", "reshape-tuple", "flatten", "T", "transpose", "3d-transpose"])
def test_shape_ops(fn):
    check_op(fn, (3, 4))


INDEXES = {"slice": (slice(1, None), slice(None, None, 2)), "int": 1, "ellipsis": (Ellipsis, 2),
           "newaxis": (None, slice(0, 2)), "repeated-rows": [0, 2, 2, 2],
           "repeated-pairs": ([0, 1, 1, 1], [2, 0, 0, 3]), "negative": (-1, [3, 3, -1])}


@pytest.mark.parametrize("name", INDEXES)
def test_indexing(name):
    check_op(lambda a: a[INDEXES[name]], (3, 4))


def test_boolean_mask_indexing():
    mask = np.array([[True, False, True, False], [False, False, True, True], [True, True, True, False]])
    check_op(lambda a: a[mask], (3, 4), torch_fn=lambda a: a[torch.from_numpy(mask)])


def test_repeated_indices_accumulate():
    a = Tensor(np.zeros(3), requires_grad=True)
    a[[0, 2, 2, 2]].sum().backward()
    np.testing.assert_array_equal(a.grad, [1, 0, 3])


def test_log_softmax_stable_and_correct():
    check_op(lambda a: a.log_softmax(dim=1), (3, 4))
    check_op(lambda a: a.log_softmax(dim=0), (3, 4))
    out = Tensor(np.array([[1000.0, -1000.0, 0.0]])).log_softmax(dim=1)
    np.testing.assert_allclose(out.data, [[0.0, -2000.0, -1000.0]])


def test_composite_expression():
    check_op(lambda a, b, c: ((a @ b).tanh() * c).exp().mean(dim=0) / (1 + (a * a).sum()), (3, 4), (4, 2),
             (2,))


# ---------------------------------------------------------------------------------------------------
# Sigmoid: the tutorial's composition (what the slides teach) and the one op that Tensor.sigmoid is
# ---------------------------------------------------------------------------------------------------
def tutorial_sigmoid(x):
    return 1 / (1 + (-x).exp())


def test_sigmoid_composition_records_four_ops_and_its_gradient_is_sigma_times_one_minus_sigma():
    x = Tensor(np.linspace(-6, 6, 7), requires_grad=True)
    out = tutorial_sigmoid(x)
    ops, node = [], out
    while node._edges:
        ops.append(node._op)
        node = node._edges[-1][0] if node._op != "neg" else node._edges[0][0]
    assert ops == ["div", "add", "exp", "neg"]
    out.sum().backward()
    s = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(x.grad, s * (1 - s), rtol=1e-12)
    y = Tensor(x.data, requires_grad=True)
    fused = y.sigmoid()
    assert fused._op == "sigmoid" and len(fused._edges) == 1      # one op, one rule
    fused.sum().backward()
    np.testing.assert_allclose(fused.data, out.data, rtol=1e-12)
    np.testing.assert_allclose(y.grad, x.grad, rtol=1e-12)


def test_sigmoid_composition_overflows_below_minus_88_in_float32_but_the_op_matches_pytorch():
    """In float32, e^(-x) overflows for x < -88.72: the composition's gradient becomes nan (0 · inf in
    the exp rule). Tensor.sigmoid is one op with the rule σ(1 - σ), and matches PyTorch everywhere."""
    x = np.array([-1000.0, -100.0, -89.0, -88.0, -20.0, 0.0, 20.0, 100.0, 1000.0], dtype=np.float32)
    composed = Tensor(x, requires_grad=True)
    with np.errstate(over="ignore", invalid="ignore"):
        tutorial_sigmoid(composed).sum().backward()
    assert np.all(np.isnan(composed.grad.numpy()[:3])) and np.all(np.isfinite(composed.grad.numpy()[3:]))
    for dtype in (np.float32, np.float64):
        ours = Tensor(x.astype(dtype), requires_grad=True)
        out = ours.sigmoid()
        out.sum().backward()
        assert out.dtype == dtype and np.all(np.isfinite(ours.grad.numpy()))
        module = Tensor(x.astype(dtype), requires_grad=True)
        nn.Sigmoid()(module).sum().backward()
        np.testing.assert_array_equal(module.grad.numpy(), ours.grad.numpy())
        if torch is not None:
            theirs = torch.tensor(x.astype(dtype), requires_grad=True)
            reference = theirs.sigmoid()
            reference.sum().backward()
            np.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-6, atol=1e-30)
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-30)


# ---------------------------------------------------------------------------------------------------
# The gated depth-first backward: the eight promises
# ---------------------------------------------------------------------------------------------------
def test_1_consumer_off_the_path_to_the_loss_never_blocks():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = Tensor(np.array([3.0, -1.0]), requires_grad=True)
    h = x * w
    side = h * 3                                   # computed, never part of the loss
    loss = (h * h).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * (x.data * w.data) * w.data)
    np.testing.assert_allclose(w.grad, 2 * (x.data * w.data) * x.data)
    assert side.requires_grad

    logits = Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    probs = logits.exp()                           # for logging, before the backward
    loss = nn.CrossEntropyLoss()(logits, np.array([0, 2]))
    loss.backward()
    soft = np.exp(logits.data) / np.exp(logits.data).sum(1, keepdims=True)
    np.testing.assert_allclose(logits.grad, (soft - np.eye(3)[[0, 2]]) / 2)
    assert probs.shape == (2, 3)


def test_2_backward_on_a_tensor_that_later_ops_use():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    loss = (x * x).sum()
    total = loss + 0                               # a running sum that keeps using the loss
    total = total + loss
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)
    assert total.item() == 28.0


def test_3_backward_frees_the_graph_unless_retain_graph_then_twice_adds_the_same_gradients():
    x = Tensor(rng.normal(size=(3,)), requires_grad=True)
    h = (x * 2).exp()
    loss = (h * h).sum()
    loss.backward()
    once = x.grad.numpy().copy()
    assert loss._edges is None and h._edges is None          # freed: the rules and their arrays
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (h * 3).sum().backward()                             # a new loss through the freed part
    np.testing.assert_array_equal(x.grad, once)              # the failed calls changed nothing

    x.grad = None
    loss = ((x * 2).exp() ** 2).sum()
    loss.backward(retain_graph=True)
    loss.backward()                                          # the second call may free it
    np.testing.assert_allclose(x.grad, 2 * once, rtol=1e-15)

    y = Tensor(rng.normal(size=(3,)), requires_grad=True)
    shared = y.tanh()
    loss_a, loss_b = (shared * 3).sum(), (shared * shared).sum()
    loss_a.backward(retain_graph=True)
    grad_a = y.grad.numpy().copy()
    y.grad = None
    loss_b.backward(retain_graph=True)
    grad_b = y.grad.numpy().copy()
    y.grad = None
    loss_a.backward(retain_graph=True)
    loss_b.backward()
    np.testing.assert_allclose(y.grad, grad_a + grad_b, rtol=1e-15)


def test_3_repeated_backward_matches_pytorch_retain_graph():
    torch_or_skip()
    x = rng.normal(size=(4,))
    a, t = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    loss_a, loss_t = (a.exp() * a).sum(), (t.exp() * t).sum()
    for _ in range(3):
        loss_a.backward(retain_graph=True)
        loss_t.backward(retain_graph=True)
    np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-13)
    loss_a.backward()
    loss_t.backward()
    for second in (lambda: loss_a.backward(), lambda: loss_t.backward()):   # both refuse a third pass
        with pytest.raises(RuntimeError, match="retain_graph=True"):
            second()


def test_4_no_recursion_limit_on_a_100000_op_chain():
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    np.testing.assert_allclose(x.grad, 1.00001 ** 100_000, rtol=1e-9)


def _traced_memory(run, checkpoints=(200, 5_000, 10_000)):
    """Bytes allocated (tracemalloc) after each checkpoint's number of calls of `run`."""
    tracemalloc.start()
    try:
        done, memory = 0, []
        for checkpoint in checkpoints:
            for _ in range(checkpoint - done):
                run()
            done = checkpoint
            memory.append(tracemalloc.get_traced_memory()[0])
        return memory
    finally:
        tracemalloc.stop()


def test_5_no_memory_growth_over_10000_steps_and_forwards():
    model = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = Tensor(rng.normal(size=(4, 8))), np.array([0, 1, 2, 1])
    kept = []

    def train_step():
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()

    def forward_only():                            # no no_grad, no backward: graphs are built, then dropped
        kept[:] = [loss_fn(model(x), y)]

    for run in (train_step, forward_only):
        warm, half, full = _traced_memory(run)
        # numpy's small caches fill up during the first few thousand calls; after that, flat: a leak of
        # a single small object per call would add over 200 KB in the last 5,000
        assert full - half < 16 * 1024 and full - warm < 256 * 1024, (warm, half, full)
    # parameters keep no reference to the graphs made from them: once the loss is dropped, every
    # tensor of its graph is gone
    kept.clear()
    live_before = sum(type(o) is Tensor for o in gc.get_objects())
    loss = loss_fn(model(x), y)
    assert sum(type(o) is Tensor for o in gc.get_objects()) > live_before + 3
    del loss
    assert sum(type(o) is Tensor for o in gc.get_objects()) == live_before


def test_6_all_paths_are_summed():
    x = Tensor(np.array([1.5, -2.0]), requires_grad=True)
    (x * x).sum().backward()                       # the same tensor on both sides
    np.testing.assert_allclose(x.grad, 2 * x.data)

    x.grad = None
    top, bottom = x * 3, x.exp()                   # a diamond: x -> (top, bottom) -> out
    (top * bottom).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * np.exp(x.data) + 3 * x.data * np.exp(x.data))

    shared = nn.Linear(2, 2, dtype=np.float64)     # one layer used twice
    inp = Tensor(rng.normal(size=(1, 2)))
    shared(shared(inp)).sum().backward()
    w, b = shared.weight.data, shared.bias.data
    h = inp.data @ w.T + b
    np.testing.assert_allclose(shared.bias.grad, w.sum(0) + 1)
    # outer use: d/dW = 1 ⊗ h;  inner use: d/dW = (Wᵀ1) ⊗ x
    np.testing.assert_allclose(shared.weight.grad, np.outer(np.ones(2), h[0]) + np.outer(w.sum(0), inp.data[0]))


def test_7_non_scalar_backward_needs_a_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*gradient="):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected \(2,\)"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(x.grad, [3.0, -6.0])


def test_8_leaves_accumulate_until_zeroed():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 2).sum().backward()
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])
    x.grad = None
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])


def test_backward_on_a_tensor_without_grad_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor([1.0]) * 2).sum().backward()


def test_leaf_itself_as_the_root():
    x = Tensor(np.array(3.0), requires_grad=True)
    x.backward()
    assert x.grad == 1.0


# ---------------------------------------------------------------------------------------------------
# The recorded walk (what the slides draw)
# ---------------------------------------------------------------------------------------------------
def _walk(y, names):
    steps = []
    y.backward(trace=steps.append)
    return [(names[id(s.sender)], names[id(s.receiver)], float(s.grad), s.waiting) for s in steps]


def test_trace_example_1_depth_first_order():
    a, b, c, d = (Tensor(np.array(v), requires_grad=True) for v in (2.0, -1.0, 3.0, 4.0))
    top, bottom = a + b, c + d
    y = top * bottom
    names = {id(a): "a", id(b): "b", id(c): "c", id(d): "d", id(top): "a+b", id(bottom): "c+d", id(y): "y"}
    assert _walk(y, names) == [("y", "a+b", 7.0, 0), ("a+b", "a", 7.0, 0), ("a+b", "b", 7.0, 0),
                               ("y", "c+d", 1.0, 0), ("c+d", "c", 1.0, 0), ("c+d", "d", 1.0, 0)]


def test_trace_example_2_the_barrier_waits():
    a, b, c, d = (Tensor(np.array(v), requires_grad=True) for v in (2.0, -1.0, 3.0, 4.0))
    h = a + b
    left, right = c * h, h * d
    y = left + right
    names = {id(a): "a", id(b): "b", id(c): "c", id(d): "d", id(h): "h", id(left): "c*h",
             id(right): "h*d", id(y): "y"}
    assert _walk(y, names) == [("y", "c*h", 1.0, 0), ("c*h", "c", 1.0, 0), ("c*h", "h", 3.0, 1),
                               ("y", "h*d", 1.0, 0), ("h*d", "h", 4.0, 0), ("h", "a", 7.0, 0),
                               ("h", "b", 7.0, 0), ("h*d", "d", 1.0, 0)]


# ---------------------------------------------------------------------------------------------------
# Tensor basics, dtypes, no_grad, errors
# ---------------------------------------------------------------------------------------------------
def test_construction_and_dtypes():
    assert Tensor(np.array([1, 2, 3]), requires_grad=True).dtype == np.float32   # the tutorial's line
    assert Tensor(3).dtype == np.float32 and Tensor(2.5).dtype == np.float32
    assert Tensor([[1.5, 2], [3, 4]]).dtype == np.float32
    assert Tensor(np.array([True])).dtype == np.float32
    assert Tensor(np.ones(2)).dtype == np.float64
    assert Tensor(np.ones(2, np.float16)).dtype == np.float16
    f32 = Tensor(np.ones(2, np.float32), requires_grad=True)
    f64 = Tensor(np.ones(2), requires_grad=True)
    assert (f32 * 2.5).dtype == np.float32 and (f64 * 2.5).dtype == np.float64
    mixed = f32 * f64
    assert mixed.dtype == np.float64
    mixed.sum().backward()
    assert f32.grad.dtype == np.float32 and f64.grad.dtype == np.float64


def test_properties_and_repr():
    x = Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.T.shape == (3, 2) and len(x) == 2
    assert x.grad is None and x.numpy() is x.data and x.is_leaf and not (x * 2).is_leaf
    assert Tensor([[4.0]]).item() == 4.0
    d = (x * 2).detach()
    assert not d.requires_grad and d._edges == ()
    assert repr(x) == "tensor([[0., 1., 2.],\n        [3., 4., 5.]], requires_grad=True)"
    assert repr(x.sum()) == "tensor(15., grad_fn=<sum>)"
    assert repr(Tensor(np.array([1.0]))) == "tensor([1.], dtype=float64)"


def test_no_grad_builds_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with mytorch.no_grad():
        y = (x * 2).exp().sum()
    assert not y.requires_grad and y._edges == ()
    z = x * 2
    assert z.requires_grad and z._edges


def test_errors_name_the_op_and_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(4,\)"):
        a * np.ones(4)
    with pytest.raises(TypeError, match="add: .* got a list"):
        a + [1, 2, 3]
    with pytest.raises(TypeError, match="mul: .* got a str"):
        "x" * a
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 3\) does not fit a weight of shape "):
        nn.Linear(4, 2)(a)


def test_sgd_never_writes_into_the_callers_array_nor_into_one_a_graph_holds():
    array = np.ones(3, np.float32)
    p = Tensor(array, requires_grad=True)
    (p * p).sum().backward()
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(array, [1, 1, 1])
    np.testing.assert_allclose(p.data, [0.8, 0.8, 0.8], rtol=1e-6)


# ---------------------------------------------------------------------------------------------------
# nn
# ---------------------------------------------------------------------------------------------------
class TutorialMLP(nn.Module):
    """The tutorial's model, written as it is there: no super().__init__()."""

    def __init__(self, dtype=np.float32):
        self.fc1 = nn.Linear(784, 128, dtype=dtype)
        self.fc2 = nn.Linear(128, 64, dtype=dtype)
        self.fc3 = nn.Linear(64, 32, dtype=dtype)
        self.fc4 = nn.Linear(32, 10, dtype=dtype)
        self.activation = nn.Sigmoid()

    def forward(self, x):
        x = self.activation(self.fc1(x))
        x = self.activation(self.fc2(x))
        x = self.activation(self.fc3(x))
        return self.fc4(x)


def test_module_discovery_without_super_init():
    model = TutorialMLP()
    names = [name for name, _ in model.named_parameters()]
    assert names == [f"fc{i}.{kind}" for i in range(1, 5) for kind in ("weight", "bias")]
    assert [p.shape for p in model.parameters()][:2] == [(128, 784), (128,)]


def test_module_discovery_in_lists_dicts_and_shared_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 3)]
            self.heads = {"a": nn.Linear(3, 1, bias=False), "b": (nn.Linear(3, 1),)}
            self.scale = Tensor([1.0], requires_grad=True)
            self.constant = Tensor([2.0])
            self.again = self.blocks[0]             # shared: listed once

    net = Net()
    # as PyTorch orders them: the module's own tensors first, then its sub-modules'
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "blocks.0.weight", "blocks.0.bias", "blocks.2.weight", "blocks.2.bias",
        "heads.a.weight", "heads.b.0.weight", "heads.b.0.bias"]
    assert len(list(net.parameters())) == 8


def test_zero_grad_and_state_dict_round_trip():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model(Tensor(rng.normal(size=(2, 3)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(state)
    x = Tensor(rng.normal(size=(5, 3)))
    np.testing.assert_array_equal(model(x).data, other(x).data)
    state["0.weight"] += 1                          # a copy: changing it leaves the model alone
    assert not np.array_equal(model.state_dict()["0.weight"], state["0.weight"])
    with pytest.raises(ValueError, match="0.bias has shape"):
        other.load_state_dict({**state, "0.bias": np.ones(5)})
    with pytest.raises(KeyError, match="missing keys"):
        other.load_state_dict({"0.weight": state["0.weight"]})


def test_state_dict_loads_into_pytorch_and_back():
    torch_or_skip()
    ours = TutorialMLP()
    theirs = torch.nn.Sequential()
    for i, (fan_in, fan_out) in enumerate([(784, 128), (128, 64), (64, 32), (32, 10)], 1):
        theirs.add_module(f"fc{i}", torch.nn.Linear(fan_in, fan_out))
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = rng.random((3, 784), dtype=np.float32)
    h = torch.from_numpy(x)
    for layer in theirs:
        h = layer(h)
        h = torch.sigmoid(h) if layer is not theirs.fc4 else h
    np.testing.assert_allclose(ours(Tensor(x)).data, h.detach().numpy(), rtol=1e-5, atol=1e-6)

    with torch.no_grad():                           # and back: torch's weights into ours
        for p in theirs.parameters():
            p.mul_(-2)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for name, p in ours.named_parameters():
        np.testing.assert_array_equal(p.data, theirs.state_dict()[name].numpy())
        assert p.dtype == np.float32


def test_linear_init_matches_pytorch_distribution():
    torch_or_skip()
    mytorch.manual_seed(0)
    layer = nn.Linear(400, 300)
    reference = torch.nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    for ours, theirs in ((layer.weight.data, reference.weight.detach().numpy()),
                         (layer.bias.data, reference.bias.detach().numpy())):
        # (a float64 draw just below the bound may round up to it in float32: allow that rounding)
        assert np.abs(ours).max() <= np.float32(bound) and np.abs(theirs).max() <= np.float32(bound)
        assert abs(ours.std() - theirs.std()) < 0.1 * bound
        assert abs(ours.std() - bound / np.sqrt(3)) < 0.1 * bound   # uniform(-b, b) has std b/√3
    mytorch.manual_seed(7)
    first = nn.Linear(3, 2).weight.data
    mytorch.manual_seed(7)
    np.testing.assert_array_equal(first, nn.Linear(3, 2).weight.data)


@pytest.mark.parametrize("target_kind", ["index", "onehot", "probabilities"])
@pytest.mark.parametrize("scale", [1.0, 1000.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_pytorch(target_kind, scale, reduction):
    torch_or_skip()
    logits = rng.normal(size=(5, 4)) * scale
    if scale > 1:
        logits = np.sign(logits) * scale           # logits of exactly ±1000
    classes = np.array([0, 3, 1, 1, 2])
    target = {"index": classes, "onehot": np.eye(4)[classes],
              "probabilities": rng.dirichlet(np.ones(4), size=5)}[target_kind]
    ours = Tensor(logits, requires_grad=True)
    loss = nn.CrossEntropyLoss(reduction=reduction)(ours, Tensor(target))
    theirs = torch.tensor(logits, requires_grad=True)
    torch_target = torch.tensor(target) if target_kind != "index" else torch.tensor(classes)
    torch_loss = torch.nn.CrossEntropyLoss(reduction=reduction)(theirs, torch_target)
    upstream = rng.normal(size=loss.shape)
    loss.backward(upstream)
    torch_loss.backward(torch.tensor(upstream))
    assert np.all(np.isfinite(loss.data)) and np.all(np.isfinite(ours.grad))
    np.testing.assert_allclose(loss.data, torch_loss.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_cross_entropy_finite_differences_and_bad_target():
    target = np.array([2, 0, 1])
    check_op(lambda a: nn.CrossEntropyLoss()(a, target), (3, 4),
             torch_fn=lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(target)))
    with pytest.raises(ValueError, match=r"target shape \(4,\)"):
        nn.CrossEntropyLoss()(Tensor(np.ones((3, 4))), np.zeros(4))


def test_mse_loss():
    target = rng.normal(size=(3, 4))
    check_op(lambda a: nn.MSELoss()(a, target),
             (3, 4), torch_fn=lambda a: torch.nn.MSELoss()(a, torch.tensor(target)))


@pytest.mark.parametrize("settings", [dict(lr=0.1), dict(lr=0.05, momentum=0.9),
                                      dict(lr=0.05, momentum=0.9, nesterov=True),
                                      dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
                                      dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.1)],
                         ids=["plain", "momentum", "nesterov", "dampening+wd", "nesterov+wd"])
def test_sgd_matches_torch_over_20_steps(settings):
    torch_or_skip()
    start = rng.normal(size=(3, 2))
    targets = rng.normal(size=(20, 3, 2))
    ours = Tensor(start, requires_grad=True)
    theirs = torch.tensor(start, requires_grad=True)
    opt, torch_opt = optim.SGD([ours], **settings), torch.optim.SGD([theirs], **settings)
    for target in targets:
        (((ours - target) ** 2) * ours.exp()).sum().backward()
        (((theirs - torch.tensor(target)) ** 2) * theirs.exp()).sum().backward()
        opt.step()
        torch_opt.step()
        opt.zero_grad()
        torch_opt.zero_grad()
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_sgd_validates_settings():
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([Tensor([1.0], requires_grad=True)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([], lr=-1)


def test_tutorial_mlp_matches_pytorch_for_20_steps_in_float64():
    torch_or_skip()
    mytorch.manual_seed(1)
    ours = TutorialMLP(dtype=np.float64)
    theirs = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.Sigmoid(), torch.nn.Linear(128, 64),
                                 torch.nn.Sigmoid(), torch.nn.Linear(64, 32), torch.nn.Sigmoid(),
                                 torch.nn.Linear(32, 10)).double()
    with torch.no_grad():
        for layer, (name, p) in zip([m for m in theirs if isinstance(m, torch.nn.Linear)],
                                    list(ours.named_parameters())[::2]):
            layer.weight.copy_(torch.from_numpy(p.data))
            layer.bias.copy_(torch.from_numpy(getattr(ours, name.split(".")[0]).bias.data))
    opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    torch_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    loss_fn, torch_loss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    ours_losses, torch_losses = [], []
    for _ in range(20):
        images = rng.uniform(0, 1, size=(16, 784))
        labels = np.eye(10)[rng.integers(0, 10, 16)]  # one-hot, as the tutorial encodes them
        loss = loss_fn(ours(Tensor(images)), Tensor(labels))
        loss.backward()
        opt.step()
        opt.zero_grad()
        torch_loss = torch_loss_fn(theirs(torch.from_numpy(images)), torch.from_numpy(labels))
        torch_loss.backward()
        torch_opt.step()
        torch_opt.zero_grad()
        ours_losses.append(loss.item())
        torch_losses.append(torch_loss.item())
    np.testing.assert_allclose(ours_losses, torch_losses, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------------
# Packaging promises
# ---------------------------------------------------------------------------------------------------
def test_import_forms_in_a_fresh_interpreter():
    code = ("import mytorch.nn as nn\nimport mytorch.optim as optim\nfrom mytorch import nn as nn2, optim as o2\n"
            "import mytorch\nassert nn is nn2 is mytorch.nn and optim is o2 is mytorch.optim\n"
            "assert nn.Linear and nn.CrossEntropyLoss and optim.SGD\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_mytorch_imports_only_numpy_and_the_standard_library():
    imported = set(re.findall(r"^(?:import|from) (\w+)", (ROOT / "mytorch.py").read_text(), re.M))
    stdlib = sysconfig.get_paths()["stdlib"]
    origins = {name: importlib.util.find_spec(name).origin or "built-in" for name in imported}
    outside = {name for name, origin in origins.items()
               if not (origin in ("built-in", "frozen") or origin.startswith(stdlib))
               or "-packages" in origin}
    assert outside == {"numpy"}


def test_readme_example_runs():
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(example, "README.md", "exec"), {})


# ---------------------------------------------------------------------------------------------------
# train_mnist.py, on tiny synthetic files in MNIST's own IDX format and torchvision's folder layout
# (<root>/MNIST/raw/), so the script's real loading code runs: its IDX reader, the batching
# Dataset, the DataLoader and the collate_fn.
# ---------------------------------------------------------------------------------------------------
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
EPOCH_LINE = re.compile(r"^epoch +(\d+)/(\d+)  train loss (\d+\.\d{4})  test accuracy (\d+\.\d\d)%  "
                        r"\d+\.\d\d s  \(data loading \d+%\)$")
FINAL_LINE = re.compile(r"^final test accuracy: (\d+\.\d\d)% \((\d+) epochs?, \d+\.\d s; "
                        r"\d+\.\d s since the script started\)$")


# -- a tiny IDX writer and a learnable synthetic data set ---------------------------------------------
def write_idx(path, array):
    """IDX: magic 0x0000 08 <ndim> (08 = unsigned bytes), then each dimension as big-endian uint32."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 + array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.tobytes())


def synthetic_digits(count, rng):
    """Each class is a fixed random 28x28 pattern of strokes; each image is its pattern with noise."""
    patterns = np.random.default_rng(1234).random((10, 28, 28)) < 0.25
    labels = rng.integers(0, 10, count)
    flips = rng.random((count, 28, 28)) < 0.05
    images = (patterns[labels] ^ flips) * rng.integers(180, 256, (count, 28, 28))
    return images.astype(np.uint8), labels.astype(np.uint8)


def make_mnist(root, train=1024, test=64, gz=False):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("t10k", test)):
        images, labels = synthetic_digits(count, rng)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    if gz:                               # keep only the .gz versions, as a download would leave them
        for name in FILES:
            with open(raw / name, "rb") as src, gzip.open(raw / f"{name}.gz", "wb", compresslevel=1) as dst:
                dst.write(src.read())
            os.remove(raw / name)
    return raw


@pytest.fixture
def mnist_dir(tmp_path):
    make_mnist(tmp_path)
    return tmp_path


@pytest.fixture
def tm():
    """train_mnist.py, which needs torch and torchvision: its tests skip where they are absent."""
    pytest.importorskip("torchvision")
    import train_mnist
    return train_mnist


@pytest.fixture
def no_download(tm, monkeypatch):
    """Point torchvision's mirrors at a closed local port: downloads fail at once, offline or not."""
    from torchvision.datasets import MNIST
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])


def run(tm, capsys, *argv):
    status = tm.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


# -- training end to end --------------------------------------------------------------------------------
def test_trains_end_to_end(tm, mnist_dir, capsys):
    # small batches and a small constant lr: on these synthetic digits this sigmoid network needs a
    # few hundred steps before its loss starts to fall, and lr 0.8 stalls it
    status, lines, err = run(tm, capsys, "--data", mnist_dir, "--epochs", 3, "--batch-size", 4,
                             "--lr", 0.1, "--schedule", "constant")
    assert status == 0, err
    assert lines[0].startswith("MNIST: 1024 training / 64 test images")
    assert "SGD lr 0.1, Nesterov momentum 0.9, constant lr, batch 4, seed 0" in lines[0]
    epochs = [EPOCH_LINE.match(line) for line in lines[1:4]]
    assert all(epochs), lines
    assert [int(m.group(1)) for m in epochs] == [1, 2, 3]
    losses = [float(m.group(3)) for m in epochs]
    assert losses[-1] < losses[0] - 0.3, losses             # it learns
    final = FINAL_LINE.match(lines[-1])
    assert final and final.group(1) == epochs[-1].group(4) and final.group(2) == "3", lines[-1]
    assert float(final.group(1)) > 25                        # well above chance (10%)
    assert "\r" not in "".join(lines)                        # no progress redraws when not on a terminal


def test_quiet_prints_only_the_result_and_save_keeps_the_weights(tm, mnist_dir, tmp_path, capsys):
    weights = tmp_path / "weights.npz"
    status, lines, _ = run(tm, capsys, "--data", mnist_dir, "--epochs", 1, "--quiet", "--save", weights)
    assert status == 0
    assert len(lines) == 1 and FINAL_LINE.match(lines[0]), lines
    assert "(1 epoch, " in lines[0]
    saved = np.load(weights)
    assert sorted(saved.files) == sorted(f"fc{i}.{p}" for i in range(1, 5) for p in ("weight", "bias"))
    assert saved["fc1.weight"].shape == (128, 784) and saved["fc1.weight"].dtype == np.float32


def test_progress_line_redraws_in_place_on_a_terminal_and_is_throttled(tm, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    progress = tm.Progress("epoch  1/1  ", interval=60)
    for batch in range(1, 101):
        progress.show(batch, 100, loss=0.5, samples_per_second=1000)
    progress.done()
    drawn = screen.getvalue()
    assert drawn.count("\r") == 3                          # first batch, last batch, final clear
    assert "\repoch  1/1  batch  100/100  loss 0.5000  1,000 samples/s" in drawn
    assert drawn.endswith("\r\033[K")


def test_same_seed_same_numbers(tm, mnist_dir, capsys):
    def losses(seed):
        _, lines, _ = run(tm, capsys, "--data", mnist_dir, "--epochs", 2, "--seed", seed)
        return [EPOCH_LINE.match(line).group(3, 4) for line in lines[1:3]]

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


def test_gzipped_files_are_accepted(tm, tmp_path, capsys, no_download):
    make_mnist(tmp_path, gz=True)
    status, lines, err = run(tm, capsys, "--data", tmp_path, "--epochs", 1, "--quiet")
    assert status == 0, err
    assert FINAL_LINE.match(lines[-1])


def test_collate_gives_float32_tensors_without_grad(tm, mnist_dir):
    train_set, test_set = tm.load_mnist(str(mnist_dir))
    loader, _ = tm.make_loaders(train_set, test_set, batch_size=32, seed=0)
    images, labels = next(iter(loader))
    assert images.shape == (32, 784) and images.data.dtype == np.float32
    assert not images.requires_grad
    assert 0 <= images.data.min() and images.data.max() <= 1
    # class indices, as torchvision gives them (CrossEntropyLoss's fast path), not one-hot rows
    assert labels.shape == (32,) and (labels.data == np.round(labels.data)).all()
    assert 0 <= labels.data.min() and labels.data.max() <= 9 and len(np.unique(labels.data)) > 3


def test_compare_torch_runs_the_same_recipe_in_both(tm, mnist_dir, capsys):
    status, lines, err = run(tm, capsys, "--data", mnist_dir, "--epochs", 2, "--batch-size", 4,
                             "--lr", 0.1, "--compare-torch")
    assert status == 0, err
    assert lines[0].startswith("mytorch (numpy ") and ", 1 thread each: " in lines[0], lines[0]
    assert "Nesterov momentum 0.9, lr decayed linearly to 0 over 512 steps, batch 4" in lines[0]
    rows = [line.split("|") for line in lines if re.match(r"^\s+\d \|", line)]
    assert len(rows) == 2
    for row in rows:   # same weights, batches, optimiser and schedule: the same numbers, to 4 decimals
        my_loss, torch_loss = row[1].split()
        my_acc, torch_acc = row[2].split()
        assert my_loss == torch_loss and my_acc == torch_acc, row
    assert float(rows[1][1].split()[0]) < float(rows[0][1].split()[0])
    assert lines[-1].startswith("final test accuracy: mytorch ") and "mytorch/torch" in lines[-1]


def test_benchmark_times_three_versions_of_the_same_step(tm):
    steps = tm.benchmark_steps(batch_size=4)        # raises if their first two losses disagree
    assert sorted(steps) == ["mytorch", "numpy", "torch"]


def test_benchmark_reports_the_median_of_paired_ratios_with_one_thread_each(tm, capsys, monkeypatch):
    # a fake clock, in ms per step: (the first call per library only sizes the blocks), then 3 rounds.
    # Per round mytorch/numpy is 1, 2, 0.5 (median 1.00x), though the medians' ratio would be 2/1;
    # mytorch/torch is 0.5 in every round.
    clock = {"mytorch_step": [1, 1, 2, 3], "numpy_step": [1, 1, 1, 6], "torch_step": [1, 2, 4, 6]}
    clock = {name: times * 2 for name, times in clock.items()}            # batch 64, then batch 4
    monkeypatch.setattr(tm, "timed", lambda step, repeats: 1e-3 * clock[step.__name__].pop(0))
    tm.benchmark(rounds=3, pause=0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(", 1 thread each") and "3 rounds" in lines[0], lines[0]
    assert tm.numpy_blas_threads() == 1 and torch.get_num_threads() == 1
    for batch, start in ((64, 1), (4, 4)):
        assert lines[start] == (f"batch {batch:2d}: mytorch 2000.0 us, numpy 1000.0 us, torch 4000.0 us"
                                f"  (medians)")
        assert lines[start + 1].split() == ["mytorch/numpy", "1.00x", "(middle", "half", "of", "the",
                                            "rounds", "0.75-1.50x)"]
        assert lines[start + 2].split() == ["mytorch/torch", "0.50x", "(middle", "half", "of", "the",
                                            "rounds", "0.50-0.50x)"]
    assert all(not times for times in clock.values())


def test_numpy_step_matches_pytorch_gradients_and_update(tm):
    """The hand-written numpy step (class-index cross-entropy, Nesterov SGD) against torch, weights too."""
    rng = np.random.default_rng(5)
    state = {f"fc{i}.{p}": rng.normal(size=shape).astype(np.float32) * 0.3
             for i, (o, n) in enumerate(((128, 784), (64, 128), (32, 64), (10, 32)), 1)
             for p, shape in (("weight", (o, n)), ("bias", (o,)))}
    x, y = rng.random((8, 784), dtype=np.float32), rng.integers(0, 10, 8)
    mine = tm.NumpyMLP(state, lr=0.5, momentum=0.9)
    reference = tm.torch_mnist()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    sgd = torch.optim.SGD(reference.parameters(), lr=0.5, momentum=0.9, nesterov=True)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        sgd.step()
        sgd.zero_grad()
        assert float(mine.step(x, y)) == pytest.approx(loss.item(), rel=1e-5)
    for i in range(4):
        np.testing.assert_allclose(mine.weights[i], reference.state_dict()[f"fc{i + 1}.weight"].numpy(),
                                   rtol=1e-4, atol=1e-6)


# -- missing and broken data -------------------------------------------------------------------------
def assert_data_help(err, root):
    assert "Traceback" not in err
    for name in FILES:
        assert name in err
    assert os.path.join(str(root), "MNIST", "raw", "") in err and "--data" in err


def test_missing_data_exits_with_2_and_says_what_to_put_where(tm, tmp_path, capsys, no_download):
    root = tmp_path / "nowhere"
    status, lines, err = run(tm, capsys, "--data", root, "--epochs", 1)
    assert status == 2
    assert lines == []
    assert "could not be downloaded" in err
    assert_data_help(err, root)
    assert not root.exists()                    # the failed download leaves no folders behind


def test_failed_download_removes_only_the_folders_it_made(tm, tmp_path, capsys, no_download):
    (tmp_path / "MNIST").mkdir()                # there before: stays; MNIST/raw/ is made, then removed
    status, _, err = run(tm, capsys, "--data", tmp_path)
    assert status == 2 and "could not be downloaded" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["MNIST"]


def test_truncated_file_exits_with_2(tm, mnist_dir, capsys, no_download):
    path = mnist_dir / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])
    status, _, err = run(tm, capsys, "--data", mnist_dir)
    assert status == 2
    assert "could not read train-images-idx3-ubyte and train-labels-idx1-ubyte" in err
    assert_data_help(err, mnist_dir)


def test_images_and_labels_that_disagree_exit_with_2(tm, mnist_dir, capsys, no_download):
    write_idx(mnist_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", np.zeros(10))   # 64 images, 10 labels
    status, _, err = run(tm, capsys, "--data", mnist_dir)
    assert status == 2
    assert ("t10k-images-idx3-ubyte holds images of shape (64, 28, 28) and "
            "t10k-labels-idx1-ubyte 10 labels") in err
    assert_data_help(err, mnist_dir)


def test_read_idx_reads_what_write_idx_wrote_and_rejects_the_rest(tm, tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "ok", array)
    np.testing.assert_array_equal(tm.read_idx(tmp_path / "ok"), array)
    data = (tmp_path / "ok").read_bytes()
    for name, broken, message in (("short", data[:-1], "23 bytes of data for shape (2, 3, 4)"),
                                  ("long", data + b"\0", "25 bytes of data for shape (2, 3, 4)"),
                                  ("header", data[:9], "header is cut short"),
                                  ("floats", b"\0\0\x0d\x01" + data[4:], "not an IDX file")):
        (tmp_path / name).write_bytes(broken)
        with pytest.raises(ValueError, match=re.escape(message)):
            tm.read_idx(tmp_path / name)


# -- the command line's edges ---------------------------------------------------------------------------
def test_help_answers_without_importing_torch():
    """--help (and a mistyped option) must not wait for torch's import, ~2 s here."""
    code = ("import sys, train_mnist\n"
            "for argv in (['--help'], ['--lr', '-1']):\n"
            "    try:\n"
            "        train_mnist.main(argv)\n"
            "    except SystemExit as exit:\n"
            "        print('exit', exit.code, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-2:] == ["exit 0 False", "exit 2 False"], done.stdout + done.stderr
    assert "--tutorial" in done.stdout and "barely learns" in done.stdout


@pytest.mark.parametrize("argv", [["--lr", "-1"], ["--lr", "0"], ["--lr", "nan"], ["--lr", "x"],
                                  ["--momentum", "-0.5"], ["--momentum", "1"], ["--epochs", "0"],
                                  ["--batch-size", "-4"], ["--epochs", "1.5"], ["--seed", "-1"],
                                  ["--momentum", "0", "--nesterov"], ["--benchmark", "--save", "w.npz"]],
                         ids=" ".join)
def test_bad_options_are_argparse_errors(tm, capsys, argv):
    with pytest.raises(SystemExit) as exit:
        tm.main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert "Traceback" not in err and "train_mnist.py: error: " in err, err
    assert any(option in err for option in argv if option.startswith("--")), err


def test_tutorial_settings_are_one_flag_away_and_options_still_win(tm):
    args = tm.parse_args([])
    assert (args.lr, args.momentum, args.nesterov, args.batch_size, args.epochs, args.schedule) == \
        (0.8, 0.9, True, 128, 5, "linear")
    args = tm.parse_args(["--tutorial"])
    assert (args.lr, args.momentum, args.nesterov, args.batch_size, args.epochs, args.schedule) == \
        (0.001, 0.0, False, 4, 5, "constant")
    args = tm.parse_args(["--tutorial", "--lr", "0.01", "--epochs", "1", "--no-nesterov", "--momentum", "0.5"])
    assert (args.lr, args.momentum, args.nesterov, args.batch_size, args.epochs) == (0.01, 0.5, False, 4, 1)


def test_ctrl_c_stops_with_one_line_and_status_130(tm, mnist_dir, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(tm, "train_one_epoch", interrupted)
    status, lines, err = run(tm, capsys, "--data", mnist_dir)
    assert status == 130
    assert err == "train_mnist.py: interrupted\n"
    assert len(lines) == 1 and lines[0].startswith("MNIST: ")          # the header, printed before


def test_save_writes_exactly_the_path_it_prints(tm, mnist_dir, tmp_path, capsys):
    path = tmp_path / "weights"                  # no .npz: np.savez(path) would write weights.npz
    status, lines, _ = run(tm, capsys, "--data", mnist_dir, "--epochs", 1, "--save", path)
    assert status == 0
    assert lines[-1] == f"saved the trained weights to {path}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MNIST", "weights"]
    assert np.load(path)["fc4.bias"].shape == (10,)


def test_save_into_a_missing_folder_fails_before_training(tm, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tm, "load_mnist", lambda root: pytest.fail("loaded data before checking --save"))
    for target, message in ((tmp_path / "no" / "w.npz", "does not exist"), (tmp_path, "that is a folder")):
        with pytest.raises(SystemExit) as exit:
            tm.main(["--save", str(target)])
        assert exit.value.code == 2 and message in capsys.readouterr().err


# -- the learning-rate schedule: PyTorch's LambdaLR, on param_groups -------------------------------------
def test_lambda_lr_gives_torchs_lr_sequence(tm):
    steps = 7
    sgd = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.8, momentum=0.9, nesterov=True)
    reference = torch.optim.lr_scheduler.LambdaLR(sgd, lambda step: 1 - step / steps)
    ours = tm.LambdaLR(optim.SGD([Tensor(np.zeros(2), requires_grad=True)], lr=0.8, momentum=0.9,
                                 nesterov=True), lambda step: 1 - step / steps)
    seen = []
    for _ in range(steps + 1):
        assert ours.get_last_lr() == reference.get_last_lr()
        seen.append(ours.get_last_lr()[0])
        sgd.step()
        reference.step()
        ours.step()
    assert seen[0] == 0.8 and seen[-1] == 0.0 and seen == sorted(seen, reverse=True)
    assert ours.last_epoch == reference.last_epoch == steps + 1
    assert ours.optimizer.param_groups[0]["initial_lr"] == 0.8


def test_the_schedule_drives_mytorchs_sgd(tm):
    w = Tensor(np.ones(3), requires_grad=True)
    optimizer, scheduler = tm.make_optimizer(optim.SGD, [w], tm.parse_args(["--momentum", "0"]), steps=2)
    moved = []
    for _ in range(3):
        before = w.data.copy()
        (w * w).sum().backward()            # gradient 2w
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        moved.append(float((before - w.data)[0] / (2 * before[0])))      # the lr this step used
    assert moved == pytest.approx([0.8, 0.4, 0.0])
