"""How fast is MyTorch? train_mnist.py's model and training, timed against PyTorch and plain numpy.

    python bench_mnist.py                   # one training step: mytorch vs PyTorch vs numpy (no data needed)
    python bench_mnist.py --compare-torch   # train_mnist.py's run beside the same run in PyTorch
    python bench_mnist.py --compare-torch --data ~/datasets --epochs 2    # with train_mnist.py's options

The step benchmark times one forward + backward + SGD step (Nesterov momentum, float32) three ways: the
MyTorch model of train_mnist.py, the same network in PyTorch, and the same computation written out by
hand in numpy as tightly as numpy allows (NumpyMLP below). The three take turns in rounds, each timing
a block of about 50 ms after a short pause, the first place rotating; each round gives the ratios
mytorch/numpy and mytorch/torch, and their medians are the result. A ratio taken within one round
sees about the same machine load on both sides, so load that comes and goes on a shared machine
touches both sides of a ratio alike.

Everything runs on one thread: numpy's BLAS (OPENBLAS_NUM_THREADS=1, set below before numpy loads, and
threadpoolctl's limit) and torch (torch.set_num_threads(1)). The benchmark prints what the libraries
report.
"""
import math
import os
import sys
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"      # before numpy loads OpenBLAS (train_mnist imports numpy)

try:
    import numpy as np  # noqa: E402

    import mytorch
    import mytorch.nn as nn
    import mytorch.optim as optim
    import train_mnist as tm        # the model, data, loop and command line that this file times and runs
    from train_mnist import MyTorchMNIST
except KeyboardInterrupt:           # Ctrl-C while the libraries load: as in main()
    print("bench_mnist.py: interrupted", file=sys.stderr)
    sys.exit(130)


