"""The `lhcgan` command line. Errors print one line and exit 1, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from lhcgan.conditions import PARAMETERS
from lhcgan.errors import LhcganError
from lhcgan.process import CHANNELS
from lhcgan.rootschema import COLLECTIONS
from lhcgan.version import __version__

PYTHIA_MT, PYTHIA_MW = 173.0, 80.385  # Pythia 8's defaults, for the help text (a test holds them to Pythia's)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from lhcgan.simulate import simulate

    report = simulate(args.events, args.output, ecm=args.ecm, seed=args.seed, progress=not args.quiet,
                      pythia_lhef=False if args.lhcgan_lhe else None, bias=args.bias, isr=args.isr,
                      channel=args.channel, mt=args.mt, mw=args.mw, variations=args.variations,
                      settings=args.pythia)
    print(report.summary())
    print(f"wrote {args.output}")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from lhcgan.pipeline import convert

    n, report = convert(args.input, args.output, collection=args.collection, channels=args.channel, ecm=args.ecm)
    print(report.summary())
    print(f"wrote {n} events to {args.output}")
    return 0


def _launch_torchrun(args: argparse.Namespace) -> int:
    """`lhcgan fit --nproc K ...` is `torchrun --standalone --nproc_per_node=K -m lhcgan fit ...`."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    from lhcgan.errors import TrainingError

    argv = list(args.argv)
    i = argv.index("--nproc")
    del argv[i : i + 2]
    try:
        torchrun(["--standalone", f"--nproc_per_node={args.nproc}", "-m", "lhcgan", *argv])
    except ChildFailedError as exc:
        raise TrainingError(f"a training process failed ({exc.get_first_failure()[1].message})".replace("\n", " ")) from exc
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    import os

    if args.nproc and args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(args)

    from lhcgan.config import parse_assignment
    from lhcgan.pipeline import fit

    overrides = dict(parse_assignment(a) for a in args.set)
    # an option given on the command line wins over --set; one left out leaves --set's value alone
    options = {"iterations": args.iterations, "seed": args.seed, "device": args.device}
    overrides |= {k: v for k, v in options.items() if v is not None}
    fit(args.input, out=args.out, preset=args.preset, card=args.card, overrides=overrides,
        conditions=args.condition or (), channels=args.channel, ensemble=args.ensemble, events=args.events,
        lhe=args.lhe, validate=not args.no_validate, resume=args.resume, progress=not args.quiet)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from lhcgan.pipeline import validate

    validate(args.generated, args.truth, args.output, model=args.model, run_dir=args.run,
             training_size=args.training_size, auc_events=args.auc_events)
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from lhcgan.generate import generate, generate_shards

    parameters = {k: getattr(args, k) for k in PARAMETERS if getattr(args, k) is not None}
    if args.shards > 1:
        manifest = generate_shards(args.events, args.output, shards=args.shards, model=args.model, seed=args.seed,
                                   channel=args.channel, parameters=parameters)
        print(f"wrote {args.events} events in {args.shards} files; manifest {manifest}")
        return 0
    n = generate(args.events, args.output, model=args.model, seed=args.seed, progress=not args.quiet,
                 channel=args.channel, parameters=parameters, processes=args.processes)
    print(f"wrote {n} events to {args.output}")
    return 0


