"""Fault injection through the real command line: every bad input is exit 2 and one line on stderr (no
traceback), a kill -9 never leaves a broken output under its final name, two writers never mix, and a
training run killed or interrupted resumes to the bit-identical result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

import preimage
from tests.conftest import make_tiny_dataset

SRC = str(Path(preimage.__file__).resolve().parents[1])


def _env() -> dict[str, str]:
    # the subprocess runs the code under test, whether or not the package is installed from this tree
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preimage.cli", *args], cwd=cwd, env=_env(), capture_output=True, text=True
    )


def _png(path: Path, size: tuple[int, int], mode: str = "RGB") -> Path:
    Image.new(mode, size).save(path, format="PNG")  # a 1-bit image keeps a 20000x20000 file at 48 kB
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files the bad inputs point at: a tiny data set, broken images, damaged decoder files, a file in the way."""
    root = tmp_path_factory.mktemp("faults")
    data = root / "data"
    data.mkdir()
    make_tiny_dataset(data, n_per_class=4)
    (root / "afile").write_text("not a folder")
    (root / "existing").mkdir()
    _png(root / "existing" / "coffee.png", (8, 8))
    bad = root / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (bad / "b.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    _png(root / "huge20000.png", (20000, 20000), "1")
    _png(root / "huge13000.png", (13000, 13000), "1")
    from preimage.inverters.decoders import Decoder, DecoderArch

    dec = Decoder(DecoderArch("hog", (31, 8, 8), 64, width=4))
    state = {k: v.contiguous() for k, v in dec.state_dict().items()}
    meta = {"config": __import__("json").dumps(dec.config())}
    first = next(iter(state))
    save_file({k: v for k, v in state.items() if k != first}, str(root / "missing.safetensors"), metadata=meta)
    save_file({**state, first: torch.zeros(3)}, str(root / "misshaped.safetensors"), metadata=meta)
    save_file({**state, first: torch.full_like(state[first], float("nan"))}, str(root / "nan.safetensors"), meta)
    # a shard cut in half: the reader gets part of it, then a damaged gzip stream
    whole = (data / "val-0000.tar.gz").read_bytes()
    (root / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    return root


DECODER = ["invert", "samples:coffee", "--rep", "hog", "--method", "decoder", "--decoder-weights"]
BAD_INPUTS: dict[str, tuple[list[str], str]] = {
    "size 0": (["invert", "samples:coffee", "--rep", "hog", "--size", "0", "-o", "o"], "--size: 0 is out of range"),
    "size -5": (["invert", "samples:coffee", "--rep", "hog", "--size", "-5", "-o", "o"], "between 16 and 4096"),
    "size 100000": (["invert", "samples:coffee", "--rep", "hog", "--size", "100000", "-o", "o"], "4096 pixels"),
    "size 65 with the 64-px decoder": (
        ["invert", "samples:coffee", "--rep", "hog", "--method", "decoder", "--size", "65", "-o", "o"],
        "no hog decoder for 65-px images",
    ),
    "limit 0": (["invert", "samples:coffee", "--rep", "hog", "--limit", "0", "-o", "o"], "--limit: 0 is out of range"),
    "limit -1": (["features", "samples:all", "--rep", "hog", "--limit", "-1", "-o", "f.safetensors"], "at least 1"),
    "steps 0": (["invert", "samples:coffee", "--rep", "hog", "--steps", "0", "-o", "o"], "--steps: 0 is out of"),
    "20000 px PNG": (["invert", "huge20000.png", "--rep", "hog", "-o", "o"], "more than twice the limit"),
    "13000 px PNG": (["invert", "huge13000.png", "--rep", "hog", "-o", "o"], "13000x13000 = 169000000 pixels"),
    "-o under /proc": (["invert", "samples:coffee", "--rep", "hog", "-o", "/proc/x"], "kernel file system"),
    "-o an existing file": (["invert", "samples:coffee", "--rep", "hog", "-o", "afile"], "is a file, not a folder"),
    "-o file/sub": (["invert", "samples:coffee", "--rep", "hog", "-o", "afile/sub"], "is a file, not a folder"),
    "existing output": (
        ["invert", "samples:coffee", "--rep", "hog", "--method", "decoder", "-o", "existing"],
        "coffee.png exists; pass --overwrite",
    ),
    "features -o /proc": (["features", "samples:coffee", "--rep", "hog", "-o", "/proc/x.safetensors"], "/proc"),
    "demo -o an existing file": (["demo", "-o", "afile"], "is a file, not a folder"),
    "demo on bad files only": (["demo", "--images", "bad", "-o", "d"], "no readable images in bad; 2 unreadable"),
    "batch size 0": (["train-decoder", "--rep", "hog", "--data", "data", "-o", "r", "--batch-size", "0"], "at least 1"),
    "batch above limit-train": (
        ["train-decoder", "--rep", "hog", "--data", "data", "-o", "r0", "--limit-train", "8", "--batch-size", "16"],
        "would take no step",
    ),
    "decoder file lacking a tensor": (
        [*DECODER, "missing.safetensors", "-o", "o"],
        "lacks 1 tensor(s)",
    ),
    "decoder file with a mis-shaped tensor": (
        [*DECODER, "misshaped.safetensors", "-o", "o"],
        "has shape (3,)",
    ),
    "decoder file with NaN": (
        [*DECODER, "nan.safetensors", "-o", "o"],
        "holds NaN or Inf",
    ),
    "truncated shard with --strict": (
        ["evaluate", "--rep", "hog", "--data", "cut.tar.gz", "--strict", "--json"],
        "truncated or corrupt",
    ),
}


def test_every_bad_input_is_exit_2_and_one_line(world: Path) -> None:
    with ThreadPoolExecutor(4) as pool:  # each case is its own process: run a few at once
        results = dict(
            zip(BAD_INPUTS, pool.map(lambda case: cli(*case[0], cwd=world), BAD_INPUTS.values()), strict=True)
        )
    failures = []
    for name, (_, expected) in BAD_INPUTS.items():
        r = results[name]
        lines = r.stderr.strip().splitlines()
        if r.returncode != 2 or len(lines) != 1 or expected not in r.stderr or "Traceback" in r.stderr:
            failures.append(f"{name}: exit {r.returncode}, stderr {r.stderr[-600:]!r}")
    assert not failures, "\n".join(failures)
    assert not (world / "o").exists() and not (world / "r0" / "decoder_hog.safetensors").exists()


def test_a_truncated_shard_is_counted_as_skipped(world: Path) -> None:
    r = cli("evaluate", "--rep", "hog", "--data", "cut.tar.gz", "--json", cwd=world)
    assert r.returncode == 0, r.stderr
    result = __import__("json").loads(r.stdout)
    assert result["skipped"] == 1 and 2 <= result["n"] < 64  # the whole val shard holds 64 images
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "truncated" in warnings[0]


# a child that writes one big PNG over and over through the package's writer
_WRITER = """
import sys, torch
from preimage.data import save_image
img = torch.rand(3, 1024, 1024, generator=torch.Generator().manual_seed(int(sys.argv[2])))
print("ready", flush=True)
for _ in range(int(sys.argv[3])):
    save_image(img, sys.argv[1])
"""


def _decodes_fully(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()  # raises on a truncated file
        return np.asarray(im)


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_kill_9_during_a_png_save_leaves_no_broken_file(tmp_path: Path, delay: float) -> None:
    final = tmp_path / "out.png"
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(final), "0", "1000"], env=_env(), stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    deadline = time.time() + 60
    while not final.exists() and time.time() < deadline:  # one complete save, then kill inside a later one
        time.sleep(0.01)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert _decodes_fully(final).shape == (1024, 1024, 3)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".png"] == ["out.png"]


def test_two_concurrent_writers_never_leave_a_broken_file(tmp_path: Path) -> None:
    final = tmp_path / "same.png"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(final), str(seed), "15"], env=_env(), stdout=subprocess.PIPE
        )
        for seed in (1, 2)
    ]
    for child in children:
        assert child.wait(timeout=300) == 0
    got = _decodes_fully(final)
    expected = [
        (torch.rand(3, 1024, 1024, generator=torch.Generator().manual_seed(s)).numpy() * 255 + 0.5)
        .astype(np.uint8)
        .transpose(1, 2, 0)
        for s in (1, 2)
    ]
    assert any(np.array_equal(got, e) for e in expected)  # one writer's image, whole, not a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.png"]  # no temporary files left


