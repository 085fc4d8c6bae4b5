"""nn and optim with PyTorch's Module API: print(model), walking modules, buffers, casting, state_dict of tied
layers and load_state_dict's errors, Sequential(OrderedDict), ModuleList, nn.functional, optimizer state_dict,
the errors for names mytorch lacks. Each test compares with PyTorch where it is installed (and skips only
that comparison, or the test, where it is not). To be merged into test_mytorch.py's "nn and optim" section."""
import sys
from collections import OrderedDict

import numpy as np
import pytest

import mytorch
import mytorch.nn.functional as F
from mytorch import nn, optim

try:                   # PyTorch is the reference where it is installed; its tests skip where it is not
    import torch
except ImportError:
    torch = None


def torch_or_skip():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    return torch


def torch_copy(ours, theirs):
    """Give the PyTorch model `theirs` our model's parameters and buffers (by name)."""
    theirs.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in ours.state_dict().items()})
    return theirs


# -- two libraries, one model: the same code builds it from `lib.nn` ----------------------------------
def make_net(lib):
    """A model with a nested Sequential(OrderedDict), a layer used under two names, a buffer, a ModuleList."""
    lib_nn = lib.nn

    class Net(lib_nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = lib_nn.Sequential(OrderedDict(
                [("fc", lib_nn.Linear(3, 4)), ("act", lib_nn.ReLU()), ("drop", lib_nn.Dropout(0.25))]))
            self.head = lib_nn.Linear(4, 2)
            self.tied = self.head                   # the same layer again, under a second name
            self.blocks = lib_nn.ModuleList([lib_nn.Tanh(), lib_nn.Tanh(), lib_nn.Sigmoid()])
            self.register_buffer("running", lib.zeros(2))

        def forward(self, x):
            h = self.encoder(x)
            for block in self.blocks:
                h = block(h)
            return self.tied(h) + self.running

    return Net()


# ---------------------------------------------------------------------------------------------------
# print(model)
# ---------------------------------------------------------------------------------------------------
def layers(lib_nn):
    return lib_nn.Sequential(lib_nn.Flatten(), lib_nn.Linear(4, 3), lib_nn.ReLU(), lib_nn.Sigmoid(), lib_nn.Tanh(),
                             lib_nn.Dropout(0.2), lib_nn.ReLU(inplace=True), lib_nn.Flatten(0, 1),
                             lib_nn.Dropout(p=0.5, inplace=True), lib_nn.Linear(3, 1, bias=False))


def test_print_model_is_pytorchs_text():
    torch_or_skip()
    assert repr(layers(nn)) == repr(layers(torch.nn))
    assert str(make_net(mytorch)) == str(make_net(torch))        # nesting, names, a tied layer twice
    module_list = [nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Sequential(nn.Tanh())]),
                   torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU(),
                                        torch.nn.Sequential(torch.nn.Tanh())])]
    assert repr(module_list[0]) == repr(module_list[1])         # '(0-1): 2 x Linear(...)', as PyTorch groups
    assert "(0-1): 2 x Linear(in_features=2, out_features=2, bias=True)" in repr(module_list[0])
    for ours, theirs in [(nn.Sequential(), torch.nn.Sequential()), (nn.ModuleList(), torch.nn.ModuleList()),
                         (nn.MSELoss(), torch.nn.MSELoss()), (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
                         (nn.ModuleList([nn.ReLU()] * 3), torch.nn.ModuleList([torch.nn.ReLU()] * 3))]:
        assert repr(ours) == repr(theirs)


def test_print_model_shows_a_layers_own_extra_repr():
    class Scale(nn.Module):
        def __init__(self, factor):
            self.factor = factor

        def forward(self, x):
            return x * self.factor

        def extra_repr(self):
            return f"factor={self.factor}"

    assert repr(nn.Sequential(Scale(2), Scale(3))) == "Sequential(\n  (0): Scale(factor=2)\n  (1): Scale(factor=3)\n)"


# ---------------------------------------------------------------------------------------------------
# Walking a model: modules, children, apply, buffers
# ---------------------------------------------------------------------------------------------------
def test_modules_children_and_their_names_as_pytorch():
    torch_or_skip()
    ours, theirs = make_net(mytorch), make_net(torch)
    names = [name for name, _ in ours.named_modules()]
    assert names == [name for name, _ in theirs.named_modules()]
    assert "tied" not in names and names.count("head") == 1          # a shared module once, first name
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]
    assert [name for name, _ in ours.named_children()] == [name for name, _ in theirs.named_children()]
    assert [type(m).__name__ for m in ours.children()] == ["Sequential", "Linear", "ModuleList"]
    assert [name for name, _ in ours.named_modules(prefix="model")][:2] == ["model", "model.encoder"]
    assert len(list(ours.named_modules(remove_duplicate=False))) == len(names) + 1    # 'tied' too
    assert next(ours.named_parameters())[0] == "encoder.fc.weight"       # iterators, as PyTorch's


