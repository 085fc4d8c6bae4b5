"""Tests for train_mnist.py and bench_mnist.py, on tiny synthetic files in MNIST's own IDX format and
torchvision's folder layout (<root>/MNIST/raw/), so the scripts' real loading code runs: the IDX reader,
the batching Dataset, the DataLoader and the collate_fn. No real MNIST, no network, no timing
assertions (speed is measured by bench_mnist.py, not asserted here). Run with `python -m pytest`."""
import gzip
import io
import os
import re
import struct
import subprocess
import sys
import types
from pathlib import Path

# As the scripts do, before numpy loads: one BLAS thread (a second one spins on a busy 2-core machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import mytorch  # noqa: E402
from mytorch import optim  # noqa: E402

torch = pytest.importorskip("torch")          # the scripts load data with torch's DataLoader
pytest.importorskip("torchvision")            # and download MNIST with torchvision
import train_mnist as tm  # noqa: E402

ROOT = Path(__file__).resolve().parent
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
def bm():
    """bench_mnist.py, which also needs threadpoolctl: its tests skip where it is absent."""
    pytest.importorskip("threadpoolctl")
    import bench_mnist
    return bench_mnist


@pytest.fixture
def no_download(monkeypatch):
    """Point torchvision's mirrors at a closed local port: downloads fail at once, offline or not."""
    from torchvision.datasets import MNIST
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])


def run(script, capsys, *argv):
    status = script.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def random_state_dict(rng):
    return {f"fc{i}.{p}": rng.normal(size=shape).astype(np.float32) * 0.3
            for i, (o, n) in enumerate(((128, 784), (64, 128), (32, 64), (10, 32)), 1)
            for p, shape in (("weight", (o, n)), ("bias", (o,)))}


# -- training end to end --------------------------------------------------------------------------------
def test_trains_end_to_end(mnist_dir, capsys):
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


def test_quiet_prints_only_the_result_and_save_keeps_the_weights(mnist_dir, tmp_path, capsys):
    weights = tmp_path / "weights.npz"
    status, lines, _ = run(tm, capsys, "--data", mnist_dir, "--epochs", 1, "--quiet", "--save", weights)
    assert status == 0
    assert len(lines) == 1 and FINAL_LINE.match(lines[0]), lines
    assert "(1 epoch, " in lines[0]
    saved = np.load(weights)
    assert sorted(saved.files) == sorted(f"fc{i}.{p}" for i in range(1, 5) for p in ("weight", "bias"))
    assert saved["fc1.weight"].shape == (128, 784) and saved["fc1.weight"].dtype == np.float32


def test_progress_line_redraws_in_place_on_a_terminal_and_is_throttled(monkeypatch):
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


def test_same_seed_same_numbers(mnist_dir, capsys):
    def losses(seed):
        _, lines, _ = run(tm, capsys, "--data", mnist_dir, "--epochs", 2, "--seed", seed)
        return [EPOCH_LINE.match(line).group(3, 4) for line in lines[1:3]]

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


def test_the_seed_alone_decides_not_numpys_global_generator(mnist_dir, capsys):
    """train_mnist.py seeds mytorch and the shuffle; numpy's global generator is read by nothing."""
    def result():
        _, lines, _ = run(tm, capsys, "--data", mnist_dir, "--epochs", 1, "--quiet")
        return lines[0].split(" (")[0]

    np.random.seed(1)
    first = result()
    np.random.seed(2)
    assert result() == first


def test_gzipped_files_are_accepted(tmp_path, capsys, no_download):
    make_mnist(tmp_path, gz=True)
    status, lines, err = run(tm, capsys, "--data", tmp_path, "--epochs", 1, "--quiet")
    assert status == 0, err
    assert FINAL_LINE.match(lines[-1])


