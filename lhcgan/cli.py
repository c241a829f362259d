"""The `lhcgan` command line. Errors print one line and exit 1, never a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lhcgan.conditions import PARAMETERS
from lhcgan.errors import LhcganError
from lhcgan.process import CHANNELS
from lhcgan.version import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from lhcgan.events import Events
    from lhcgan.modelfile import Ensemble, TrainedModel
    from lhcgan.train import Trainer

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
    from lhcgan.reading import checked, open_reader
    from lhcgan.writing import output_format, write

    output_format(args.output)  # fail on a bad suffix before reading anything
    reader = open_reader(args.input, collection=args.collection, channels=args.channel)
    kwargs = {"ecm": args.ecm} if args.ecm and output_format(args.output) == "lhe" else {}
    n = write(checked(reader), args.output, **kwargs)
    print(reader.report.summary())
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
    from pathlib import Path

    if args.nproc and args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(args)

    from lhcgan.conditions import check_same_physics, join_samples, parse_input
    from lhcgan.config import load_card, parse_assignment, save_card
    from lhcgan.errors import ConfigError
    from lhcgan.events import Events
    from lhcgan.generate import generate
    from lhcgan.modelfile import Ensemble
    from lhcgan.reading import read
    from lhcgan.train import Trainer

    overrides = dict(parse_assignment(a) for a in args.set)
    # an option given on the command line wins over --set; one left out leaves --set's value alone
    options = {"iterations": args.iterations, "seed": args.seed, "device": args.device}
    overrides |= {k: v for k, v in options.items() if v is not None}
    specs = [parse_input(s) for s in args.input]
    first = Path(specs[0][0]).name.split(".")[0]
    run_dir = Path(args.out) if args.out else Path("runs") / f"{first}-seed{args.seed or 1}"
    config = load_card(args.preset, args.card, overrides)
    if args.resume and (run_dir / "card.yaml").is_file() and not args.card:
        config = load_card(args.preset, run_dir / "card.yaml", overrides)
    samples = [read(path, channels=args.channel) for path, _ in specs]
    for sample in samples:
        print(sample.report.summary())
    conditioning = None
    if args.condition:
        events, conditioning = join_samples(samples, list(dict.fromkeys(args.condition)), [v for _, v in specs])
        print(f"conditioned on {conditioning.range_text()}: training points "
              f"{', '.join('/'.join(f'{v:g}' for v in p) for p in conditioning.points)}")
    else:
        given = next((s for s, (_, v) in zip(args.input, specs) if v), None)
        if given:
            raise ConfigError(f"{given}: a value for a file is for a conditioned fit", hint="add --condition NAME")
        check_same_physics(samples)
        events = samples[0] if len(samples) == 1 else Events.pool(samples)
    size = args.ensemble
    if size < 1:
        raise ConfigError(f"--ensemble takes a number of models ≥ 1, got {size}")
    members = []
    for k in range(size):
        # members differ in their seeds and share the held-out events of the first
        member_dir = run_dir if size == 1 else run_dir / f"member{k}"
        trainer = Trainer(events, config.replace(seed=config.seed + k), member_dir, progress=not args.quiet,
                          split_seed=config.seed, conditioning=conditioning)
        if trainer.dist.main and k == 0:
            if trainer.dist.world > 1:
                print(f"training on {trainer.dist.world} processes ({trainer.device.type}), "
                      f"{trainer.local_batch} events per process and batch")
        if trainer.dist.main and size > 1:
            print(f"ensemble member {k + 1} of {size} (seed {config.seed + k})")
        resume = args.resume and (member_dir / "checkpoint.pt").is_file()
        members.append(trainer.fit(resume=resume))
        if trainer.dist.main and members[-1].refiner is not None:
            _report_refinement(members[-1])
    if not trainer.dist.main:  # rank 0 alone generates, validates and reports
        return 0
    model = members[0] if size == 1 else Ensemble(members)
    if size > 1:
        model.save(run_dir / "model.pt")
        save_card(config, run_dir / "card.yaml")
    if conditioning is not None:
        _validate_points(args, model, trainer, run_dir, config.seed)
    else:
        _generate_and_validate(args, model, trainer, events, run_dir, config.seed)
    print(f"run folder {run_dir}/:")
    for p in sorted(run_dir.iterdir()):
        print(f"  {p.name}{'/' if p.is_dir() else ''}")
    return 0


LOW_ACCEPTANCE = 0.2  # below it, fit warns that refinement corrects a region the generator misses


def _report_refinement(model: "TrainedModel") -> None:
    acceptance = model.refiner.acceptance
    print(f"refinement: a smooth reweighting onto the training events' tt̄ kinematics, by rejection; generation "
          f"keeps {acceptance:.0%} of the network's events; largest correction at {model.refiner.largest()}")
    if acceptance < LOW_ACCEPTANCE:
        warnings.warn(f"the generator misses part of the training distribution (largest correction at "
                      f"{model.refiner.largest()}): refinement corrects it, but generation keeps only "
                      f"{acceptance:.0%} of its events and is that much slower; more iterations or more events "
                      "there (for a biased sample: a lower bias) make a generator that needs less", stacklevel=2)


def _generate_and_validate(args: argparse.Namespace, model: "TrainedModel | Ensemble", trainer: "Trainer",
                           events: "Events", run_dir: "Path", seed: int) -> None:
    """`fit`'s output: generated.root (and .lhe), validated against the held-out events."""
    from lhcgan.generate import generate

    size = args.ensemble
    n = args.events or len(events)
    outputs = [run_dir / "generated.root"] + ([run_dir / "generated.lhe"] if args.lhe else [])
    for path in outputs:
        generate(n, path, model=model, seed=seed, progress=not args.quiet)
    if not args.no_validate:
        from lhcgan.validate import validate

        from lhcgan.validate.worth import effective_size

        spread = model.member_samples(min(n, 200_000), seed=seed) if size > 1 else None
        n_sample = round(effective_size(events.weights, len(events)))  # a weighted sample's worth is its effective size
        if len(trainer.heldout):
            print(f"validation against the {len(trainer.heldout)} held-out events the model never saw:")
            validate(outputs[0], trainer.heldout, run_dir / "validation", run_dir=run_dir,
                     training_size=n_sample, binning=trainer.events, members=spread)
        else:
            print("validation against the training sample (holdout: 0), which flatters the model:")
            validate(outputs[0], events, run_dir / "validation", run_dir=run_dir, training_size=n_sample,
                     members=spread)