def test_apply_visits_children_first_then_the_module_and_returns_it():
    torch_or_skip()
    ours, theirs = make_net(mytorch), make_net(torch)
    seen_ours, seen_theirs = [], []
    assert ours.apply(lambda m: seen_ours.append(type(m).__name__)) is ours
    theirs.apply(lambda m: seen_theirs.append(type(m).__name__))
    assert seen_ours == seen_theirs and seen_ours[-1] == "Net"

    def init_zero(module):                      # the usual use: initialise every Linear
        if isinstance(module, nn.Linear):
            module.weight.data = np.zeros_like(module.weight.data)
    ours.apply(init_zero)
    assert all(not np.any(p.data) for name, p in ours.named_parameters() if name.endswith("weight"))


def test_requires_grad_freezes_and_unfreezes_every_parameter():
    model = make_net(mytorch)
    assert model.requires_grad_(False) is model
    assert all(not p.requires_grad for p in model.parameters()) and len(list(model.parameters())) == 4
    x = mytorch.randn(5, 3)
    assert model(x).requires_grad is False                  # nothing to train: no graph
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    model(x).sum().backward()
    assert model.head.weight.grad.shape == (2, 4)


def test_buffers_are_saved_and_cast_with_the_model_but_not_trained():
    torch_or_skip()
    ours, theirs = make_net(mytorch), make_net(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())        # buffers in PyTorch's order
    assert [name for name, _ in ours.named_buffers()] == [name for name, _ in theirs.named_buffers()] == ["running"]
    assert list(ours.buffers()) == [ours.running]
    assert all(p is not ours.running for p in ours.parameters())
    counter = nn.Linear(2, 2)
    counter.register_buffer("steps", mytorch.tensor([3]))             # int64, left alone by double()
    counter.register_buffer("later", None)                             # None: not in state_dict, as PyTorch
    assert list(counter.state_dict()) == ["weight", "bias", "steps"]
    counter.double()
    assert counter.steps.dtype == np.int64 and counter.weight.dtype == np.float64
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer 'x'"):
        counter.register_buffer("x", 3)
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer 'x'"):
        torch.nn.Linear(2, 2).register_buffer("x", 3)


def test_double_float_and_to_cast_in_place_and_return_the_model():
    torch_or_skip()
    model = make_net(mytorch)
    weight = model.head.weight
    model(mytorch.randn(2, 3)).sum().backward()
    assert model.double() is model and model.head.weight is weight          # the same Parameter objects
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)} and model.running.dtype == np.float64
    assert weight.grad.dtype == np.float64                                   # grads too, as PyTorch
    theirs = make_net(torch).double()
    assert {str(p.dtype) for p in theirs.parameters()} == {"torch.float64"} and theirs.running.dtype == torch.float64
    model.double()(mytorch.tensor(np.ones((2, 3)))).sum().backward()          # float64 data runs
    assert model.float() is model and model.running.dtype == np.float32
    assert model.to(mytorch.float64) is model and weight.dtype == np.float64
    assert model.to("cpu") is model and model.to("cpu", mytorch.float32) is model and weight.dtype == np.float32
    assert model.to(dtype=mytorch.float64) is model and weight.dtype == np.float64
    with pytest.raises(TypeError, match="only accepts floating point"):
        model.to(np.int64)           # (mytorch has no int64 name yet)
    with pytest.raises(TypeError, match="only accepts floating point"):
        theirs.to(torch.int64)
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda")


