"""Train the tutorial's MNIST network with MyTorch, written exactly as you would write it with PyTorch.

    python train_mnist.py                      # ~12 epochs, prints the final test accuracy (~97.5%)
    python train_mnist.py --data ~/datasets    # MNIST lives in ~/datasets/MNIST/raw/
    python train_mnist.py --compare-torch      # the same run with real PyTorch, side by side
    python train_mnist.py --benchmark          # time one training step: mytorch vs PyTorch vs numpy

The model is a 784-128-64-32-10 perceptron with sigmoid activations, trained with cross-entropy and
SGD with momentum. MNIST comes from torchvision and is fed through a torch DataLoader whose
collate_fn turns each batch into mytorch Tensors: we reuse PyTorch's data tools and replace only the
part this project is about (tensors, autograd, layers, optimiser).
"""
import argparse
import gzip
import os
import shutil
import socket
import sys
import time

# One BLAS thread for numpy (set before numpy loads OpenBLAS). This network's matrices are too small
# for a second thread to help: one epoch takes the same time with one or two. But a second thread
# spins while it waits for work, and as soon as anything else runs on this 2-core machine (another
# training, a test run), the spinning threads crowd each other out: measured 0.9 s -> 27 s per epoch.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (must come after the line above)
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler
from torchvision.datasets import MNIST

import mytorch
import mytorch.nn as nn
import mytorch.optim as optim


# ===================================================================================================
# The model: the tutorial's network, as a student would write it in PyTorch
# ===================================================================================================
class MyTorchMNIST(nn.Module):

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 32)
        self.fc4 = nn.Linear(32, 10)

        self.activation = nn.Sigmoid()

    def forward(self, x):
        x = self.activation(self.fc1(x))
        x = self.activation(self.fc2(x))
        x = self.activation(self.fc3(x))
        x = self.fc4(x)        # raw scores (logits): CrossEntropyLoss applies the softmax itself
        return x


class TorchMNIST(torch.nn.Module):
    """The same network in real PyTorch, line for line (used by --compare-torch and --benchmark)."""

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


# ===================================================================================================
# Data: torchvision's MNIST, a torch DataLoader, and a collate_fn that makes mytorch Tensors
# ===================================================================================================
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DataError(Exception):
    """MNIST is missing or unreadable; the message tells the user how to fix it."""


def data_help(root, problem):
    raw = os.path.join(root, "MNIST", "raw", "")
    files = "\n".join(f"    {name}" for name in MNIST_FILES)
    return (f"train_mnist.py: {problem}\n"
            f"Put these four MNIST files (or their .gz versions) in {raw}\n{files}\n"
            f"or point --data at the folder that holds MNIST/raw/ (now: --data {root}).")


def load_mnist(root):
    """The training and test sets as torchvision MNIST datasets, downloaded if they are missing."""
    raw = os.path.join(root, "MNIST", "raw")
    unpack_gzipped(raw)
    if not all(os.path.isfile(os.path.join(raw, name)) for name in MNIST_FILES):
        download_mnist(root)
    return read_split(root, train=True), read_split(root, train=False)


def read_split(root, train):
    images_file, labels_file = MNIST_FILES[:2] if train else MNIST_FILES[2:]
    try:
        dataset = MNIST(root, train=train)
    except (AssertionError, ValueError, TypeError, KeyError, IndexError, RuntimeError, OSError) as error:
        # torchvision's IDX reader fails in many ways on a truncated or foreign file
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise DataError(data_help(root, f"could not read {images_file} and {labels_file} "
                                        f"(truncated or corrupt?): {reason}"))
    # not 60000 / 10000 images: any consistent set will do (the tests use tiny ones)
    images, labels = dataset.data, dataset.targets
    largest = int(labels.max()) if len(labels) else None
    if images.shape[1:] != (28, 28) or len(images) != len(labels) or not len(images) or largest > 9:
        raise DataError(data_help(root, f"{images_file} holds images of shape {tuple(images.shape)} and "
                                        f"{labels_file} {len(labels)} labels (largest {largest}); "
                                        f"expected N images of 28x28 and N labels from 0 to 9"))
    return dataset