def test_collate_gives_float32_tensors_without_grad(mnist_dir):
    train_set, test_set = tm.load_mnist(str(mnist_dir))
    loader, _ = tm.make_loaders(train_set, test_set, batch_size=32, seed=0)
    images, labels = next(iter(loader))
    assert images.shape == (32, 784) and images.dtype == np.float32
    assert not images.requires_grad
    assert 0 <= images.min().item() and images.max().item() <= 1
    # class indices, as torchvision gives them (CrossEntropyLoss's fast path), not one-hot rows
    assert labels.shape == (32,) and labels.dtype == np.int64
    assert 0 <= labels.min().item() and labels.max().item() <= 9 and len(np.unique(labels.numpy())) > 3


# -- the learning-rate schedule: mytorch.optim.lr_scheduler.LambdaLR, the same lrs as before -------------
def test_the_schedule_is_mytorchs_lambda_lr_with_the_same_lrs_as_before():
    """train_mnist.py's own LambdaLR gave lr = 0.8 * (1 - n / steps) at step n; mytorch's gives the
    same numbers, as does torch's LambdaLR driven by make_optimizer with optim=torch.optim."""
    steps = 7
    args = tm.parse_args([])
    ours = tm.make_optimizer([mytorch.zeros(2, requires_grad=True)], args, steps)
    theirs = tm.make_optimizer([torch.zeros(2, requires_grad=True)], args, steps, optim=torch.optim)
    assert isinstance(ours[1], optim.lr_scheduler.LambdaLR)
    assert isinstance(theirs[1], torch.optim.lr_scheduler.LambdaLR)
    before = [0.8 * (1 - n / steps) for n in range(steps + 1)]
    seen = {"mytorch": [], "torch": []}
    for _ in range(steps + 1):
        for name, (optimizer, scheduler) in (("mytorch", ours), ("torch", theirs)):
            seen[name].append(scheduler.get_last_lr()[0])
            optimizer.step()
            scheduler.step()
    assert seen["mytorch"] == seen["torch"] == before
    assert before[0] == 0.8 and before[-1] == 0.0
    assert ours[1].last_epoch == theirs[1].last_epoch == steps + 1
    assert ours[0].param_groups[0]["initial_lr"] == 0.8
    assert not hasattr(tm, "LambdaLR")              # no private copy left in train_mnist.py


def test_the_schedule_drives_mytorchs_sgd():
    w = mytorch.ones(3, requires_grad=True)
    optimizer, scheduler = tm.make_optimizer([w], tm.parse_args(["--momentum", "0"]), steps=2)
    moved = []
    for _ in range(3):
        before = w.detach().numpy().copy()
        (w * w).sum().backward()            # gradient 2w
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        moved.append(float((before - w.detach().numpy())[0] / (2 * before[0])))      # the lr this step used
    assert moved == pytest.approx([0.8, 0.4, 0.0])


def test_a_constant_schedule_keeps_the_lr():
    optimizer, scheduler = tm.make_optimizer([mytorch.ones(2, requires_grad=True)],
                                             tm.parse_args(["--tutorial"]), steps=3)
    lrs = []
    for _ in range(4):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert lrs == [0.001] * 4


# -- missing and broken data -------------------------------------------------------------------------
def assert_data_help(err, root):
    assert "Traceback" not in err
    for name in FILES:
        assert name in err
    assert os.path.join(str(root), "MNIST", "raw", "") in err and "--data" in err


def test_missing_data_exits_with_2_and_says_what_to_put_where(tmp_path, capsys, no_download):
    root = tmp_path / "nowhere"
    status, lines, err = run(tm, capsys, "--data", root, "--epochs", 1)
    assert status == 2
    assert lines == []
    assert err.startswith("train_mnist.py: MNIST was not found in ") and "could not be downloaded" in err
    assert_data_help(err, root)
    assert not root.exists()                    # the failed download leaves no folders behind


def test_failed_download_removes_only_the_folders_it_made(tmp_path, capsys, no_download):
    (tmp_path / "MNIST").mkdir()                # there before: stays; MNIST/raw/ is made, then removed
    status, _, err = run(tm, capsys, "--data", tmp_path)
    assert status == 2 and "could not be downloaded" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["MNIST"]