# ---------------------------------------------------------------------------------------------------
# state_dict and load_state_dict
# ---------------------------------------------------------------------------------------------------
def test_state_dict_of_a_tied_layer_has_every_name_and_loads_into_pytorch():
    torch_or_skip()
    mytorch.manual_seed(1)
    ours, theirs = make_net(mytorch), make_net(torch)
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict())
    assert "tied.weight" in state and np.array_equal(state["tied.weight"], state["head.weight"])
    torch_copy(ours, theirs.eval())
    x = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours.eval()(mytorch.tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)
    other = make_net(mytorch)
    assert other.load_state_dict(state) == ([], [])
    assert other.head is other.tied and np.array_equal(other.head.weight.data, ours.head.weight.data)


def load_error(model, state, strict=True):
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state, strict=strict)
    return str(error.value)


def test_load_state_dict_raises_pytorchs_errors():
    torch_or_skip()
    ours, theirs = make_net(mytorch), make_net(torch)
    state = {name: np.array(value) for name, value in ours.state_dict().items()}
    del state["head.bias"], state["encoder.fc.bias"]
    state["extra"] = np.zeros(1, np.float32)
    for model, to_lib in [(ours, np.asarray), (theirs, torch.from_numpy)]:
        text = load_error(model, {name: to_lib(value) for name, value in state.items()})
        assert text.startswith("Error(s) in loading state_dict for Net:")
        assert 'Missing key(s) in state_dict: "encoder.fc.bias", "head.bias". ' in text
        assert 'Unexpected key(s) in state_dict: "extra". ' in text
        assert text.index("Missing") < text.index("Unexpected")
    wrong_shape = dict(ours.state_dict(), **{"head.weight": np.zeros((3, 3), np.float32)})
    for model, to_lib in [(ours, np.asarray), (theirs, torch.from_numpy)]:
        for strict in (True, False):               # a shape that differs: an error even when not strict
            text = load_error(model, {name: to_lib(value) for name, value in wrong_shape.items()}, strict)
            assert "size mismatch for head.weight: copying a param with shape" in text
            assert "the shape in current model is" in text


def test_load_state_dict_not_strict_loads_what_fits_and_says_what_did_not():
    torch_or_skip()
    source, ours, theirs = make_net(mytorch), make_net(mytorch), make_net(torch)
    state = source.state_dict()
    del state["encoder.fc.bias"]
    state["extra.weight"] = np.ones(2, np.float32)
    result = ours.load_state_dict(state, strict=False)
    expected = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    assert result._fields == expected._fields == ("missing_keys", "unexpected_keys")
    assert result.missing_keys == expected.missing_keys == ["encoder.fc.bias"]
    assert result.unexpected_keys == expected.unexpected_keys == ["extra.weight"]
    assert np.array_equal(ours.head.weight.data, source.head.weight.data)
    assert not np.array_equal(ours.encoder.fc.bias.data, source.encoder.fc.bias.data)    # left as it was
    assert ours.load_state_dict(source.state_dict()) == ([], [])