def unpack_gzipped(raw):
    """torchvision reads only the unpacked files; it unpacks a .gz only if it downloaded it itself."""
    for name in MNIST_FILES:
        path = os.path.join(raw, name)
        if not os.path.exists(path) and os.path.isfile(path + ".gz"):
            try:
                with gzip.open(path + ".gz", "rb") as packed, open(path + ".part", "wb") as unpacked:
                    shutil.copyfileobj(packed, unpacked)
                os.replace(path + ".part", path)      # never leave a half-written file under the real name
            except (OSError, EOFError) as error:      # gzip.BadGzipFile is an OSError
                raise DataError(data_help(os.path.dirname(os.path.dirname(raw)),
                                          f"could not unpack {path}.gz: {error}"))


def download_mnist(root):
    socket.setdefaulttimeout(10)       # without network, fail in seconds rather than hang on a mirror
    try:
        MNIST(root, train=True, download=True)
    except (RuntimeError, OSError) as error:                # torchvision wraps URLErrors in a RuntimeError
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise DataError(data_help(root, f"MNIST was not found in {os.path.join(root, 'MNIST', 'raw')} and "
                                        f"could not be downloaded: {reason}"))
    finally:
        socket.setdefaulttimeout(None)


class MNISTBatches(Dataset):
    """MNIST that hands out a whole batch per lookup: dataset[[7, 3, 42]] -> (images, labels).

    A plain DataLoader asks the dataset for one image at a time, and torchvision turns each into a PIL
    image: that costs about as much as training on it. Asking for a list of indices lets the loader
    slice the (N, 28, 28) uint8 tensor that torchvision already holds in memory, in one go."""

    def __init__(self, mnist):
        # numpy views of torchvision's uint8 tensors (no copy). Slicing the torch tensors instead
        # would run a multi-threaded torch op between numpy's matrix products: the two libraries'
        # worker threads then fight over the cores (epoch 0.8 s -> 0.95 s; 7 s with 2 BLAS threads).
        self.images, self.labels = mnist.data.numpy(), mnist.targets.numpy()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, indices):
        return self.images[indices], self.labels[indices]


ONE_HOT = np.eye(10, dtype=np.float32)     # row k is the one-hot encoding of the digit k


def collate_fn(batch):
    """(uint8 images (B, 28, 28), labels (B,)) -> mytorch Tensors: images (B, 784) in [0, 1] and
    one-hot labels (B, 10), as the tutorial teaches, but for the whole batch at once (no loop per image)."""
    images, labels = batch
    # float32 first, then scale: uint8 / 255 would give float64, and everything after it would be
    # twice as slow. The images are plain Tensors (no requires_grad): we never need their gradient.
    images = images.reshape(len(images), 784).astype(np.float32) / 255
    labels = ONE_HOT[labels]
    return mytorch.Tensor(images), mytorch.Tensor(labels)


def torch_collate_fn(batch):
    """The same numbers as collate_fn, as torch tensors (for the PyTorch model)."""
    images, labels = collate_fn(batch)
    return torch.from_numpy(images.numpy()), torch.from_numpy(labels.numpy())


def make_loaders(train_set, test_set, batch_size, seed, collate=collate_fn):
    """A shuffled training loader and an in-order test loader.

    The sampler yields lists of indices (BatchSampler), so batch_size=None tells the DataLoader not to
    batch again: each list goes to MNISTBatches in one lookup, then straight to collate. The shuffle
    has its own seeded generator: the same seed gives the same batches, in every run and every model."""
    train, test = MNISTBatches(train_set), MNISTBatches(test_set)
    shuffle = RandomSampler(train, generator=torch.Generator().manual_seed(seed))
    train_loader = DataLoader(train, sampler=BatchSampler(shuffle, batch_size, drop_last=False),
                              batch_size=None, collate_fn=collate)
    # one big batch at a time for evaluation: no graph is built, so memory is no concern
    test_loader = DataLoader(test, sampler=BatchSampler(SequentialSampler(test), 1000, drop_last=False),
                             batch_size=None, collate_fn=collate)
    return train_loader, test_loader