def test_truncated_file_exits_with_2(mnist_dir, capsys, no_download):
    path = mnist_dir / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])
    status, _, err = run(tm, capsys, "--data", mnist_dir)
    assert status == 2
    assert "could not read train-images-idx3-ubyte and train-labels-idx1-ubyte" in err
    assert_data_help(err, mnist_dir)


def test_images_and_labels_that_disagree_exit_with_2(mnist_dir, capsys, no_download):
    write_idx(mnist_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", np.zeros(10))   # 64 images, 10 labels
    status, _, err = run(tm, capsys, "--data", mnist_dir)
    assert status == 2
    assert ("t10k-images-idx3-ubyte holds images of shape (64, 28, 28) and "
            "t10k-labels-idx1-ubyte 10 labels") in err
    assert_data_help(err, mnist_dir)


def test_read_idx_reads_what_write_idx_wrote_and_rejects_the_rest(tmp_path):
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
@pytest.mark.parametrize("script", ["train_mnist", "bench_mnist"])
def test_help_answers_without_importing_torch(script):
    """--help (and a mistyped option) must not wait for torch's import, ~2 s here."""
    code = (f"import sys, {script}\n"
            "for argv in (['--help'], ['--lr', '-1']):\n"
            "    try:\n"
            f"        {script}.main(argv)\n"
            "    except SystemExit as exit:\n"
            "        print('exit', exit.code, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-2:] == ["exit 0 False", "exit 2 False"], done.stdout + done.stderr
    assert "--tutorial" in done.stdout and "barely learns" in done.stdout
    assert ("--compare-torch" in done.stdout) == (script == "bench_mnist")


@pytest.mark.parametrize("argv", [["--lr", "-1"], ["--lr", "0"], ["--lr", "nan"], ["--lr", "x"],
                                  ["--momentum", "-0.5"], ["--momentum", "1"], ["--epochs", "0"],
                                  ["--batch-size", "-4"], ["--epochs", "1.5"], ["--seed", "-1"],
                                  ["--momentum", "0", "--nesterov"]],
                         ids=" ".join)
def test_bad_options_are_argparse_errors(capsys, argv):
    with pytest.raises(SystemExit) as exit:
        tm.main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert "Traceback" not in err and "train_mnist.py: error: " in err, err
    assert any(option in err for option in argv if option.startswith("--")), err


def test_the_benchmark_options_belong_to_bench_mnist(capsys):
    for option in ("--benchmark", "--compare-torch"):
        with pytest.raises(SystemExit) as exit:
            tm.main([option])
        assert exit.value.code == 2 and f"unrecognized arguments: {option}" in capsys.readouterr().err


def test_tutorial_settings_are_one_flag_away_and_options_still_win():
    args = tm.parse_args([])
    assert (args.lr, args.momentum, args.nesterov, args.batch_size, args.epochs, args.schedule) == \
        (0.8, 0.9, True, 128, 5, "linear")
    args = tm.parse_args(["--tutorial"])
    assert (args.lr, args.momentum, args.nesterov, args.batch_size, args.epochs, args.schedule) == \
        (0.001, 0.0, False, 4, 5, "constant")
    args = tm.parse_args("--tutorial --lr 0.01 --epochs 1 --no-nesterov --momentum 0.5".split())
    assert (args.lr, args.momentum, args.nesterov, args.batch_size, args.epochs) == (0.01, 0.5, False, 4, 1)


def test_ctrl_c_stops_with_one_line_and_status_130(mnist_dir, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(tm, "train_one_epoch", interrupted)
    status, lines, err = run(tm, capsys, "--data", mnist_dir)
    assert status == 130
    assert err == "train_mnist.py: interrupted\n"
    assert len(lines) == 1 and lines[0].startswith("MNIST: ")          # the header, printed before


def test_save_writes_exactly_the_path_it_prints(mnist_dir, tmp_path, capsys):
    path = tmp_path / "weights"                  # no .npz: np.savez(path) would write weights.npz
    status, lines, _ = run(tm, capsys, "--data", mnist_dir, "--epochs", 1, "--save", path)
    assert status == 0
    assert lines[-1] == f"saved the trained weights to {path}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MNIST", "weights"]
    assert np.load(path)["fc4.bias"].shape == (10,)


def test_save_into_a_missing_folder_fails_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tm, "load_mnist", lambda root: pytest.fail("loaded data before checking --save"))
    for target, message in ((tmp_path / "no" / "w.npz", "does not exist"), (tmp_path, "that is a folder")):
        with pytest.raises(SystemExit) as exit:
            tm.main(["--save", str(target)])
        assert exit.value.code == 2 and message in capsys.readouterr().err


# -- bench_mnist.py: the hand-written numpy step ---------------------------------------------------------
def test_numpy_step_matches_pytorch_losses_and_weights(bm):
    """The hand-written numpy step (class-index cross-entropy, Nesterov SGD) against torch, 3 steps."""
    rng = np.random.default_rng(5)
    state = random_state_dict(rng)
    x, y = rng.random((8, 784), dtype=np.float32), rng.integers(0, 10, 8)
    mine = bm.NumpyMLP(state, lr=0.5, momentum=0.9, batch_size=8)
    reference = bm.torch_mnist()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    sgd = torch.optim.SGD(reference.parameters(), lr=0.5, momentum=0.9, nesterov=True)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        sgd.step()
        sgd.zero_grad()
        assert float(mine.step(x, y)) == pytest.approx(loss.item(), rel=1e-5)
    for i in range(4):
        for name, ours in (("weight", mine.weights[i]), ("bias", mine.biases[i])):
            np.testing.assert_allclose(ours, reference.state_dict()[f"fc{i + 1}.{name}"].numpy(),
                                       rtol=1e-4, atol=1e-6)


def test_numpy_step_writes_into_its_own_arrays(bm):
    """The tight numpy step makes no array the size of a layer: all it writes was allocated up front
    (numpy's own iterator buffer for the broadcast bias add, at most 32 KB, is all it takes)."""
    import tracemalloc
    rng = np.random.default_rng(6)
    batch = 512                  # a layer's activations: 512 x 128 x 4 bytes = 256 KB; fc1's gradient 392 KB
    x, y = rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, batch)
    mine = bm.NumpyMLP(random_state_dict(rng), lr=0.01, momentum=0.9, batch_size=batch)
    views = mine.weights + mine.biases + mine.weight_grads + mine.bias_grads
    mine.step(x, y)
    tracemalloc.start()
    try:
        mine.step(x, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, peak
    # the parameters and gradients are views into one flat array each (one SGD call for all)
    assert all(np.shares_memory(v, mine.params) or np.shares_memory(v, mine.grads) for v in views)
    assert sum(w.size + b.size for w, b in zip(mine.weights, mine.biases)) == mine.params.size


# -- bench_mnist.py: the step benchmark and --compare-torch ---------------------------------------------
def test_benchmark_times_three_versions_of_the_same_step(bm):
    steps = bm.benchmark_steps(batch_size=4)        # raises if their first two losses disagree
    assert sorted(steps) == ["mytorch", "numpy", "torch"]
    losses = {name: step() for name, step in steps.items()}         # the third step: still together
    assert losses["mytorch"] == pytest.approx(losses["torch"], rel=1e-4)
    assert losses["numpy"] == pytest.approx(losses["torch"], rel=1e-4)


def test_a_tiny_real_benchmark_prints_each_batch_and_both_ratios(bm, capsys):
    bm.benchmark(rounds=2, pause=0, block=0.001, batch_sizes=(4,))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert "2 rounds" in lines[0] and lines[0].endswith(", 1 thread each")
    assert re.fullmatch(r"batch  4: mytorch +\d+\.\d us, numpy +\d+\.\d us, torch +\d+\.\d us  \(medians\)",
                        lines[1]), lines[1]
    for line, other in zip(lines[2:], ("numpy", "torch")):
        assert re.fullmatch(rf" +mytorch/{other} +\d+\.\d\dx  \(middle half of the rounds "
                            r"\d+\.\d\d-\d+\.\d\dx\)", line), line


def test_benchmark_reports_the_median_of_paired_ratios_with_one_thread_each(bm, capsys, monkeypatch):
    # a fake clock, in ms per step: (the first call per library only sizes the blocks), then 3 rounds.
    # Per round mytorch/numpy is 1, 2, 0.5 (median 1.00x), though the medians' ratio would be 2/1;
    # mytorch/torch is 0.5 in every round.
    clock = {"mytorch_step": [1, 1, 2, 3], "numpy_step": [1, 1, 1, 6], "torch_step": [1, 2, 4, 6]}
    clock = {name: times * 2 for name, times in clock.items()}            # batch 64, then batch 4

    def steps(batch_size):          # stand-ins, named as the clock's rows (the real ones: above)
        return {name: types.SimpleNamespace(__name__=f"{name}_step")
                for name in ("mytorch", "numpy", "torch")}
    monkeypatch.setattr(bm, "benchmark_steps", steps)
    monkeypatch.setattr(bm, "timed", lambda step, repeats: 1e-3 * clock[step.__name__].pop(0))
    bm.benchmark(rounds=3, pause=0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(", 1 thread each") and "3 rounds" in lines[0], lines[0]
    from threadpoolctl import threadpool_info
    assert torch.get_num_threads() == 1 and {pool["num_threads"] for pool in threadpool_info()} == {1}
    for batch, start in ((64, 1), (4, 4)):
        assert lines[start] == (f"batch {batch:2d}: mytorch 2000.0 us, numpy 1000.0 us, torch 4000.0 us"
                                f"  (medians)")
        assert lines[start + 1].split() == ["mytorch/numpy", "1.00x", "(middle", "half", "of", "the",
                                            "rounds", "0.75-1.50x)"]
        assert lines[start + 2].split() == ["mytorch/torch", "0.50x", "(middle", "half", "of", "the",
                                            "rounds", "0.50-0.50x)"]
    assert all(not times for times in clock.values())


def test_compare_torch_runs_the_same_recipe_in_both(bm, mnist_dir, capsys, monkeypatch):
    monkeypatch.setattr(bm.time, "sleep", lambda seconds: None)     # (its pauses before timing)
    status, lines, err = run(bm, capsys, "--compare-torch", "--data", mnist_dir, "--epochs", 2,
                             "--batch-size", 4, "--lr", 0.1)
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


def test_bench_says_what_to_do_when_data_is_missing(bm, tmp_path, capsys, no_download):
    status, lines, err = run(bm, capsys, "--compare-torch", "--data", tmp_path / "nowhere")
    assert status == 2 and lines == []
    assert err.startswith("bench_mnist.py: MNIST was not found in ")
    assert_data_help(err, tmp_path / "nowhere")


@pytest.mark.parametrize("argv, message", [
    ("--epochs 2", "--epochs: training options apply only to --compare-torch"),
    ("--save w.npz", "--save: training options apply only to --compare-torch"),
    ("--rounds 0", "--rounds: must be >= 1, got 0"),
    ("--benchmark", "unrecognized arguments: --benchmark")])
def test_bench_options_are_checked(bm, capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        bm.main(argv.split())
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "bench_mnist.py: error: " in err and message in err, err


def test_bench_ctrl_c_stops_with_one_line_and_status_130(bm, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(bm, "benchmark", interrupted)
    status, lines, err = run(bm, capsys)
    assert (status, lines, err) == (130, [], "bench_mnist.py: interrupted\n")