# ---------------------------------------------------------------------------------------------------
# Containers: Sequential(OrderedDict), ModuleList
# ---------------------------------------------------------------------------------------------------
def test_sequential_from_an_ordered_dict_names_its_layers():
    torch_or_skip()
    def make(lib_nn):
        return lib_nn.Sequential(OrderedDict([("hidden", lib_nn.Linear(3, 5)), ("act", lib_nn.Tanh()),
                                              ("out", lib_nn.Linear(5, 2))]))
    ours, theirs = make(nn), make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["hidden.weight", "hidden.bias", "out.weight",
                                                                    "out.bias"]
    assert len(ours) == len(theirs) == 3
    assert ours[0] is ours.hidden and ours[-1] is ours.out and list(ours) == [ours.hidden, ours.act, ours.out]
    assert repr(ours[1:]) == repr(theirs[1:])                         # a slice keeps the names
    assert isinstance(ours[1:], nn.Sequential) and ours[1:][0] is ours.act
    torch_copy(ours, theirs)
    x = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(mytorch.tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)
    assert ours.append(nn.Sigmoid()) is ours and ours.extend([nn.Tanh()]) is ours      # as PyTorch's Sequential
    theirs.append(torch.nn.Sigmoid()).extend([torch.nn.Tanh()])
    assert repr(ours) == repr(theirs) and len(ours) == 5
    np.testing.assert_allclose(ours(mytorch.tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_sequential_runs_a_module_given_twice_twice_and_refuses_a_class():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, layer)
    x = mytorch.randn(3, 2)
    np.testing.assert_allclose(model(x).data, layer(layer(x)).data)
    assert len(model) == 2 and len(list(model.parameters())) == 2      # its parameters once
    with pytest.raises(TypeError, match="is not a Module"):
        nn.Sequential(nn.ReLU)                                         # the class, not a layer
    if torch is not None:
        with pytest.raises(TypeError, match="is not a Module"):
            torch.nn.Sequential(torch.nn.ReLU)


def test_module_list_registers_its_layers_as_pytorchs_does():
    torch_or_skip()
    assert len(nn.ModuleList()) == len(nn.ModuleList(None)) == len(torch.nn.ModuleList(None)) == 0
    ours, theirs = nn.ModuleList([nn.Linear(2, 3)]), torch.nn.ModuleList([torch.nn.Linear(2, 3)])
    assert ours.append(nn.ReLU()) is ours
    theirs.append(torch.nn.ReLU())
    assert ours.extend([nn.Linear(3, 1), nn.Sigmoid()]) is ours
    theirs.extend([torch.nn.Linear(3, 1), torch.nn.Sigmoid()])
    assert len(ours) == len(theirs) == 4 and repr(ours) == repr(theirs)
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(ours[2], nn.Linear) and ours[-1] is list(ours)[3]
    assert repr(ours[1:3]) == repr(theirs[1:3]) and isinstance(ours[1:3], nn.ModuleList)   # renumbered
    with pytest.raises(TypeError, match="is not a Module"):
        ours.append(3)
    with pytest.raises(IndexError):
        ours[4]

    class Stack(nn.Module):                    # the usual use: a model's layers in a list
        def __init__(self):
            self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    stack = Stack()
    assert [name for name, _ in stack.named_parameters()][-1] == "layers.2.bias"
    stack(mytorch.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in stack.parameters())


# ---------------------------------------------------------------------------------------------------
# ReLU(inplace), zero_grad(set_to_none), CrossEntropyLoss(weight)
# ---------------------------------------------------------------------------------------------------
def test_relu_inplace_gives_pytorchs_result_and_gradient():
    torch_or_skip()
    x = np.random.default_rng(4).normal(size=(3, 4))
    ours = mytorch.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    hidden = ours * 2
    out = nn.ReLU(inplace=True)(hidden)
    expected = torch.nn.ReLU(inplace=True)(theirs * 2)
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(hidden.data, x * 2)   # mytorch: computed out of place (its docstring says so)
    np.testing.assert_array_equal(F.relu(mytorch.tensor(x), inplace=True).data, np.maximum(x, 0))


@pytest.mark.parametrize("owner", ["optimizer", "module"])
def test_zero_grad_set_to_none_as_pytorch(owner):
    torch_or_skip()
    model, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    ours_zero, theirs_zero = {"optimizer": (opt.zero_grad, topt.zero_grad),
                              "module": (model.zero_grad, theirs.zero_grad)}[owner]
    model(mytorch.randn(4, 3)).sum().backward()
    theirs(torch.randn(4, 3)).sum().backward()
    grad, their_grad = model.weight.grad, theirs.weight.grad
    ours_zero(set_to_none=False)
    theirs_zero(set_to_none=False)
    assert model.weight.grad is grad and not np.any(grad.data) and grad.shape == (2, 3)    # the same, zeroed
    assert theirs.weight.grad is their_grad and not their_grad.any()
    ours_zero()                                                                          # default: None
    theirs_zero()
    assert model.weight.grad is None and model.bias.grad is None and theirs.weight.grad is None
    ours_zero(set_to_none=False)                     # a grad that is None stays None
    assert model.weight.grad is None


def cross_entropy_pair(reduction, weight, target, logits):
    """(ours, theirs): loss values and logits gradients of weighted cross-entropy, float64."""
    ours_x = mytorch.tensor(logits, requires_grad=True)
    theirs_x = torch.tensor(logits, requires_grad=True)
    loss = nn.CrossEntropyLoss(mytorch.tensor(weight), reduction=reduction)(ours_x, mytorch.tensor(target))
    expected = torch.nn.CrossEntropyLoss(torch.tensor(weight), reduction=reduction)(theirs_x, torch.tensor(target))
    upstream = np.random.default_rng(5).normal(size=np.shape(loss.data))
    (loss * mytorch.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    return (loss.data, ours_x.grad.data), (expected.detach().numpy(), theirs_x.grad.numpy())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target_kind", ["labels", "labels with ignored", "probabilities", "unbatched"])
def test_cross_entropy_with_class_weights_as_pytorch(reduction, target_kind):
    torch_or_skip()
    rng = np.random.default_rng(6)
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    logits = rng.normal(size=(6, 4))
    target = {"labels": np.array([0, 3, 1, 1, 2, 3]),
              "labels with ignored": np.array([0, -100, 1, 3, -100, 2]),
              "probabilities": rng.dirichlet(np.ones(4), size=6),
              "unbatched": np.array(3)}[target_kind]
    if target_kind == "unbatched":
        logits = logits[0]
    ours, theirs = cross_entropy_pair(reduction, weight, target, logits)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-14)     # values
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10, atol=1e-14)     # gradients
    if target_kind == "labels" and reduction == "mean":     # PyTorch's weighted mean, written out
        losses = -(logits - np.log(np.exp(logits).sum(1, keepdims=True)))[np.arange(6), target]
        assert np.isclose(ours[0], (weight[target] * losses).sum() / weight[target].sum(), rtol=1e-12)