# ===================================================================================================
# Training and evaluation (the same functions serve the mytorch and the PyTorch model)
# ===================================================================================================
def train_one_epoch(model, loader, loss_fn, optimizer, progress):
    """One pass over the training data; returns (mean loss, seconds, seconds spent waiting for data)."""
    total_loss, seen, data_time = 0.0, 0, 0.0
    start = ready = time.perf_counter()
    for batch, (images, labels) in enumerate(loader, 1):
        data_time += time.perf_counter() - ready          # how long the loader made us wait

        pred = model(images)
        loss = loss_fn(pred, labels)

        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

        total_loss += loss.item() * len(images)
        seen += len(images)
        progress.show(batch, len(loader), total_loss / seen, seen / (time.perf_counter() - start))
        ready = time.perf_counter()
    progress.done()
    return total_loss / seen, time.perf_counter() - start, data_time


def evaluate(model, loader, framework=mytorch):
    """Fraction of test images whose highest score is the right digit. `framework` is mytorch or torch."""
    correct = 0
    with framework.no_grad():           # no graph, no gradients: evaluation only reads the weights
        for images, labels in loader:
            _, predicted = model(images).max(dim=1)
            correct += int((predicted.numpy() == labels.numpy().argmax(axis=1)).sum())
    return correct / len(loader.dataset)


class Progress:
    """A status line for the running epoch, redrawn in place with '\\r' on a terminal.

    Drawn at most every `interval` seconds, so it costs nothing next to the training; off when the
    output goes to a file or a pipe, where '\\r' redraws would only pile up."""

    def __init__(self, label="", enabled=True, interval=0.2):
        self.label, self.interval = label, interval
        self.enabled = enabled and sys.stdout.isatty()
        self.last = 0.0

    def show(self, batch, batches, loss, samples_per_second):
        now = time.perf_counter()
        if self.enabled and (now - self.last >= self.interval or batch == batches):
            self.last = now
            print(f"\r{self.label}batch {batch:4d}/{batches}  loss {loss:.4f}  "
                  f"{samples_per_second:,.0f} samples/s ", end="", flush=True)

    def done(self):
        if self.enabled:
            print("\r\033[K", end="", flush=True)         # clear the line for the epoch summary


# ===================================================================================================
# The default run
# ===================================================================================================
def seed_everything(seed):
    """Same seed, same numbers: mytorch's weight init, numpy and torch (the shuffle has its own generator)."""
    mytorch.manual_seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(args, train_set, test_set):
    seed_everything(args.seed)
    train_loader, test_loader = make_loaders(train_set, test_set, args.batch_size, args.seed)

    model = MyTorchMNIST()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)

    say = (lambda *a, **k: None) if args.quiet else print
    say(f"MNIST: {len(train_set)} training / {len(test_set)} test images; MLP 784-128-64-32-10 (sigmoid); "
        f"SGD lr {args.lr} momentum {args.momentum}, batch {args.batch_size}, seed {args.seed}")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        label = f"epoch {epoch:2d}/{args.epochs}  "
        loss, seconds, data_time = train_one_epoch(model, train_loader, loss_fn, optimizer,
                                                   Progress(label, enabled=not args.quiet))
        accuracy = evaluate(model, test_loader)
        say(f"{label}train loss {loss:.4f}  test accuracy {100 * accuracy:.2f}%  "
            f"{seconds:.2f} s  (data loading {100 * data_time / seconds:.0f}%)", flush=True)

    print(f"final test accuracy: {100 * accuracy:.2f}% ({args.epochs} epochs, "
          f"{time.perf_counter() - start:.1f} s)")
    if args.save:
        np.savez(args.save, **model.state_dict())
        say(f"saved the trained weights to {args.save}")