def _train(world: Path, out: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "preimage.cli", "train-decoder", "--rep", "hog", "--data", str(world / "data"),
        "-o", str(world / out), "--epochs", "3", "--batch-size", "4", "--width", "4", "--limit-val", "8",
        "--amp", "none", "--device", "cpu", *extra,
    ]  # fmt: skip


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "decoder_hog.safetensors"))


@pytest.mark.parametrize(("how", "code"), [(signal.SIGKILL, -9), (signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_training_run_resumes_bit_identically(world: Path, how: signal.Signals, code: int) -> None:
    reference = world / "uninterrupted"
    if not reference.exists():
        subprocess.run(_train(world, "uninterrupted"), env=_env(), capture_output=True, check=True)
    name = f"stopped_{how.name}"
    run = world / name
    child = subprocess.Popen(
        _train(world, name, "--checkpoint-every", "0.001"), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while not (run / "checkpoint.pt").exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert child.poll() is None, "the run ended before it could be stopped"
    child.send_signal(how)
    _, err = child.communicate(timeout=120)
    assert child.returncode == code, err.decode()[-800:]
    if how != signal.SIGKILL:
        lines = err.decode().strip().splitlines()
        assert "checkpoint written to" in lines[-1] and "--resume" in lines[-1]
    assert not (run / "decoder_hog.safetensors").exists()
    again = subprocess.run(_train(world, name, "--resume"), env=_env(), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-800:]
    a, b = _weights(reference), _weights(run)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_files_written_follow_the_umask(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.safetensors"
    r = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.umask(0o022); from preimage.cli.main import main; "
         f"sys.exit(main(['features', 'samples:coffee', '--rep', 'hog', '-o', {str(out)!r}]))"],
        env=_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert out.stat().st_mode & 0o777 == 0o644


def test_a_shard_member_that_is_not_an_image_is_skipped_and_strict_refuses_it(tmp_path: Path) -> None:
    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w") as tar:
        for i, data in enumerate([b"garbage", *[_png_bytes(i) for i in range(1, 4)]]):
            info = tarfile.TarInfo(f"k{i}.png")
            info.size = len(data)
            tar.addfile(info, __import__("io").BytesIO(data))
    r = cli("features", str(shard), "--rep", "hog", "-o", "f.safetensors", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = __import__("json").loads(r.stdout)
    assert (out["n"], out["skipped"]) == (3, 1)
    assert len([x for x in r.stderr.splitlines() if x.strip()]) == 1
    r = cli("features", str(shard), "--rep", "hog", "-o", "g.safetensors", "--strict", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--strict" in r.stderr


def _png_bytes(seed: int) -> bytes:
    buf = __import__("io").BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()