def test_cross_entropy_weight_first_positional_and_its_errors():
    torch_or_skip()
    logits, labels = np.random.default_rng(7).normal(size=(3, 3)).astype(np.float32), np.array([2, 0, 1])
    weight = mytorch.tensor([1.0, 0.0, 2.0])
    loss = nn.CrossEntropyLoss(weight)(mytorch.tensor(logits), mytorch.tensor(labels))     # the weight, not ignored
    expected = torch.nn.CrossEntropyLoss(torch.tensor([1.0, 0.0, 2.0]))(torch.tensor(logits), torch.tensor(labels))
    assert loss.dtype == np.float32 and np.isclose(loss.item(), expected.item(), rtol=1e-6)
    assert not np.isclose(loss.item(), nn.CrossEntropyLoss()(mytorch.tensor(logits), mytorch.tensor(labels)).item())
    assert list(nn.CrossEntropyLoss(weight).state_dict()) == list(torch.nn.CrossEntropyLoss(
        torch.ones(3)).state_dict()) == ["weight"]                                   # a buffer, as PyTorch
    all_ignored = F.cross_entropy(mytorch.tensor(logits), mytorch.tensor([-100] * 3), weight)
    assert np.isnan(all_ignored.item())
    assert np.isnan(torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor([-100] * 3),
                                                      torch.tensor([1.0, 0.0, 2.0])).item())
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 classes"):
        nn.CrossEntropyLoss(mytorch.ones(2))(mytorch.tensor(logits), mytorch.tensor(labels))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 classes"):
        torch.nn.CrossEntropyLoss(torch.ones(2))(torch.tensor(logits), torch.tensor(labels))
    with pytest.raises(RuntimeError, match="dtype"):           # PyTorch: "expected scalar type Float ..."
        F.cross_entropy(mytorch.tensor(logits), mytorch.tensor(labels), mytorch.tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="expected scalar type"):
        torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels),
                                          torch.tensor(np.ones(3)))
    for unsupported in [dict(label_smoothing=0.1), dict(size_average=False), dict(reduce=False)]:
        with pytest.raises(TypeError, match=list(unsupported)[0]):          # never silently ignored
            nn.CrossEntropyLoss(**unsupported)
        with pytest.raises(TypeError, match=list(unsupported)[0]):
            F.cross_entropy(mytorch.tensor(logits), mytorch.tensor(labels), **unsupported)
    with pytest.raises(TypeError):
        nn.MSELoss("sum")           # PyTorch reads that as the deprecated size_average; here: an error