# ===================================================================================================
# --compare-torch: the identical run with real PyTorch, epoch by epoch
# ===================================================================================================
def compare_with_torch(args, train_set, test_set):
    seed_everything(args.seed)
    model = MyTorchMNIST()
    torch_model = TorchMNIST()
    # identical starting point: parameter names are the same in both ('fc1.weight', ...)
    torch_model.load_state_dict({name: torch.from_numpy(w) for name, w in model.state_dict().items()})

    # identical batches: two loaders whose shufflers start from the same seed
    loader, test_loader = make_loaders(train_set, test_set, args.batch_size, args.seed)
    torch_loader, torch_test_loader = make_loaders(train_set, test_set, args.batch_size, args.seed,
                                                   collate=torch_collate_fn)
    runs = {
        "mytorch": (model, loader, test_loader, nn.CrossEntropyLoss(), mytorch,
                    optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)),
        "torch": (torch_model, torch_loader, torch_test_loader, torch.nn.CrossEntropyLoss(), torch,
                  torch.optim.SGD(torch_model.parameters(), lr=args.lr, momentum=args.momentum)),
    }

    # Each library runs with its fastest setting here: torch with its default 2 threads (1 thread made
    # its epochs ~10% slower), numpy with 1 BLAS thread (as fast as 2; see the top of this file).
    print(f"mytorch (numpy, {os.environ['OPENBLAS_NUM_THREADS']} BLAS thread) vs PyTorch {torch.__version__} "
          f"({torch.get_num_threads()} threads): same initial weights, same batches, "
          f"SGD lr {args.lr} momentum {args.momentum}, batch {args.batch_size}")
    print(f"{'':>5} | {'train loss':^19} | {'test accuracy':^17} | {'seconds per epoch':^26}")
    print(f"{'epoch':>5} | {'mytorch':>9} {'torch':>9} | {'mytorch':>8} {'torch':>8} | "
          f"{'mytorch':>8} {'torch':>8} {'ratio':>8}")
    totals = {name: 0.0 for name in runs}
    for epoch in range(1, args.epochs + 1):
        row = {}
        # alternate the two, one epoch each, so that both see the same machine conditions
        for name, (net, train_loader, eval_loader, loss_fn, framework, optimizer) in runs.items():
            time.sleep(0.2)      # let the other library's BLAS/OpenMP threads go idle before timing
            loss, seconds, _ = train_one_epoch(net, train_loader, loss_fn, optimizer,
                                               Progress(f"epoch {epoch:2d} {name:7s} ", not args.quiet))
            row[name] = (loss, evaluate(net, eval_loader, framework), seconds)
            totals[name] += seconds
        (my_loss, my_acc, my_s), (t_loss, t_acc, t_s) = row["mytorch"], row["torch"]
        if not args.quiet:
            print(f"{epoch:5d} | {my_loss:9.4f} {t_loss:9.4f} | {100 * my_acc:7.2f}% {100 * t_acc:7.2f}% | "
                  f"{my_s:8.2f} {t_s:8.2f} {my_s / t_s:7.2f}x", flush=True)
    print(f"final test accuracy: mytorch {100 * my_acc:.2f}%, torch {100 * t_acc:.2f}%; training time "
          f"mytorch {totals['mytorch']:.1f} s, torch {totals['torch']:.1f} s "
          f"(mytorch/torch {totals['mytorch'] / totals['torch']:.2f}x)")


# ===================================================================================================
# --benchmark: one training step of this model, mytorch vs PyTorch vs hand-written numpy
# ===================================================================================================
class NumpyMLP:
    """The same network and SGD-with-momentum step written out by hand in numpy: the speed an autograd
    engine on numpy could reach if bookkeeping were free. Takes its weights from a state_dict."""

    def __init__(self, state_dict, lr, momentum):
        self.weights = [state_dict[f"fc{i}.weight"].copy() for i in range(1, 5)]
        self.biases = [state_dict[f"fc{i}.bias"].copy() for i in range(1, 5)]
        self.velocity = [np.zeros_like(p) for p in self.weights + self.biases]
        self.lr, self.momentum = np.float32(lr), np.float32(momentum)

    def step(self, x, y):
        """One forward + backward + SGD step on images x (B, 784) and one-hot labels y (B, 10)."""
        # forward, keeping each layer's input for the backward pass
        inputs = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            inputs.append(x)
            x = x @ w.T + b
            if i < 3:
                x = 1 / (1 + np.exp(-x))                     # sigmoid
        # softmax cross-entropy, computed stably (shift by the max), averaged over the batch
        shifted = x - x.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -(log_probs * y).sum() / len(y)
        # backward: d loss / d logits = (softmax - y) / B, then layer by layer down
        grad = (np.exp(log_probs) - y) / np.float32(len(y))
        grads_w, grads_b = [None] * 4, [None] * 4
        for i in reversed(range(4)):
            grads_w[i] = grad.T @ inputs[i]
            grads_b[i] = grad.sum(axis=0)
            if i > 0:
                s = inputs[i]                                # this layer's input is sigmoid output s
                grad = (grad @ self.weights[i]) * s * (1 - s)   # σ'(z) = s(1 - s)
        # SGD with momentum, torch's rule: v = momentum·v + g (v = g at the first step);  p -= lr·v
        for p, g, v in zip(self.weights + self.biases, grads_w + grads_b, self.velocity):
            v *= self.momentum
            v += g
            p -= self.lr * v
        return loss


