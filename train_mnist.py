"""Train the tutorial's MNIST network with MyTorch, written exactly as you would write it with PyTorch.

    python train_mnist.py                      # 5 epochs, ~97.6% test accuracy, in about 5 s on 2 cores
    python train_mnist.py --data ~/datasets    # MNIST lives in ~/datasets/MNIST/raw/
    python train_mnist.py --tutorial           # the tutorial's settings (lr 0.001, batch 4): barely learns

The model is a 784-128-64-32-10 perceptron with sigmoid activations, trained with cross-entropy and
SGD with Nesterov momentum, its learning rate decayed linearly to 0 by LambdaLR. Batches come from a
torch DataLoader whose collate_fn turns them into mytorch Tensors: we reuse PyTorch's data tools and
replace only the part this project is about (tensors, autograd, layers, optimiser).
The file reads top to bottom: model, data, training loop, evaluation, command line.
bench_mnist.py imports them to time a step against PyTorch and numpy, and to train beside PyTorch.

torch (about 2 s to import here) is imported only once the command line has been read, so that --help
and a mistyped option answer at once; torchvision (1.5 s more) only to download MNIST when it is missing.
"""
import argparse
import gzip
import math
import os
import shutil
import socket
import struct
import sys
import time

STARTED = time.perf_counter()      # for the "since the script started" time on the last line

# One BLAS thread for numpy (set before numpy loads OpenBLAS). This network's matrices are too small
# for a second thread to help: one epoch takes the same time with one or two. But a second thread
# spins while it waits for work, and as soon as anything else runs on this 2-core machine (another
# training, a test run), the spinning threads crowd each other out: measured 0.9 s -> 27 s per epoch.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

try:
    import numpy as np  # noqa: E402  (must come after the line above)

    import mytorch
    import mytorch.nn as nn
    import mytorch.optim as optim
except KeyboardInterrupt:          # Ctrl-C this early (numpy can take a second to load): as in main()
    print("train_mnist.py: interrupted", file=sys.stderr)
    sys.exit(130)


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


# ===================================================================================================
# Data: MNIST's IDX files, a torch DataLoader, and a collate_fn that makes mytorch Tensors
# ===================================================================================================
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DataError(Exception):
    """MNIST is missing or unreadable; the message tells the user how to fix it."""


def data_help(root, problem):
    raw = os.path.join(root, "MNIST", "raw", "")
    files = "\n".join(f"    {name}" for name in MNIST_FILES)
    return (f"{problem}\n"
            f"Put these four MNIST files (or their .gz versions) in {raw}\n{files}\n"
            f"or point --data at the folder that holds MNIST/raw/ (now: --data {root}).")


def load_mnist(root):
    """(train images, train labels), (test images, test labels) as uint8 numpy arrays of shapes
    (N, 28, 28) and (N,), from <root>/MNIST/raw/ (torchvision's layout); downloaded if missing."""
    raw = os.path.join(root, "MNIST", "raw")
    unpack_gzipped(raw)
    if not all(os.path.isfile(os.path.join(raw, name)) for name in MNIST_FILES):
        download_mnist(root)
    return read_split(root, *MNIST_FILES[:2]), read_split(root, *MNIST_FILES[2:])


