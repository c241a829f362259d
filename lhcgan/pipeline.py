"""lhcgan's workflows as plain Python calls: fit, generate, refine and validate.

The command line parses its arguments and calls these; so do benchmarks and tests. Each prints the
lines a user reads (the readers' reports, the refinement's acceptance, the validation's summary).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lhcgan.errors import ConfigError

if TYPE_CHECKING:
    from lhcgan.conditions import Conditioning
    from lhcgan.config import FitConfig
    from lhcgan.events import Events
    from lhcgan.modelfile import Ensemble, TrainedModel

PathLike = str | os.PathLike[str]

LOW_ACCEPTANCE = 0.2  # below it, fit warns that refinement corrects a region the generator misses


@dataclass
class FitResult:
    """What `fit` made.

    Attributes:
        model: the trained model (an `Ensemble` of K members with ``ensemble=K``), saved in ``run_dir``.
        run_dir: the run folder: model.pt, card.yaml, losses, generated events, validation.
        config: the settings the (first) model was trained with, as saved with it.
        training: the events trained on (the sample less its held-out events).
        heldout: the held-out events the model never saw.
        conditioning: the conditioned parameters and their training points, or None.
    """

    model: "TrainedModel | Ensemble"
    run_dir: Path
    config: "FitConfig"
    training: "Events"
    heldout: "Events"
    conditioning: "Conditioning | None" = None


def run_folder(inputs: Sequence[PathLike], seed: int | None) -> Path:
    """The default run folder of a fit: runs/<first input's stem>-seed<S>."""
    first = Path(str(inputs[0]).split(":")[0]).name.split(".")[0]
    return Path("runs") / f"{first}-seed{seed or 1}"


def load_settings(preset: str = "default", card: PathLike | None = None, overrides: Mapping[str, Any] | None = None,
                  run_dir: PathLike | None = None, resume: bool = False) -> "FitConfig":
    """The fit's settings: ``preset``, then ``card``'s, then ``overrides`` (name → value); a resumed run
    without a card takes its own saved card.yaml in place of the preset's."""
    from lhcgan.config import load_card

    overrides = dict(overrides or {})
    saved = None if run_dir is None else Path(run_dir) / "card.yaml"
    if resume and not card and saved is not None and saved.is_file():
        return load_card(preset, saved, overrides)
    return load_card(preset, card, overrides)


def read_training(inputs: Sequence[PathLike], *, conditions: Sequence[str] = (),
                  channels: Sequence[str] | None = None) -> tuple["Events", "Conditioning | None"]:
    """The training events of one or more files, and the conditioning where ``conditions`` name parameters.

    Each input is a path, or for a conditioned fit ``PATH:name=value`` (the value otherwise from the file's
    metadata). Several files without conditions are pooled; they must describe the same physics.
    """
    from lhcgan.conditions import check_same_physics, join_samples, parse_input
    from lhcgan.events import Events
    from lhcgan.reading import read

    specs = [parse_input(str(s)) for s in inputs]
    samples = [read(path, channels=list(channels) if channels else None) for path, _ in specs]
    for sample in samples:
        print(sample.report.summary())
    if conditions:
        events, conditioning = join_samples(samples, list(dict.fromkeys(conditions)), [v for _, v in specs])
        print(f"conditioned on {conditioning.range_text()}: training points "
              f"{', '.join('/'.join(f'{v:g}' for v in p) for p in conditioning.points)}")
        return events, conditioning
    given = next((str(s) for s, (_, v) in zip(inputs, specs) if v), None)
    if given:
        raise ConfigError(f"{given}: a value for a file is for a conditioned fit", hint="add --condition NAME")
    check_same_physics(samples)
    return (samples[0] if len(samples) == 1 else Events.pool(samples)), None