def _cmd_refine(args: argparse.Namespace) -> int:
    from lhcgan.config import parse_assignment
    from lhcgan.pipeline import refine_model

    overrides = dict(parse_assignment(a) for a in args.set)
    refine_model(args.model, args.input, strength=args.strength, overrides=overrides).save(args.output)
    print(f"wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lhcgan", description="Learn LHC tt̄ events with a GAN.")
    parser.add_argument("--version", action="version", version=f"lhcgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="generate a parton-level tt̄ truth sample with Pythia 8")
    p.add_argument("--events", "-n", type=int, default=10000, help="number of events (default 10000)")
    p.add_argument("--ecm", type=float, default=13000.0, help="centre-of-mass energy in GeV (default 13000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("-o", "--output", required=True, help="output file: .lhe, .lhe.gz or .root")
    p.add_argument("--lhcgan-lhe", action="store_true",
                   help="for LHE output, write lhcgan's LHE (gg initial state, faster) instead of Pythia's own record")
    p.add_argument("--bias", type=float, default=None, metavar="POW",
                   help="biased generation ∝ (p̂T/100 GeV)^POW, weighted back (fills the m(tt̄) and pT tails)")
    p.add_argument("--isr", action="store_true", help="initial-state radiation on: the tt̄ system recoils")
    p.add_argument("--channel", default="allhad", choices=[*CHANNELS, "all"],
                   help="decay channel: all-hadronic (default), ℓ+jets, dilepton (ℓ = e, μ), τ+jets, dilepton with a τ, "
                        "or all of them (every W decay)")
    p.add_argument("--mt", type=float, help=f"top pole mass in GeV (default Pythia's, {PYTHIA_MT})")
    p.add_argument("--mw", type=float, help=f"W pole mass in GeV (default Pythia's, {PYTHIA_MW})")
    p.add_argument("--variations", action="store_true",
                   help="give every event its exact leading-order 9-point scale and PDF-alternative weights "
                        "(ROOT: LHEScaleWeight, LHEPdfWeight; LHE: <rwgt>, lhcgan's record)")
    p.add_argument("--pythia", action="append", default=[], metavar="SETTING",
                   help="one more Pythia setting, e.g. 'SigmaProcess:renormMultFac = 4' (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("convert", help="convert LHE / ROOT / NanoAOD to lhcgan ROOT or LHE")
    p.add_argument("input", help="input file: .lhe[.gz], lhcgan .root or NanoAOD .root")
    p.add_argument("output", help="output file: .root, .lhe or .lhe.gz")
    p.add_argument("--collection", default="auto", choices=["auto", *COLLECTIONS],
                   help="which ROOT collection to read (default: detected)")
    p.add_argument("--ecm", type=float, default=None, help="collider energy in GeV for LHE output (default: from input)")
    p.add_argument("--channel", action="append", choices=CHANNELS,
                   help="keep only this decay channel (repeatable; default: every channel)")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("fit", help="train the GAN on a tt̄ sample, generate and write events")
    p.add_argument("input", nargs="+",
                   help="training sample(s): .lhe[.gz], lhcgan .root or NanoAOD .root; with --condition, one per "
                        "point, each's value from its metadata or given as FILE:mt=172.5")
    p.add_argument("--condition", action="append", choices=list(PARAMETERS),
                   help="learn the dependence on this parameter from samples at several values (repeatable)")
    p.add_argument("--preset", default="default", help="settings preset: default or paper")
    p.add_argument("--channel", action="append", choices=CHANNELS,
                   help="train on this decay channel only (repeatable; default: every channel in the sample)")
    p.add_argument("--card", help="YAML card with settings that override the preset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting (repeatable)")
    p.add_argument("--iterations", type=int,
                   help="generator updates (default: 4000 for up to 100 000 training events, 10 000 above)")
    p.add_argument("--seed", type=int, help="the run's one seed")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: CUDA when present")
    p.add_argument("--out", help="run folder (default runs/INPUT-seedS)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--events", "-n", type=int, help="events to generate (default: as many as the training sample)")
    p.add_argument("--lhe", action="store_true", help="also write the generated events as LHE")
    p.add_argument("--no-validate", action="store_true", help="skip the validation plots and metrics")
    p.add_argument("--ensemble", type=int, default=1, metavar="K",
                   help="train K models with seeds S … S+K−1: generate samples their mixture, validate draws their "
                        "spread as an uncertainty band (default 1)")
    p.add_argument("--nproc", type=int, default=None,
                   help="train with DDP on this many processes (GPUs, or CPU with gloo) via torchrun")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("validate", help="compare generated with truth events: figures, metrics.json, index.html")
    p.add_argument("generated", help="generated events: lhcgan ROOT, NanoAOD ROOT or LHE")
    p.add_argument("truth", help="truth events, any supported format")
    p.add_argument("-o", "--output", default="validation", help="output folder (default ./validation)")
    p.add_argument("--run", help="a `lhcgan fit` run folder, for loss curves and the training size")
    p.add_argument("--training-size", type=int, help="training events, for the amplification ratio")
    p.add_argument("--auc-events", type=int, default=200_000, help="events per sample for the classifier AUC")
    p.add_argument("--model", help="the ensemble that generated the events: its spread becomes each figure's band")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("generate", help="generate unweighted events with a trained model")
    p.add_argument("--model", "-m", help="model file (default: the shipped tt̄ model)")
    p.add_argument("--events", "-n", type=int, required=True, help="number of events")
    p.add_argument("-o", "--output", required=True, help="output file: .root, .lhe or .lhe.gz")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--channel", choices=CHANNELS,
                   help="generate this decay channel only (default: the channel mix of the training sample)")
    for par in PARAMETERS.values():
        p.add_argument(f"--{par.name}", type=float, metavar="VALUE",
                       help=f"for a model conditioned on {par.name}: generate at this value ({par.unit}), "
                            "within the trained range")
    p.add_argument("--processes", type=int, metavar="N",
                   help="generating processes (default: one per core, torch's thread count; the events are the same "
                        "for any number)")
    p.add_argument("--shards", type=int, default=1,
                   help="write this many ROOT files, each from its own process and random stream, plus a manifest")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("refine", help="fit a model's refinement (as `fit` does by default) on its training sample")
    p.add_argument("input", help="the sample the model was trained on (its held-out events are split off again)")
    p.add_argument("--model", "-m", required=True, help="model file written by `lhcgan fit`")
    p.add_argument("-o", "--output", required=True, help="the refined model file")
    p.add_argument("--strength", type=float, help="smoothness penalty in events (default: the model's refine_strength)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one refinement setting (refine_strength, refine_extra, refine_pairs; repeatable)")
    p.set_defaults(func=_cmd_refine)
    return parser


def _leave_process_group() -> None:
    td = sys.modules.get("torch.distributed")
    if td is not None and td.is_available() and td.is_initialized():
        td.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda msg, *a, **k: print(f"lhcgan: warning: {msg}", file=sys.stderr)
        try:
            return args.func(args)
        except LhcganError as exc:
            print(f"lhcgan: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("lhcgan: interrupted", file=sys.stderr)
            return 130
        finally:
            _leave_process_group()


def run() -> NoReturn:
    """The `lhcgan` console script: `main`, then the process ends as soon as its output is flushed.

    Every file a command writes is closed (and atomically renamed) before it returns; what is left is
    the interpreter's teardown of torch's and numpy's modules, 0.5–0.7 s of `lhcgan generate -n 1`'s
    2.3 s on an AMD EPYC, which the exit skips.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
