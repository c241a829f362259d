"""Generation and training throughput, beside Pythia 8 and the machine's FLOP limit, in one run.

    python benchmarks/generate.py [--model data/ttbar_model.pt] [--events 2000000] [--path both]

Prints: generation into a ROOT file (events/s), in process and through the command line
(`lhcgan generate` in a fresh process: start-up and model loading included), Pythia 8's own
parton-level event loop on the same machine (the mean of runs right before and after each
generation, all shown; Pythia runs in one process, lhcgan on all the machine's cores, as a user
runs each), the same generation in one process (``--processes 1``, the reference before 0.4's
workers), the generator network alone in fp32 and in the precision the model
runs in (bf16 on CPUs with native bf16), the generator's FLOP-bound limit (the
measured matmul rate in that precision divided by the generator's FLOPs per event),
and the milliseconds of one training step (a discriminator and a generator update at
batch 1024) for the default and paper presets, next to the reference TensorFlow 2
implementation's figures on this machine (from issue 3).

``--path both`` (the default) runs it on the CPU's native instruction-set path, then again in a
child process on the AVX2 path (`AVX2`: torch's AVX2 kernels, oneDNN and MKL capped at AVX2, so
no AVX-512 and no native bf16), which approximates an AVX2-only CPU on a newer one; on a CPU whose
native path is AVX2 the second run is skipped.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine import cpu_name  # benchmarks/machine.py, beside this script

import lhcgan
from lhcgan.config import load_card
from lhcgan.cpu import cpu_has_bf16, generates_in_bf16, net_slice
from lhcgan.generate import generate
from lhcgan.model import Generator, autocast
from lhcgan.modelfile import TrainedModel
from lhcgan.numpynet import logistic_noise
from lhcgan.simulate import make_pythia, pythia_settings, simulate
from lhcgan.train import Trainer
from lhcgan.workers import usable_processes

#: The environment that caps torch, oneDNN and MKL at AVX2 (set before torch is imported).
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def matmul_rate(n: int = 2048, repeat: int = 10, dtype=torch.float32) -> float:
    """Measured dense matmul rate, FLOP/s."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n**3 * repeat / (time.perf_counter() - t0)


def generator_flops(model: TrainedModel) -> int:
    """Multiply-adds × 2 per event of the generator's linear layers."""
    return sum(2 * m.in_features * m.out_features for m in model.generator.modules() if isinstance(m, torch.nn.Linear))


def numpy_rate(model: TrainedModel, z: np.ndarray) -> float:
    """Events/s of the generator network alone in numpy, fp32, as generation runs it without native bf16."""
    model.network(z[:20_000])
    t0 = time.perf_counter()
    for _ in range(3):
        model.network(z)
    return 3 * len(z) / (time.perf_counter() - t0)


@torch.no_grad()
def network_rate(model: TrainedModel, z: torch.Tensor, bf16: bool) -> float:
    """Events/s of the torch generator network alone, fp32 or under bf16 autocast, in generation's slices."""
    size = net_slice(model.generator.spec["hidden"], torch.get_num_threads())
    with autocast(torch.device("cpu"), cpu_bf16=bf16):
        for c in z.split(size):
            model.generator(c)
        t0 = time.perf_counter()
        for _ in range(3):
            for c in z.split(size):
                model.generator(c)
    return 3 * len(z) / (time.perf_counter() - t0)


def pythia_rate(n: int) -> float:
    pythia = make_pythia(pythia_settings(13000.0, 5))
    t0 = time.perf_counter()
    done = 0
    while done < n:
        done += bool(pythia.next())
    return n / (time.perf_counter() - t0)


def cli_seconds(model: str | None, n: int, out: Path, *extra: str) -> float | None:
    """Wall seconds of ``lhcgan generate -n n -o out [extra]`` in a fresh process (the console script beside this
    Python's, else ``python -m lhcgan``); None where it fails (printed)."""
    script = Path(sys.executable).with_name("lhcgan")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "lhcgan"]
    cmd += ["generate", "-n", str(n), "-o", str(out), "--seed", "3", *extra] + (["--model", model] if model else [])
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode:
        print(f"the command line failed (exit code {done.returncode}): {done.stderr.strip()[-300:]}")
        return None
    return seconds