# ===================================================================================================
# One thread each
# ===================================================================================================
def one_thread_each():
    """Limit every thread pool in this process to one thread: numpy's BLAS (through threadpoolctl)
    and torch's. Returns torch and the largest thread count the libraries then report."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits
    threadpool_limits(limits=1)
    torch.set_num_threads(1)
    return torch, max([torch.get_num_threads()] + [pool["num_threads"] for pool in threadpool_info()])


# ===================================================================================================
# The same network in PyTorch, and in hand-written numpy
# ===================================================================================================
def torch_mnist():
    """train_mnist.py's network in real PyTorch, line for line (torch is imported only when used)."""
    import torch

    class TorchMNIST(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(784, 128)
            self.fc2 = torch.nn.Linear(128, 64)
            self.fc3 = torch.nn.Linear(64, 32)
            self.fc4 = torch.nn.Linear(32, 10)

            self.activation = torch.nn.Sigmoid()

        def forward(self, x):
            x = self.activation(self.fc1(x))
            x = self.activation(self.fc2(x))
            x = self.activation(self.fc3(x))
            x = self.fc4(x)
            return x

    return TorchMNIST()


def carve(flat, shapes):
    """Consecutive views into one flat array, one view per shape, each stored column by column: then
    a weight's W.T is C-contiguous, BLAS's fastest case for x @ W.T. (MyTorch's Linear keeps
    PyTorch's row-by-row order, in which view() works as in PyTorch.)"""
    views, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        views.append(flat[start:start + size].reshape(shape, order="F"))
        start += size
    return views


class NumpyMLP:
    """The same network, loss and SGD step (Nesterov momentum, torch's rule) written out by hand in
    numpy as tightly as numpy allows: it stands for "bookkeeping is free", the speed an autograd engine
    on numpy could reach at best. Every array is made once, here; each step only writes into them
    (out=, in-place operators), so it allocates no layer-sized temporary. The parameters, gradients and
    momentum buffers each live in one flat array (the layers' weights are views into it, stored column
    by column, the order BLAS reads fastest in x @ W.T), so the SGD step is six numpy calls for all
    eight parameters."""

    SIZES = (784, 128, 64, 32, 10)

    def __init__(self, state_dict, lr, momentum, batch_size):
        self.lr, self.momentum = np.float32(lr), np.float32(momentum)
        layers = list(zip(self.SIZES, self.SIZES[1:]))
        shapes = [shape for n_in, n_out in layers for shape in ((n_out, n_in), (n_out,))]
        total = sum(math.prod(shape) for shape in shapes)
        self.params, self.grads, self.velocity, self.scratch = (np.zeros(total, np.float32) for _ in range(4))
        params, grads = carve(self.params, shapes), carve(self.grads, shapes)
        self.weights, self.biases = params[0::2], params[1::2]
        self.weight_grads, self.bias_grads = grads[0::2], grads[1::2]
        for i, (w, b) in enumerate(zip(self.weights, self.biases), 1):
            np.copyto(w, state_dict[f"fc{i}.weight"])
            np.copyto(b, state_dict[f"fc{i}.bias"])
        # per batch: each layer's output (its sigmoid, then overwritten by the backward pass), the
        # gradient at each layer's output, and a few per-row numbers for the loss
        self.outputs = [np.empty((batch_size, n_out), np.float32) for _, n_out in layers]
        self.deltas = [np.empty((batch_size, n_out), np.float32) for _, n_out in layers]
        self.row_max, self.sums, self.log_sums = (np.empty((batch_size, 1), np.float32) for _ in range(3))
        self.row_starts = np.arange(batch_size) * self.SIZES[-1]    # flat index of each row's class 0
        self.picks = np.empty(batch_size, np.int64)
        self.picked = np.empty(batch_size, np.float32)

    def step(self, x, labels):
        """One forward + backward + SGD step on images x (B, 784) float32 and class indices labels (B,)."""
        batch = np.float32(len(x))
        w, b, out, delta = self.weights, self.biases, self.outputs, self.deltas
        inputs = [x] + out[:3]                               # each layer's input
        for i in range(4):
            np.matmul(inputs[i], w[i].T, out=out[i])
            out[i] += b[i]
            if i < 3:                                        # sigmoid 1 / (1 + exp(-z)), in place
                np.negative(out[i], out=out[i])
                np.exp(out[i], out=out[i])
                out[i] += 1
                np.reciprocal(out[i], out=out[i])
        # cross-entropy on class indices: log(sum(exp(z))) - z[label], with z shifted by its row's max
        logits, grad = out[3], delta[3]
        np.max(logits, axis=1, keepdims=True, out=self.row_max)
        logits -= self.row_max
        np.add(self.row_starts, labels, out=self.picks)      # flat index of each row's right class
        np.take(logits, self.picks, out=self.picked, mode="clip")
        np.exp(logits, out=grad)
        np.sum(grad, axis=1, keepdims=True, out=self.sums)
        np.log(self.sums, out=self.log_sums)
        loss = (self.log_sums.sum() - self.picked.sum()) / batch
        # d loss / d logits = (softmax - one_hot(labels)) / B
        self.sums *= batch
        grad /= self.sums
        np.take(grad, self.picks, out=self.picked, mode="clip")
        self.picked -= 1 / batch
        np.put(grad, self.picks, self.picked, mode="clip")
        # backward, layer by layer down: dW = delta.T @ input (written as its transpose, input.T @
        # delta, into dW.T, which is C-contiguous), db = sum of delta's rows
        for i in (3, 2, 1, 0):
            np.matmul(inputs[i].T, delta[i], out=self.weight_grads[i].T)
            np.sum(delta[i], axis=0, out=self.bias_grads[i])
            if i:                       # through the weights, then the sigmoid: σ'(z) = s(1 - s)
                s = inputs[i]
                np.matmul(delta[i], w[i], out=delta[i - 1])
                delta[i - 1] *= s
                np.subtract(1, s, out=s)                     # s is not needed after this
                delta[i - 1] *= s
        # SGD, torch's rule with Nesterov: v = momentum·v + g (v = g at the first step, as v starts at
        # 0); p = p - lr·(g + momentum·v). One call per line for all parameters at once.
        v, g, step = self.velocity, self.grads, self.scratch
        v *= self.momentum
        v += g
        np.multiply(v, self.momentum, out=step)
        step += g
        step *= self.lr
        self.params -= step
        return loss


# ===================================================================================================
# The step benchmark
# ===================================================================================================
def benchmark_steps(batch_size, lr=0.01, momentum=0.9):
    """Three zero-argument functions, each doing one step on the same random batch from the same weights
    (a small lr: thousands of steps on one batch must not drive the numbers into a slow corner)."""
    import torch
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)                 # class indices, int64 as torch wants them

    mytorch.manual_seed(0)
    model, loss_fn = MyTorchMNIST(), nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=True)
    images, labels = mytorch.from_numpy(x), mytorch.from_numpy(y)

    torch_model, torch_loss_fn = torch_mnist(), torch.nn.CrossEntropyLoss()
    torch_model.load_state_dict({name: torch.from_numpy(w) for name, w in model.state_dict().items()})
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=lr, momentum=momentum, nesterov=True)
    torch_images, torch_labels = torch.from_numpy(x), torch.from_numpy(y)

    numpy_model = NumpyMLP(model.state_dict(), lr, momentum, batch_size)

    mytorch_step = training_step(model, loss_fn, optimizer, images, labels)
    torch_step = training_step(torch_model, torch_loss_fn, torch_optimizer, torch_images, torch_labels)

    def numpy_step():
        return float(numpy_model.step(x, y))

    # the three start from the same weights, so their first two losses must agree: a check that we
    # time three implementations of the same computation (the second loss checks the SGD step too)
    losses = [[step() for _ in range(2)] for step in (mytorch_step, torch_step, numpy_step)]
    if not np.allclose(losses, losses[0], rtol=1e-4):
        raise AssertionError(f"mytorch, torch and numpy disagree on the first two losses: {losses}")
    return {"mytorch": mytorch_step, "numpy": numpy_step, "torch": torch_step}