# ---------------------------------------------------------------------------------------------------
# nn.functional
# ---------------------------------------------------------------------------------------------------
def test_functional_imports_in_every_form():
    import mytorch.nn.functional as functional
    from mytorch.nn import functional as functional_too
    assert functional is functional_too is mytorch.nn.functional is F is sys.modules["mytorch.nn.functional"]
    assert {"relu", "sigmoid", "tanh", "softmax", "log_softmax", "cross_entropy", "mse_loss", "linear",
            "dropout", "one_hot"} <= set(vars(F))


@pytest.mark.parametrize("name, args", [("relu", ()), ("sigmoid", ()), ("tanh", ()), ("softmax", (1,)),
                                        ("log_softmax", (0,)), ("softmax", (-1,))])
def test_functional_activations_match_pytorch_values_and_gradients(name, args):
    torch_or_skip()
    x = np.random.default_rng(8).normal(size=(4, 5))
    ours, theirs = mytorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = getattr(F, name)(ours, *args), getattr(torch.nn.functional, name)(theirs, *args)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-15)
    upstream = np.random.default_rng(9).normal(size=x.shape)
    (out * mytorch.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_functional_losses_and_linear_match_pytorch():
    torch_or_skip()
    rng = np.random.default_rng(10)
    x, w, b = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    ours = [mytorch.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    target = rng.normal(size=(4, 2))
    labels = np.array([1, 0, 1, 1])
    for reduction in ("mean", "sum"):
        out = F.linear(*ours)
        expected = torch.nn.functional.linear(*theirs)
        loss = F.mse_loss(out, mytorch.tensor(target), reduction=reduction) + F.cross_entropy(out, mytorch.tensor(labels))
        expected_loss = (torch.nn.functional.mse_loss(expected, torch.tensor(target), reduction=reduction)
                         + torch.nn.functional.cross_entropy(expected, torch.tensor(labels)))
        np.testing.assert_allclose(loss.item(), expected_loss.item(), rtol=1e-12)
        loss.backward()
        expected_loss.backward()
        for a, t in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_mse_shape_warning_points_at_the_callers_line_from_the_layer_and_the_function():
    with pytest.warns(UserWarning, match="target shape") as caught:
        nn.MSELoss()(mytorch.Tensor([[1.0], [2.0]]), mytorch.Tensor([1.0, 2.0]))
    with pytest.warns(UserWarning, match="target shape") as caught_too:
        F.mse_loss(mytorch.Tensor([[1.0], [2.0]]), mytorch.Tensor([1.0, 2.0]))
    assert caught[0].filename == caught_too[0].filename == __file__


def test_functional_dropout_is_the_layers_code():
    x = mytorch.ones(200, 50)
    mytorch.manual_seed(11)
    by_layer = nn.Dropout(0.3)(x)
    mytorch.manual_seed(11)
    by_function = F.dropout(x, 0.3)                              # training=True by default, as PyTorch
    np.testing.assert_array_equal(by_layer.data, by_function.data)
    kept = by_function.data[by_function.data != 0]
    np.testing.assert_allclose(kept, 1 / 0.7, rtol=1e-6)
    assert abs((by_function.data == 0).mean() - 0.3) < 0.02
    assert F.dropout(x, 0.3, training=False) is x and F.dropout(x, 0.0) is x
    assert not np.any(F.dropout(x, 1.0).data)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(-0.1)
    if torch is not None:
        with pytest.raises(ValueError, match="between 0 and 1"):
            torch.nn.functional.dropout(torch.ones(2), 1.5)


def test_layers_call_the_functions_of_nn_functional(monkeypatch):
    """The same code path: replace a function of F and the layer runs the replacement."""
    x = mytorch.randn(3, 4)
    for name in ("sigmoid", "tanh", "softmax", "log_softmax"):      # these are the Tensor methods themselves
        assert getattr(F, name) is getattr(mytorch.Tensor, name)
    for owner, name, layer, args in [
            (mytorch, "relu", nn.ReLU(), (x,)), (mytorch.Tensor, "sigmoid", nn.Sigmoid(), (x,)),
            (mytorch.Tensor, "tanh", nn.Tanh(), (x,)), (mytorch, "dropout", nn.Dropout(0.5), (x,)),
            (mytorch, "linear", nn.Linear(4, 2), (x,)), (mytorch, "mse_loss", nn.MSELoss(), (x, x)),
            (mytorch, "cross_entropy", nn.CrossEntropyLoss(), (x, mytorch.tensor([0, 1, 2])))]:
        calls = []

        def spy(*args, **kwargs):
            calls.append(name)
            return "spied"
        assert getattr(F, name) is getattr(owner, name)            # one function, reached from F
        monkeypatch.setattr(owner, name, spy)
        assert layer(*args) == "spied" and calls == [name]
        monkeypatch.undo()


def test_one_hot_as_pytorch():
    torch_or_skip()
    labels = np.array([0, 2, 1, 2])
    for num_classes in (-1, 3, 5):
        ours = F.one_hot(mytorch.tensor(labels), num_classes)
        theirs = torch.nn.functional.one_hot(torch.tensor(labels), num_classes)
        assert ours.dtype == np.int64 and not ours.requires_grad
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    np.testing.assert_array_equal(F.one_hot(mytorch.tensor([[1], [0]])).data,
                                  torch.nn.functional.one_hot(torch.tensor([[1], [0]])).numpy())   # (2, 1, 2)
    assert F.one_hot(mytorch.tensor(np.zeros(0, np.int64)), 3).shape == (0, 3)
    with pytest.raises(RuntimeError, match="num_classes"):          # PyTorch: "Can not infer total number ..."
        F.one_hot(mytorch.tensor(np.zeros(0, np.int64)))
    with pytest.raises(RuntimeError, match="Can not infer total number of classes"):
        torch.nn.functional.one_hot(torch.zeros(0, dtype=torch.int64))
    for bad, words in [(mytorch.Tensor([0, 1]), "LongTensor"), (mytorch.tensor([0, 3]), "Class values must be"),
                       (mytorch.tensor([-1, 1]), "Class values must be")]:
        with pytest.raises(RuntimeError, match=words):
            F.one_hot(bad, 3 if words.startswith("Class") else -1)
        with pytest.raises(RuntimeError, match=words.split()[0]):
            torch.nn.functional.one_hot(torch.from_numpy(bad.data), 3 if words.startswith("Class") else -1)


# ---------------------------------------------------------------------------------------------------
# optimizer.state_dict / load_state_dict
# ---------------------------------------------------------------------------------------------------
def train_steps(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, y = rng.normal(size=(8, 3)), rng.integers(0, 2, 8)
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(mytorch.tensor(x)), mytorch.tensor(y)).backward()
        opt.step()


def double_mlp(seed):
    mytorch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()


OPTIMIZERS = {"SGD momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3),
              "SGD nesterov": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
              "Adam": lambda params: optim.Adam(params, lr=0.01, betas=(0.8, 0.99))}


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_optimizer_state_dict_resumes_training_exactly(kind):
    uninterrupted = double_mlp(12)
    opt = OPTIMIZERS[kind](uninterrupted.parameters())
    train_steps(uninterrupted, opt, 3, seed=13)
    saved_model, saved_opt = uninterrupted.state_dict(), opt.state_dict()
    train_steps(uninterrupted, opt, 3, seed=14)

    resumed = double_mlp(99)                       # other weights, a fresh optimizer (another lr too)
    resumed.load_state_dict(saved_model)
    fresh = OPTIMIZERS[kind](resumed.parameters())
    fresh.param_groups[0]["lr"] = 123.0
    fresh.load_state_dict(saved_opt)
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    train_steps(resumed, fresh, 3, seed=14)
    for a, b in zip(uninterrupted.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    # the saved state is a copy: training on changed neither it nor, through it, the resumed optimizer
    assert saved_opt["state"][0] is not fresh.state_dict()["state"][0]
    before = {i: {k: np.array(v) for k, v in s.items()} for i, s in saved_opt["state"].items()}
    train_steps(resumed, fresh, 1, seed=15)
    for i, s in saved_opt["state"].items():
        for key, value in s.items():
            np.testing.assert_array_equal(value, before[i][key])


@pytest.mark.parametrize("kind", ["SGD momentum", "Adam"])
def test_optimizer_state_dict_has_pytorchs_layout_and_values(kind):
    torch_or_skip()
    model = double_mlp(16)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    torch_copy(model, theirs)
    opt = OPTIMIZERS[kind](model.parameters())
    settings = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    topt = getattr(torch.optim, kind.split()[0])(theirs.parameters(), **settings)
    rng = np.random.default_rng(17)
    for _ in range(3):
        x, y = rng.normal(size=(8, 3)), rng.integers(0, 2, 8)
        opt.zero_grad()
        topt.zero_grad()
        nn.CrossEntropyLoss()(model(mytorch.tensor(x)), mytorch.tensor(y)).backward()
        torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step()
        topt.step()
    ours, expected = opt.state_dict(), topt.state_dict()
    assert list(ours) == list(expected) == ["state", "param_groups"]
    assert list(ours["state"]) == list(expected["state"]) == [0, 1, 2, 3]
    assert ours["param_groups"][0]["params"] == expected["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert set(ours["param_groups"][0]) <= set(expected["param_groups"][0])
    for i in range(4):
        assert list(ours["state"][i]) == list(expected["state"][i])
        for key, value in ours["state"][i].items():
            np.testing.assert_allclose(value, np.asarray(expected["state"][i][key]), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        OPTIMIZERS[kind](list(model.parameters())[:2]).load_state_dict(ours)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        getattr(torch.optim, kind.split()[0])(list(theirs.parameters())[:2], lr=0.1).load_state_dict(expected)


# ---------------------------------------------------------------------------------------------------
# Names PyTorch has and mytorch lacks; plain defs
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("module, name, advice", [
    ("nn", "Conv2d", "Module subclass"), ("nn", "BatchNorm1d", "Module subclass"),
    ("optim", "RMSprop", "Optimizer subclass"),
    ("nn.functional", "gelu", "a def"), ("optim.lr_scheduler", "CosineAnnealingLR", "build it")])
def test_a_name_mytorch_lacks_says_so_and_how_to_add_it(module, name, advice):
    ours = mytorch
    for part in module.split("."):
        ours = getattr(ours, part)
    if torch is not None:                      # PyTorch really has it
        theirs = torch
        for part in module.split("."):
            theirs = getattr(theirs, part)
        assert hasattr(theirs, name)
    with pytest.raises(AttributeError, match=f"mytorch.{module} has no '{name}'") as error:
        getattr(ours, name)
    assert advice in str(error.value) and "mytorch" in str(error.value)
    assert not hasattr(ours, name)
    with pytest.raises(ImportError):
        exec(f"from mytorch.{module} import {name}")


def test_nn_and_optim_are_plain_defs_not_lambdas():
    """Tracebacks say what ran: every method and function in nn and optim has its own name."""
    for namespace in (nn, nn.functional, optim, optim.lr_scheduler):
        for member in vars(namespace).values():
            functions = [member] if callable(member) and not isinstance(member, type) else []
            if isinstance(member, type):
                functions = [f for f in vars(member).values() if callable(f)]
            for function in functions:
                assert getattr(function, "__name__", "") != "<lambda>", (namespace.__name__, member)