def training_step_ms(events: lhcgan.Events, preset: str, steps: int, tmp: Path, **overrides) -> float:
    """Median milliseconds of one D + G update over 5 windows of ``steps`` iterations (this box is noisy)."""
    name = "-".join([preset, *map(str, overrides.values())])
    trainer = Trainer(events, load_card(preset, overrides={"iterations": 10**6, **overrides}), tmp / name)
    for _ in range(3):
        trainer.step()
    windows = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.step()
        windows.append((time.perf_counter() - t0) / steps * 1000)
    return statistics.median(windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--generation-only", action="store_true", help="skip the training-step figures")
    parser.add_argument("--path", choices=("native", "avx2", "both"), default="both",
                        help="instruction-set path: the CPU's own, AVX2 (capped by environment), or both in turn")
    args = parser.parse_args()
    if args.path == "avx2" and any(os.environ.get(k) != v for k, v in AVX2.items()):
        sys.exit(subprocess.call([sys.executable, __file__, *sys.argv[1:]], env=os.environ | AVX2))
    run(args)
    if args.path == "both":
        if torch.backends.cpu.get_cpu_capability() == "AVX2":
            print("the native path is AVX2 already: no second run")
        else:
            print("\nthe same on the AVX2 path (" + ", ".join(f"{k}={v}" for k, v in AVX2.items()) + "):", flush=True)
            argv = [a for a in sys.argv[1:] if a not in ("--path", "both")]
            code = subprocess.call([sys.executable, __file__, *argv, "--path", "avx2"], env=os.environ | AVX2)
            if code:
                print(f"the AVX2 run failed (exit code {code}): run it alone with --path avx2")


def run(args: argparse.Namespace) -> None:
    """One run of the benchmark on the instruction-set path this process has."""
    model = TrainedModel.load(args.model)
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        generate(20000, d / "warm.root", model=model)
        # Pythia right before and after: its rate drifts on shared machines (1.7× within one session)
        py_before = pythia_rate(100_000)
        t0 = time.perf_counter()
        generate(args.events, d / "gen.root", model=model, seed=3)
        gen_rate = args.events / (time.perf_counter() - t0)
        py_after = pythia_rate(100_000)
        py_rate = 0.5 * (py_before + py_after)
        # the command line as a user runs it: start-up, model loading and writing included
        cli_s = cli_seconds(args.model, args.events, d / "cli.root")
        py_cli = pythia_rate(100_000)
        cli_py = 0.5 * (py_after + py_cli)
        # the reference: generation in one process, as before 0.4's workers (torch's threads, numpy's passes in halves)
        cli_one_s = cli_seconds(args.model, args.events, d / "cli.root", "--processes", "1")
        t0 = time.perf_counter()
        generate(args.events, d / "gen.root", model=model, seed=3, processes=1)
        one_rate = args.events / (time.perf_counter() - t0)
        plain_rate = None
        if model.refiner is not None:  # the same model without its refinement's rejection, for comparison
            t0 = time.perf_counter()
            generate(args.events, d / "gen.root", model=dataclasses.replace(model, refiner=None), seed=3)
            plain_rate = args.events / (time.perf_counter() - t0)
        start_s = sorted(s for s in (cli_seconds(args.model, 1, d / "one.root") for _ in range(3)) if s is not None)
        zn = logistic_noise(200_000, model.network.latent, np.random.default_rng(3))
        z = torch.from_numpy(zn)
        np_rate = numpy_rate(model, zn)
        net_rate = network_rate(model, z, bf16=False)
        cfg = model.config
        bf16 = generates_in_bf16(cfg.cpu_bf16)  # as generation runs it
        net_rate_used = network_rate(model, z, bf16=True) if bf16 else net_rate
        paper = load_card("paper")
        paper_net = TrainedModel.from_networks(Generator(paper.latent, paper.hidden, paper.layers, 18, paper.residual),
                                               model.bridge, model.process, paper, {})
        paper_rates = (network_rate(paper_net, z, bf16=False), network_rate(paper_net, z, bf16=True))
        flop_limit = matmul_rate(dtype=torch.bfloat16 if bf16 else torch.float32) / generator_flops(model)
        simulate(50_000, d / "train.root", seed=9)
        events = lhcgan.read(d / "train.root")
        steps = args.train_steps
        train = {} if args.generation_only else {  # label → (ms per step, the TF2 reference's ms on this machine, from the issue)
            "default preset (6×256)": (training_step_ms(events, "default", steps, d), 77),
            "default preset, regulariser every step": (training_step_ms(events, "default", steps, d, reg_every=1), 77),
            "default machinery at 10×512": (training_step_ms(events, "default", max(steps // 4, 3), d, layers=10,
                                                             hidden=512, disc_layers=10, disc_hidden=512), 325),
            "paper preset (10×512, fp32)": (training_step_ms(events, "paper", max(steps // 4, 3), d), 325),
            "paper preset, --set cpu_bf16=true": (training_step_ms(events, "paper", max(steps // 4, 3), d,
                                                                   cpu_bf16=True), 325),
        }
    arch = f"{model.config.layers}×{model.config.hidden}"
    print(f"lhcgan {lhcgan.__version__} generation benchmark, {platform.machine()}, {threads} threads, "
          f"generator {arch} ({generator_flops(model) / 1e6:.2f} MFLOP/event)")
    print(f"CPU: {cpu_name()}; instruction-set path: torch {torch.backends.cpu.get_cpu_capability()}, "
          f"oneDNN {os.environ.get('ONEDNN_MAX_CPU_ISA', 'native')}, native bf16 {'yes' if cpu_has_bf16() else 'no'}")
    print(f"{'generation → ROOT, generate()':<46} {gen_rate:>12,.0f} ev/s   "
          f"({usable_processes()} generating processes, one thread each)")
    print(f"{'  the same in one process (processes=1)':<46} {one_rate:>12,.0f} ev/s   ({threads} torch threads)")
    if plain_rate:
        print(f"{'  the same without its refinement':<46} {plain_rate:>12,.0f} ev/s   "
              f"(refinement keeps {model.refiner.acceptance:.0%} of the network's events)")
    if cli_s is not None:
        cli_rate = args.events / cli_s
        print(f"{f'lhcgan generate -n {args.events} (command line)':<46} {cli_rate:>12,.0f} ev/s   {cli_s:.1f} s wall; "
              f"lhcgan/Pythia {cli_rate / cli_py:.2f}× (Pythia {py_after:,.0f} before it, {py_cli:,.0f} after)")
    if start_s:
        print(f"{'lhcgan generate -n 1 (start-up)':<46} {start_s[len(start_s) // 2]:>10.2f} s      "
              f"median of {len(start_s)} ({', '.join(f'{s:.2f}' for s in start_s)} s); torch is "
              f"{'imported (bf16)' if bf16 else 'not imported (numpy, fp32)'}")
    if cli_one_s is not None:
        print(f"{'  the same with --processes 1':<46} {args.events / cli_one_s:>12,.0f} ev/s   {cli_one_s:.1f} s wall; "
              f"lhcgan/Pythia {args.events / cli_one_s / cli_py:.2f}×")
    precision = "bf16" if bf16 else "fp32"
    print(f"{'generator network alone, numpy fp32' + (' (as generated)' if not bf16 else ''):<46} {np_rate:>12,.0f} ev/s")
    print(f"{'generator network alone, torch fp32':<46} {net_rate:>12,.0f} ev/s")
    if bf16:
        print(f"{'generator network alone, bf16 (as generated)':<46} {net_rate_used:>12,.0f} ev/s")
    print(f"{'Pythia 8 next(), parton level, one process':<46} {py_rate:>12,.0f} ev/s   lhcgan/Pythia {gen_rate / py_rate:.2f}× "
          f"(Pythia {py_before:,.0f} before the generation, {py_after:,.0f} after)")
    print(f"{f'FLOP limit ({precision} matmul rate / FLOP per event)':<46} {flop_limit:>12,.0f} ev/s   "
          f"network {(net_rate_used if bf16 else np_rate) / flop_limit:.0%}, end to end {gen_rate / flop_limit:.0%} of it")
    print(f"{'paper-size generator (10×512) alone, fp32 / bf16':<46} {paper_rates[0]:>12,.0f} ev/s   "
          f"{paper_rates[1]:,.0f} ev/s in bf16")
    if train:
        print("training, one D + G update at batch 1024 (median of 5 windows)      lhcgan    TF2 reference   ratio")
    for label, (ms, ref) in train.items():
        print(f"  {label:<64} {ms:>6.1f} ms   {ref:>6.0f} ms   {ms / ref:.2f}×")


if __name__ == "__main__":
    main()