def training_step(model, loss_fn, optimizer, images, labels):
    """One training step as written for either library (the same code for mytorch and PyTorch): a
    function that runs it and returns the loss."""
    def step():
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()
    return step


def timed(step, repeats):
    """Seconds per call of step(), over `repeats` calls in a row."""
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def take_turns(steps, rounds, pause, block):
    """Per round, every step runs a block of about `block` seconds after `pause` seconds' rest, the
    first place rotating; returns each step's per-call times, one per round."""
    names = list(steps)
    # rough per-step cost, to size the blocks (50 ms: long enough for the clock, short to repeat)
    repeats = {name: max(1, round(block / timed(step, 20))) for name, step in steps.items()}
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            time.sleep(pause)            # let the previous library's threads go idle first
            times[name].append(timed(steps[name], repeats[name]))
    return {name: np.array(t) for name, t in times.items()}


def benchmark(rounds=21, pause=0.05, block=0.05, batch_sizes=(64, 4)):
    """Print, per batch size, each step's median time and the medians of the per-round ratios."""
    torch, threads = one_thread_each()
    print(f"one training step (forward + backward + SGD Nesterov momentum), float32, {rounds} rounds; "
          f"numpy {np.__version__} and torch {torch.__version__}, {tm.plural(threads, 'thread')} each")
    for batch_size in batch_sizes:
        times = take_turns(benchmark_steps(batch_size), rounds, pause, block)
        print(f"batch {batch_size:2d}: " + ", ".join(f"{name} {1e6 * np.median(t):6.1f} us"
                                                      for name, t in times.items()) + "  (medians)")
        for other in ("numpy", "torch"):
            low, median, high = np.percentile(times["mytorch"] / times[other], [25, 50, 75])
            print(f"          mytorch/{other:5s} {median:.2f}x  "
                  f"(middle half of the rounds {low:.2f}-{high:.2f}x)")


# ===================================================================================================
# --compare-torch: train_mnist.py's run and the identical run in PyTorch, epoch by epoch
# ===================================================================================================
def torch_collate_fn(batch):
    """The same numbers as train_mnist.collate_fn, as torch tensors (for the PyTorch model)."""
    import torch
    images, labels = batch
    return torch.from_numpy(tm.scale(images)), torch.from_numpy(labels.astype(np.int64))