def benchmark(rounds=15, pause=0.1):
    """Median time of one training step, three implementations taking turns in rounds."""
    print(f"one training step (forward + backward + SGD momentum), float32, median of {rounds} rounds; "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, numpy {np.__version__} with "
          f"{os.environ['OPENBLAS_NUM_THREADS']} BLAS thread")
    for batch_size in (64, 4):
        steps = benchmark_steps(batch_size)
        # rough per-step cost, to time blocks of about 50 ms (long enough for the clock, short to repeat)
        repeats = {name: max(1, int(0.05 / timed(step, 20))) for name, step in steps.items()}
        times = {name: [] for name in steps}
        for _ in range(rounds):
            for name, step in steps.items():
                time.sleep(pause)            # let the previous library's threads go idle first
                times[name].append(timed(step, repeats[name]))
        median = {name: 1e6 * float(np.median(t)) for name, t in times.items()}
        print(f"batch {batch_size:2d}: " + ", ".join(f"{name} {us:7.1f} us" for name, us in median.items())
              + f"  ->  mytorch/torch {median['mytorch'] / median['torch']:.2f}x, "
                f"mytorch/numpy {median['mytorch'] / median['numpy']:.2f}x")


def timed(step, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def benchmark_steps(batch_size, lr=0.1, momentum=0.9):
    """Three zero-argument functions, each doing one step on the same random batch from the same weights."""
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, 784), dtype=np.float32)
    y = ONE_HOT[rng.integers(0, 10, batch_size)]

    mytorch.manual_seed(0)
    model, loss_fn = MyTorchMNIST(), nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    images, labels = mytorch.Tensor(x), mytorch.Tensor(y)

    torch_model, torch_loss_fn = TorchMNIST(), torch.nn.CrossEntropyLoss()
    torch_model.load_state_dict({name: torch.from_numpy(w) for name, w in model.state_dict().items()})
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=lr, momentum=momentum)
    torch_images, torch_labels = torch.from_numpy(x), torch.from_numpy(y)

    numpy_model = NumpyMLP(model.state_dict(), lr, momentum)

    def mytorch_step():
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    def torch_step():
        loss = torch_loss_fn(torch_model(torch_images), torch_labels)
        loss.backward()
        torch_optimizer.step()
        torch_optimizer.zero_grad()
        return loss.item()

    def numpy_step():
        return float(numpy_model.step(x, y))

    # the three start from the same weights, so their first losses must agree: a check that we time
    # three implementations of the same computation
    first = [step() for step in (mytorch_step, torch_step, numpy_step)]
    if not np.allclose(first, first[0], rtol=1e-4):
        raise AssertionError(f"the three implementations disagree on the first loss: {first}")
    return {"mytorch": mytorch_step, "torch": torch_step, "numpy": numpy_step}


# ===================================================================================================
# Command line
# ===================================================================================================
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train the tutorial's MNIST MLP with MyTorch.")
    parser.add_argument("--data", default="./data", metavar="DIR",
                        help="folder that holds MNIST/raw/ (downloaded there if missing; default ./data)")
    parser.add_argument("--epochs", type=int, default=12, help="passes over the training set (default 12)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per SGD step (default 64)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same numbers (default 0)")
    parser.add_argument("--save", metavar="FILE", help="save the trained weights (state_dict) as .npz")
    parser.add_argument("--quiet", action="store_true", help="print only the final result")
    parser.add_argument("--compare-torch", action="store_true",
                        help="train the identical model with PyTorch too, and compare")
    parser.add_argument("--benchmark", action="store_true",
                        help="time one training step: mytorch vs PyTorch vs numpy (needs no data)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1:
        parser.error("--epochs and --batch-size must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.benchmark:
        benchmark()
        return 0
    try:
        train_set, test_set = load_mnist(args.data)
    except DataError as error:
        print(error, file=sys.stderr)
        return 2
    if args.compare_torch:
        compare_with_torch(args, train_set, test_set)
    else:
        train(args, train_set, test_set)
    return 0


if __name__ == "__main__":
    sys.exit(main())