def fit(inputs: Sequence[PathLike], *, out: PathLike | None = None, preset: str = "default",
        card: PathLike | None = None, overrides: Mapping[str, Any] | None = None, conditions: Sequence[str] = (),
        channels: Sequence[str] | None = None, ensemble: int = 1, events: int | None = None, lhe: bool = False,
        validate: bool = True, resume: bool = False, progress: bool = False) -> FitResult:
    """Train on ``inputs``, then generate and (unless ``validate`` is off) validate against the held-out events.

    Args:
        inputs: training files (LHE, lhcgan ROOT, NanoAOD); with ``conditions``, one per training point.
        out: the run folder (default `run_folder`).
        preset, card, overrides: the settings (`load_settings`); ``overrides`` maps setting names to values.
        conditions: parameters to condition on (`lhcgan.conditions.PARAMETERS`).
        channels: train on these decay channels only (default: every channel in the sample).
        ensemble: train this many models, with seeds S … S+K−1 sharing one held-out split.
        events: events to generate (default: as many as the training sample, per point when conditioned).
        lhe: also write the generated events as LHE.
        validate: write validation figures and metrics against the held-out events.
        resume: continue from the run folder's checkpoints.
        progress: show progress bars.

    Returns: the `FitResult`. Raises `lhcgan.errors.LhcganError` subclasses on bad input or settings.
    """
    from lhcgan.config import save_card
    from lhcgan.modelfile import Ensemble
    from lhcgan.train import Trainer

    if ensemble < 1:
        raise ConfigError(f"--ensemble takes a number of models ≥ 1, got {ensemble}")
    seed = (overrides or {}).get("seed")
    run_dir = Path(out) if out else run_folder(inputs, seed)
    config = load_settings(preset, card, overrides, run_dir, resume)
    sample, conditioning = read_training(inputs, conditions=conditions, channels=channels)
    members, trainer = [], None
    for k in range(ensemble):
        # members differ in their seeds and share the held-out events of the first
        member_dir = run_dir if ensemble == 1 else run_dir / f"member{k}"
        trainer = Trainer(sample, config.replace(seed=config.seed + k), member_dir, progress=progress,
                          split_seed=config.seed, conditioning=conditioning)
        if trainer.dist.main and k == 0 and trainer.dist.world > 1:
            print(f"training on {trainer.dist.world} processes ({trainer.device.type}), "
                  f"{trainer.local_batch} events per process and batch")
        if trainer.dist.main and ensemble > 1:
            print(f"ensemble member {k + 1} of {ensemble} (seed {config.seed + k})")
        members.append(trainer.fit(resume=resume and (member_dir / "checkpoint.pt").is_file()))
        if trainer.dist.main and members[-1].refiner is not None:
            report_refinement(members[-1])
    assert trainer is not None
    model = members[0] if ensemble == 1 else Ensemble(members)
    result = FitResult(model, run_dir, members[0].config, trainer.events, trainer.heldout, conditioning)
    if not trainer.dist.main:  # rank 0 alone generates, validates and reports
        return result
    if ensemble > 1:
        model.save(run_dir / "model.pt")
        save_card(config, run_dir / "card.yaml")
    if conditioning is not None:
        _generate_points(result, events, lhe=lhe, validate=validate, progress=progress)
    else:
        _generate_and_validate(result, sample, events, lhe=lhe, validate=validate, progress=progress)
    print(f"run folder {run_dir}/:")
    for p in sorted(run_dir.iterdir()):
        print(f"  {p.name}{'/' if p.is_dir() else ''}")
    return result


def report_refinement(model: "TrainedModel") -> None:
    """Print the refinement's acceptance and largest correction; warn where it keeps few events."""
    acceptance = model.refiner.acceptance
    print(f"refinement: a smooth reweighting onto the training events' tt̄ kinematics, by rejection; generation "
          f"keeps {acceptance:.0%} of the network's events; largest correction at {model.refiner.largest()}")
    if acceptance < LOW_ACCEPTANCE:
        warnings.warn(f"the generator misses part of the training distribution (largest correction at "
                      f"{model.refiner.largest()}): refinement corrects it, but generation keeps only "
                      f"{acceptance:.0%} of its events and is that much slower; more iterations or more events "
                      "there (for a biased sample: a lower bias) make a generator that needs less", stacklevel=2)


def _generate_and_validate(result: FitResult, sample: "Events", n: int | None, *, lhe: bool, validate: bool,
                           progress: bool) -> None:
    """`fit`'s output: generated.root (and .lhe), validated against the held-out events."""
    from lhcgan.generate import generate
    from lhcgan.modelfile import Ensemble
    from lhcgan.stats import effective_size

    model, run_dir, seed = result.model, result.run_dir, result.config.seed
    n = n or len(sample)
    outputs = [run_dir / "generated.root"] + ([run_dir / "generated.lhe"] if lhe else [])
    for path in outputs:
        generate(n, path, model=model, seed=seed, progress=progress)
    if not validate:
        return
    from lhcgan.validate import validate as run_validation

    spread = model.member_samples(min(n, 200_000), seed=seed) if isinstance(model, Ensemble) else None
    n_sample = round(effective_size(sample.weights, len(sample)))  # a weighted sample's worth is its effective size
    if len(result.heldout):
        print(f"validation against the {len(result.heldout)} held-out events the model never saw:")
        run_validation(outputs[0], result.heldout, run_dir / "validation", run_dir=run_dir,
                       training_size=n_sample, binning=result.training, members=spread)
    else:
        print("validation against the training sample (holdout: 0), which flatters the model:")
        run_validation(outputs[0], sample, run_dir / "validation", run_dir=run_dir, training_size=n_sample,
                       members=spread)