def _validate_points(args: argparse.Namespace, model: "TrainedModel | Ensemble", trainer: "Trainer", run_dir: "Path",
                     seed: int) -> None:
    """A conditioned `fit`'s output: at every training point, generated_<point>.root (and .lhe),
    validated against that point's held-out events."""
    import numpy as np

    from lhcgan.generate import generate
    from lhcgan.validate import validate

    cond = model.conditioning
    train_values, held_values = cond.values_of(trainer.events), cond.values_of(trainer.heldout)
    for point in cond.points:
        values = dict(zip(cond.names, point))
        tag = "_".join(f"{k}{v:g}" for k, v in values.items())
        n_sample = int((train_values == point).all(axis=1).sum())  # training events at this point
        n = args.events or n_sample
        outputs = [run_dir / f"generated_{tag}.root"] + ([run_dir / f"generated_{tag}.lhe"] if args.lhe else [])
        for path in outputs:
            generate(n, path, model=model, seed=seed, progress=not args.quiet, parameters=values)
        held = trainer.heldout[(held_values == np.asarray(point)).all(axis=1)]
        if args.no_validate or not len(held):
            continue
        held = held.with_process(cond.process_at(held.process, np.asarray(point)))
        print(f"validation at {tag} against the {len(held)} held-out events there the model never saw:")
        spread = model.member_samples(min(n, 200_000), seed=seed, parameters=values) if args.ensemble > 1 else None
        validate(outputs[0], held, run_dir / f"validation_{tag}", run_dir=run_dir, training_size=n_sample,
                 members=spread)


def _cmd_validate(args: argparse.Namespace) -> int:
    from lhcgan.errors import ConfigError
    from lhcgan.validate import validate

    members = None
    if args.model:
        from lhcgan.modelfile import Ensemble, load_model
        from lhcgan.reading import read

        model = load_model(args.model)
        if not isinstance(model, Ensemble):
            raise ConfigError("--model takes an ensemble (`lhcgan fit --ensemble K`) for its error bands",
                              path=args.model)
        members = model.member_samples(min(len(read(args.generated)), 200_000))
    validate(args.generated, args.truth, args.output, run_dir=args.run, training_size=args.training_size,
             auc_events=args.auc_events, members=members)
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
                 channel=args.channel, parameters=parameters)
    print(f"wrote {n} events to {args.output}")
    return 0


def _cmd_refine(args: argparse.Namespace) -> int:
    from lhcgan.modelfile import Ensemble, load_model
    from lhcgan.reading import read
    from lhcgan.refine import refine, training_events

    model = load_model(args.model)
    sample = read(args.input)
    members = model.members if isinstance(model, Ensemble) else [model]
    refined = []
    for m in members:
        if args.strength is not None:
            m = dataclasses.replace(m, config=m.config.replace(refine_strength=args.strength))
        refined.append(refine(m, training_events(m, sample)))
        if len(members) > 1:
            print(f"member {len(refined)}:")
        _report_refinement(refined[-1])
    out = Ensemble(refined) if isinstance(model, Ensemble) else refined[0]
    out.save(args.output)
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
    p.add_argument("--collection", default="auto", choices=["auto", "lhcgan", "LHEPart", "GenPart"],
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
    p.add_argument("--iterations", type=int, help="generator updates")
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
    p.add_argument("--shards", type=int, default=1,
                   help="write this many ROOT files, each from its own process and random stream, plus a manifest")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("refine", help="fit a model's refinement (as `fit` does by default) on its training sample")
    p.add_argument("input", help="the sample the model was trained on (its held-out events are split off again)")
    p.add_argument("--model", "-m", required=True, help="model file written by `lhcgan fit`")
    p.add_argument("-o", "--output", required=True, help="the refined model file")
    p.add_argument("--strength", type=float, help="smoothness penalty in events (default: the model's refine_strength)")
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