def read_idx(path):
    """An IDX file, MNIST's format, as a numpy array: the bytes 0, 0, 8 (unsigned bytes), the number
    of dimensions, each dimension as a big-endian uint32, then the data, row by row.

    torchvision's MNIST reads the same files, but importing torchvision takes 1.5 s; this takes 10 lines."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError("not an IDX file of unsigned bytes")
    start = 4 + 4 * data[3]
    if len(data) < start:
        raise ValueError(f"the header is cut short ({len(data)} bytes)")
    shape = struct.unpack(f">{data[3]}I", data[4:start])
    if len(data) - start != math.prod(shape):
        raise ValueError(f"{len(data) - start} bytes of data for shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=start).reshape(shape)


def read_split(root, images_file, labels_file):
    raw = os.path.join(root, "MNIST", "raw")
    try:
        images, labels = (read_idx(os.path.join(raw, name)) for name in (images_file, labels_file))
    except (OSError, ValueError) as error:
        raise DataError(data_help(root, f"could not read {images_file} and {labels_file} "
                                        f"(truncated or corrupt?): {error}"))
    # not 60000 / 10000 images: any consistent set will do (the tests use tiny ones)
    largest = int(labels.max()) if labels.ndim == 1 and len(labels) else None
    if images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels) or not len(images) \
            or largest > 9:
        raise DataError(data_help(root, f"{images_file} holds images of shape {images.shape} and "
                                        f"{labels_file} {len(labels)} labels (largest {largest}); "
                                        f"expected N images of 28x28 and N labels from 0 to 9"))
    return images, labels


def unpack_gzipped(raw):
    """Unpack <name>.gz where only that is there (as a browser download leaves it), once."""
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
    """torchvision downloads the four files into <root>/MNIST/raw/. If that fails (no network, or
    Ctrl-C), the folders this made are removed again: a failed download leaves nothing behind."""
    from torchvision.datasets import MNIST
    folders = [root, os.path.join(root, "MNIST"), os.path.join(root, "MNIST", "raw")]
    new = next((folder for folder in folders if not os.path.exists(folder)), None)
    socket.setdefaulttimeout(10)       # without network, fail in seconds rather than hang on a mirror
    done = False
    try:
        MNIST(root, train=True, download=True)
        done = True
    except (RuntimeError, OSError) as error:                # torchvision wraps URLErrors in a RuntimeError
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise DataError(data_help(root, f"MNIST was not found in {os.path.join(root, 'MNIST', 'raw')} and "
                                        f"could not be downloaded: {reason}"))
    finally:
        socket.setdefaulttimeout(None)
        if not done and new is not None:
            shutil.rmtree(new, ignore_errors=True)


class MNISTBatches:
    """MNIST that hands out a whole batch per lookup: dataset[[7, 3, 42]] -> (images, labels).

    A DataLoader takes any object with __len__ and __getitem__ (all that torch.utils.data.Dataset
    declares). A plain one asks for one image at a time, and torchvision's MNIST turns each into a PIL
    image: that costs about as much as training on it. Asking for a list of indices slices the
    (N, 28, 28) uint8 array in one go."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, indices):
        return self.images[indices], self.labels[indices]


def scale(images):
    """uint8 images (B, 28, 28) -> float32 rows (B, 784) in [0, 1]. float32 first, then divide:
    uint8 / 255 would give float64, and everything after it would run at half speed. (The division
    is in place, into the float32 copy: no second array.)"""
    rows = images.reshape(len(images), 784).astype(np.float32)
    rows /= 255
    return rows


def collate_fn(batch):
    """(images, labels) -> mytorch Tensors: images (B, 784) in [0, 1] and the labels as class indices
    (B,), which CrossEntropyLoss takes as they are (no one-hot rows), for the whole batch at once (no
    loop per image). The images are plain Tensors (no requires_grad): nobody needs their gradient."""
    images, labels = batch
    return mytorch.from_numpy(scale(images)), mytorch.from_numpy(labels.astype(np.int64))


def make_loaders(train_set, test_set, batch_size, seed, collate=collate_fn):
    """A shuffled training loader and an in-order test loader; the sets are (images, labels) pairs.

    The sampler yields lists of indices (BatchSampler), so batch_size=None tells the DataLoader not to
    batch again: each list goes to MNISTBatches in one lookup, then straight to collate. The shuffle
    has its own seeded generator: the same seed gives the same batches, in every run and every model."""
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

    train, test = MNISTBatches(*train_set), MNISTBatches(*test_set)
    shuffle = RandomSampler(train, generator=torch.Generator().manual_seed(seed))
    train_loader = DataLoader(train, sampler=BatchSampler(shuffle, batch_size, drop_last=False),
                              batch_size=None, collate_fn=collate)
    # one big batch at a time for evaluation: no graph is built, so memory is no concern
    test_loader = DataLoader(test, sampler=BatchSampler(SequentialSampler(test), 1000, drop_last=False),
                             batch_size=None, collate_fn=collate)
    return train_loader, test_loader