def _generate_points(result: FitResult, n: int | None, *, lhe: bool, validate: bool, progress: bool) -> None:
    """A conditioned `fit`'s output: at every training point, generated_<point>.root (and .lhe),
    validated against that point's held-out events."""
    import numpy as np

    from lhcgan.generate import generate
    from lhcgan.modelfile import Ensemble
    from lhcgan.validate import validate as run_validation

    model, run_dir, seed, cond = result.model, result.run_dir, result.config.seed, result.conditioning
    assert cond is not None
    train_values, held_values = cond.values_of(result.training), cond.values_of(result.heldout)
    for point in cond.points:
        values = dict(zip(cond.names, point))
        tag = "_".join(f"{k}{v:g}" for k, v in values.items())
        n_sample = int((train_values == point).all(axis=1).sum())  # training events at this point
        n_point = n or n_sample
        outputs = [run_dir / f"generated_{tag}.root"] + ([run_dir / f"generated_{tag}.lhe"] if lhe else [])
        for path in outputs:
            generate(n_point, path, model=model, seed=seed, progress=progress, parameters=values)
        held = result.heldout[(held_values == np.asarray(point)).all(axis=1)]
        if not validate or not len(held):
            continue
        held = held.with_process(cond.process_at(held.process, np.asarray(point)))
        print(f"validation at {tag} against the {len(held)} held-out events there the model never saw:")
        spread = (model.member_samples(min(n_point, 200_000), seed=seed, parameters=values)
                  if isinstance(model, Ensemble) else None)
        run_validation(outputs[0], held, run_dir / f"validation_{tag}", run_dir=run_dir, training_size=n_sample,
                       members=spread)


#: the settings `refine_model` may change: the refinement's own (the generator's stay as trained)
REFINE_SETTINGS = ("refine_strength", "refine_extra", "refine_pairs")


def refine_model(model: "PathLike | TrainedModel | Ensemble", sample: "PathLike | Events", *,
                 strength: float | None = None, overrides: Mapping[str, Any] | None = None) -> "TrainedModel | Ensemble":
    """``model`` (every member of an ensemble) with its refinement fitted on ``sample``, the sample it was
    trained on (its held-out events are split off again); ``strength`` overrides ``refine_strength``,
    ``overrides`` any of `REFINE_SETTINGS` (e.g. today's ``refine_pairs`` for a model made before them).
    The refined model's settings record what its refinement used."""
    from lhcgan.events import Events
    from lhcgan.modelfile import Ensemble, load_model
    from lhcgan.reading import read
    from lhcgan.refine import refine, training_events

    changes = dict(overrides or {}) | ({} if strength is None else {"refine_strength": strength})
    if set(changes) - set(REFINE_SETTINGS):
        raise ConfigError(f"refine changes only {', '.join(REFINE_SETTINGS)}, not {', '.join(sorted(set(changes) - set(REFINE_SETTINGS)))}",
                          hint="the generator's settings stay as trained: fit again to change them")
    model = load_model(model) if isinstance(model, (str, os.PathLike)) else model
    members = model.members if isinstance(model, Ensemble) else [model]
    # the settings are checked before the sample is read (a 1M-event file takes a while)
    members = [dataclasses.replace(m, config=m.config.replace(**changes)) if changes else m for m in members]
    sample = sample if isinstance(sample, Events) else read(sample)
    refined = []
    for m in members:
        refined.append(refine(m, training_events(m, sample)))
        if len(members) > 1:
            print(f"member {len(refined)}:")
        report_refinement(refined[-1])
    return Ensemble(refined) if isinstance(model, Ensemble) else refined[0]


def convert(source: PathLike, output: PathLike, *, collection: str = "auto", channels: Sequence[str] | None = None,
            ecm: float | None = None) -> tuple[int, Any]:
    """Read ``source`` (any supported format) and write it to ``output`` in the format its suffix names.
    ``ecm`` (GeV) sets an LHE output's beams where the input does not say. Returns the events written and
    the reader's report (what it skipped and why)."""
    from lhcgan.reading import checked, open_reader
    from lhcgan.writing import output_format, write

    fmt = output_format(output)  # fail on a bad suffix before reading anything
    reader = open_reader(source, collection=collection, channels=list(channels) if channels else None)
    n = write(checked(reader), output, **({"ecm": ecm} if ecm and fmt == "lhe" else {}))
    return n, reader.report


def validate(generated: "PathLike | Events", truth: "PathLike | Events", output: PathLike = "validation", *,
             model: PathLike | None = None, **options: Any) -> dict:
    """`lhcgan.validate.validate` of ``generated`` against ``truth`` into ``output``; with ``model``, an
    ensemble's file, each figure gets its members' spread as a band. Returns the metrics."""
    from lhcgan.validate import validate as run_validation

    members = None
    if model:
        from lhcgan.modelfile import Ensemble, load_model
        from lhcgan.reading import read

        ens = load_model(model)
        if not isinstance(ens, Ensemble):
            raise ConfigError("--model takes an ensemble (`lhcgan fit --ensemble K`) for its error bands", path=model)
        if isinstance(generated, (str, os.PathLike)):
            generated = read(generated)  # once: validation takes the events
        members = ens.member_samples(min(len(generated), 200_000))
    return run_validation(generated, truth, output, members=members, **options)