def compare_with_torch(args, train_set, test_set):
    torch, threads = one_thread_each()
    mytorch.manual_seed(args.seed)
    model, torch_model = MyTorchMNIST(), torch_mnist()
    # identical starting point: parameter names are the same in both ('fc1.weight', ...)
    torch_model.load_state_dict({name: torch.from_numpy(w) for name, w in model.state_dict().items()})

    # identical batches: two loaders whose shufflers start from the same seed
    loader, test_loader = tm.make_loaders(train_set, test_set, args.batch_size, args.seed)
    torch_loader, torch_test_loader = tm.make_loaders(train_set, test_set, args.batch_size, args.seed,
                                                      collate=torch_collate_fn)
    steps = args.epochs * len(loader)
    # the same recipe, each from its own library: mytorch.optim's SGD and LambdaLR, and torch.optim's
    runs = {
        "mytorch": (model, loader, test_loader, nn.CrossEntropyLoss(), mytorch,
                    *tm.make_optimizer(model.parameters(), args, steps)),
        "torch": (torch_model, torch_loader, torch_test_loader, torch.nn.CrossEntropyLoss(), torch,
                  *tm.make_optimizer(torch_model.parameters(), args, steps, optim=torch.optim)),
    }

    print(f"mytorch (numpy {np.__version__}) vs PyTorch {torch.__version__}, {tm.plural(threads, 'thread')} "
          f"each: same initial weights, same batches, {tm.describe(args, steps)}")
    print(f"{'':>5} | {'train loss':^19} | {'test accuracy':^17} | {'seconds per epoch':^26}")
    print(f"{'epoch':>5} | {'mytorch':>9} {'torch':>9} | {'mytorch':>8} {'torch':>8} | "
          f"{'mytorch':>8} {'torch':>8} {'ratio':>8}")
    totals = {name: 0.0 for name in runs}
    for epoch in range(1, args.epochs + 1):
        row = {}
        # interleaved, one epoch each, so that both see the same machine conditions
        for name, (net, train_loader, eval_loader, loss_fn, framework, optimizer, scheduler) in runs.items():
            time.sleep(0.2)      # let the other library's threads go idle before timing
            loss, seconds, _ = tm.train_one_epoch(net, train_loader, loss_fn, optimizer, scheduler,
                                                  tm.Progress(f"epoch {epoch:2d} {name:7s} ", not args.quiet))
            row[name] = (loss, tm.evaluate(net, eval_loader, framework), seconds)
            totals[name] += seconds
        (my_loss, my_acc, my_s), (t_loss, t_acc, t_s) = row["mytorch"], row["torch"]
        if not args.quiet:
            print(f"{epoch:5d} | {my_loss:9.4f} {t_loss:9.4f} | {100 * my_acc:7.2f}% {100 * t_acc:7.2f}% | "
                  f"{my_s:8.2f} {t_s:8.2f} {my_s / t_s:7.2f}x", flush=True)
    print(f"final test accuracy: mytorch {100 * my_acc:.2f}%, torch {100 * t_acc:.2f}%; training time "
          f"mytorch {totals['mytorch']:.1f} s, torch {totals['torch']:.1f} s "
          f"(mytorch/torch {totals['mytorch'] / totals['torch']:.2f}x)")
    if args.save:
        tm.save_weights(model, args.save)
        print(f"saved mytorch's trained weights to {args.save}")


# ===================================================================================================
# Command line: train_mnist.py's options, and this file's own
# ===================================================================================================
def parse_args(argv=None):
    parser = tm.make_parser("bench_mnist.py", "Time MyTorch against PyTorch and numpy on train_mnist.py's "
                                              "model. The training options apply to --compare-torch.")
    parser.add_argument("--compare-torch", action="store_true",
                        help="train the same model with mytorch and PyTorch, one epoch each in turn")
    parser.add_argument("--rounds", type=tm.number(int, 1), default=21,
                        help="rounds of the step benchmark (default 21)")
    given = vars(parser.parse_args(argv))
    if not given["compare_torch"]:       # a training option on the step benchmark would do nothing
        unused = [f"--{key.replace('_', '-')}" for key, value in given.items()
                  if key not in ("compare_torch", "rounds") and value != parser.get_default(key)]
        if unused:
            parser.error(f"{', '.join(unused)}: training options apply only to --compare-torch")
    return tm.parse_args(argv, parser)


def main(argv=None):
    args = parse_args(argv)
    try:
        if not args.compare_torch:
            benchmark(rounds=args.rounds)
            return 0
        try:
            train_set, test_set = tm.load_mnist(args.data)
        except tm.DataError as error:
            print(f"bench_mnist.py: {error}", file=sys.stderr)
            return 2
        compare_with_torch(args, train_set, test_set)
        return 0
    except KeyboardInterrupt:
        return tm.interrupted("bench_mnist.py")


if __name__ == "__main__":
    sys.exit(main())