# ===================================================================================================
# Training: the optimiser and its schedule, one epoch, evaluation
# ===================================================================================================
def make_optimizer(params, args, steps, optim=optim):
    """SGD and its schedule, from `optim` (mytorch.optim, or torch.optim for bench_mnist.py): the lr
    falls linearly from args.lr to 0 over all `steps` training steps, or stays constant."""
    optimizer = optim.SGD(params, lr=args.lr, momentum=args.momentum, nesterov=args.nesterov)
    if args.schedule == "linear":
        scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    else:
        scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return optimizer, scheduler


def train_one_epoch(model, loader, loss_fn, optimizer, scheduler, progress):
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
        scheduler.step()                                  # the lr for the next step

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
            correct += (model(images).argmax(dim=1) == labels).sum().item()
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


def plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe(args, steps):
    """The recipe in words: 'SGD lr 0.8, Nesterov momentum 0.9, lr decayed linearly to 0 over ...'."""
    momentum = (f"{'Nesterov ' if args.nesterov else ''}momentum {args.momentum}" if args.momentum
                else "no momentum")
    schedule = (f"lr decayed linearly to 0 over {plural(steps, 'step')}" if args.schedule == "linear"
                else "constant lr")
    return f"SGD lr {args.lr}, {momentum}, {schedule}, batch {args.batch_size}"


def save_weights(model, path):
    """model.state_dict() as .npz, written to exactly `path` (np.savez(path) would append '.npz')."""
    with open(path, "wb") as f:
        np.savez(f, **model.state_dict())


def train(args, train_set, test_set):
    mytorch.manual_seed(args.seed)      # the initial weights (the shuffle has its own seeded generator)
    train_loader, test_loader = make_loaders(train_set, test_set, args.batch_size, args.seed)

    model = MyTorchMNIST()
    loss_fn = nn.CrossEntropyLoss()
    steps = args.epochs * len(train_loader)
    optimizer, scheduler = make_optimizer(model.parameters(), args, steps)

    say = print if not args.quiet else (lambda *what, **how: None)
    say(f"MNIST: {len(train_set[1])} training / {len(test_set[1])} test images; MLP 784-128-64-32-10 "
        f"(sigmoid); {describe(args, steps)}, seed {args.seed}")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        label = f"epoch {epoch:2d}/{args.epochs}  "
        loss, seconds, data_time = train_one_epoch(model, train_loader, loss_fn, optimizer, scheduler,
                                                   Progress(label, enabled=not args.quiet))
        accuracy = evaluate(model, test_loader)
        say(f"{label}train loss {loss:.4f}  test accuracy {100 * accuracy:.2f}%  "
            f"{seconds:.2f} s  (data loading {100 * data_time / seconds:.0f}%)", flush=True)

    now = time.perf_counter()
    print(f"final test accuracy: {100 * accuracy:.2f}% ({plural(args.epochs, 'epoch')}, "
          f"{now - start:.1f} s; {now - STARTED:.1f} s since the script started)")
    if args.save:
        save_weights(model, args.save)
        say(f"saved the trained weights to {args.save}")


# ===================================================================================================
# Command line
# ===================================================================================================
# The default recipe, and the tutorial's own settings one flag away (--tutorial). The tutorial's
# lr 0.001 with batch 4 and no momentum barely moves this sigmoid network: after 5 epochs it still
# calls every image a 1 (11.35% test accuracy).
RECIPE = dict(epochs=5, batch_size=128, lr=0.8, momentum=0.9, schedule="linear")
TUTORIAL = dict(epochs=5, batch_size=4, lr=0.001, momentum=0.0, schedule="constant")


def number(kind, low, high=None, low_open=False, high_open=True):
    """An argparse type: a number of `kind` in the range [low, high) (or (low, ...) if low_open)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}")
        too_low = value <= low if low_open else value < low
        too_high = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or too_low or too_high:
            bounds = f"{'>' if low_open else '>='} {low}" + (f" and {'<' if high_open else '<='} {high}"
                                                              if high is not None else "")
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value
    return parse


def make_parser(prog="train_mnist.py", description="Train the tutorial's MNIST MLP with MyTorch."):
    """The training options; bench_mnist.py adds its own to the same parser."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description,
        epilog="The default recipe reaches about 97.6% test accuracy in 5 epochs. --tutorial uses the "
               "tutorial's own settings (lr 0.001, no momentum, batch 4, constant lr, 5 epochs): this "
               "sigmoid network barely learns with them (measured: the loss goes from 2.304 to 2.301 and "
               "the test accuracy stays at 11.35%, one digit for every image).")

    def default(key):
        return f"default {RECIPE[key]}; --tutorial: {TUTORIAL[key]}"

    parser.add_argument("--data", default="./data", metavar="DIR",
                        help="folder that holds MNIST/raw/ (downloaded there if missing; default ./data)")
    parser.add_argument("--epochs", type=number(int, 1),
                        help=f"passes over the training set ({default('epochs')})")
    parser.add_argument("--batch-size", type=number(int, 1),
                        help=f"images per SGD step ({default('batch_size')})")
    parser.add_argument("--lr", type=number(float, 0, low_open=True),
                        help=f"(initial) learning rate ({default('lr')})")
    parser.add_argument("--momentum", type=number(float, 0, 1), help=f"SGD momentum ({default('momentum')})")
    parser.add_argument("--nesterov", action=argparse.BooleanOptionalAction,
                        help="Nesterov momentum (default: on when momentum > 0)")
    parser.add_argument("--schedule", choices=("linear", "constant"),
                        help=f"lr decayed linearly to 0 over the run, or constant ({default('schedule')})")
    parser.add_argument("--tutorial", action="store_true",
                        help="start from the tutorial's settings instead of the default recipe")
    parser.add_argument("--seed", type=number(int, 0, 2 ** 32), default=0,
                        help="same seed, same numbers (default 0)")
    parser.add_argument("--save", metavar="FILE",
                        help="save the trained weights (state_dict) in .npz format to exactly FILE")
    parser.add_argument("--quiet", action="store_true", help="print only the final result")
    return parser


def parse_args(argv=None, parser=None):
    """The options, with the recipe's (or the tutorial's) settings where none was given."""
    parser = parser or make_parser()
    args = parser.parse_args(argv)
    for key, value in (TUTORIAL if args.tutorial else RECIPE).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.nesterov is None:
        args.nesterov = args.momentum > 0
    elif args.nesterov and args.momentum == 0:
        parser.error("--nesterov needs a momentum > 0")
    if args.save:                       # checked now, not after minutes of training
        folder = os.path.dirname(os.path.abspath(args.save))
        if os.path.isdir(args.save):
            parser.error(f"--save {args.save}: that is a folder; give a file name")
        if not os.path.isdir(folder):
            parser.error(f"--save {args.save}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            parser.error(f"--save {args.save}: cannot write to the folder {folder}")
    return args


def interrupted(prog):
    """Ctrl-C: one line on stderr (after clearing the progress line) and exit status 130, no traceback."""
    if sys.stdout.isatty():
        print("\r\033[K", end="", flush=True)
    print(f"{prog}: interrupted", file=sys.stderr)
    return 130


def main(argv=None):
    args = parse_args(argv)
    try:
        try:
            train_set, test_set = load_mnist(args.data)
        except DataError as error:
            print(f"train_mnist.py: {error}", file=sys.stderr)
            return 2
        train(args, train_set, test_set)
        return 0
    except KeyboardInterrupt:
        return interrupted("train_mnist.py")


if __name__ == "__main__":
    sys.exit(main())
