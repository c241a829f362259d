"""Theory variation weights: read from LHEF 3 and NanoAOD, kept through every format, made exactly at
leading order by `simulate`, learnt by `fit` and written by `generate` for every event."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import lhcgan
from lhcgan import physics
from lhcgan.cli import main as cli
from lhcgan.errors import InputError, NonFiniteError
from lhcgan.reading import LHEReader
from lhcgan.reading.root import RootReader
from lhcgan.simulate import SCALE_POINTS, simulate
from lhcgan.variation_model import fit_variations
from lhcgan.variations import Variation, VariationSet
from tests.shared import NANOAOD, shared_file

EVENT = re.compile(r"(<event>\n)(.*?)(</event>)", re.S)
IDS = ("1001", "1002", "2001")
TEXTS = ("muR=2.0 muF=1.0", "muR=1.0 muF=0.5", "member 1")


def known_ratios(events: lhcgan.Events) -> np.ndarray:
    """Three smooth functions of m(tt̄) and y(t) (N, 3): what the test weights are made of."""
    m = physics.invariant_mass(events.momenta, events.masses)
    return np.stack([1 + 0.15 * np.log(m / 400), 0.9 + 0.05 * np.tanh((m - 500) / 150),
                     1.02 - 0.01 * np.abs(physics.eta(events.momenta[:, 0]))], axis=1)


def write_weighted_lhe(src: Path, dst: Path, ratios: np.ndarray, edit=None) -> None:
    """Pythia's LHE with an <initrwgt> of `IDS` and each event's <rwgt>: XWGTUP × its ratios; ``edit(j, lines)``
    may change event j's <wgt> lines."""
    text = src.read_text()
    block = ('<initrwgt>\n<weightgroup name="scale_variation" combine="envelope">\n'
             + "".join(f'<weight id="{i}"> {t} </weight>\n' for i, t in zip(IDS[:2], TEXTS[:2]))
             + '</weightgroup>\n<weightgroup name="PDF4LHC15" combine="hessian">\n'
             + f'<weight id="{IDS[2]}"> {TEXTS[2]} </weight>\n</weightgroup>\n</initrwgt>')
    text = re.sub(r"<initrwgt\s*>\s*</initrwgt>", block, text, count=1)
    count = iter(range(10**9))

    def repl(match: re.Match) -> str:
        j = next(count)
        body = match.group(2)
        xwgt = float(body.split("\n")[0].split()[2])
        lines = [f'<wgt id="{i}"> {xwgt * r:.10e} </wgt>' for i, r in zip(IDS, ratios[j])]
        if edit is not None:
            lines = edit(j, lines)
        body = re.sub(r"<rwgt\s*>\s*</rwgt>", "<rwgt>\n" + "\n".join(lines) + "\n</rwgt>", body)
        return match.group(1) + body + match.group(3)

    dst.write_text(EVENT.sub(repl, text))


@pytest.fixture(scope="module")
def weighted_lhe(ttbar_lhe, ttbar, tmp_path_factory) -> tuple[Path, np.ndarray]:
    """The seeded Pythia sample with three variation weights per event, and their ratios (N_file, 3)."""
    # the file's events in order, those the reader skips (CKM) included: ratios from the file's own lines
    path = tmp_path_factory.mktemp("rwgt") / "weighted.lhe"
    n_file = ttbar_lhe.read_text().count("<event>")
    rng = np.random.default_rng(5)
    ratios = rng.uniform(0.7, 1.3, size=(n_file, 3))
    write_weighted_lhe(ttbar_lhe, path, ratios)
    return path, ratios


def test_lhef3_weight_groups_are_read_with_their_names():
    reader = LHEReader(shared_file("pylhe-testlhef3.lhe"))
    assert sum(len(chunk) for chunk in reader) == 0  # not tt̄: every event is skipped, the header is read
    vs = reader.variation_set
    assert vs.ids == [str(i) for i in range(1001, 1010)] and vs.summary() == "9 scale"
    assert vs.entries[4].scales == (2.0, 2.0) and vs.entries[4].group == "scale_variation"
    assert len(vs.envelope()) == 7 and 5 not in vs.envelope()  # (2, ½) is not in the 7-point envelope
    assert "<initrwgt>" in vs.initrwgt and 'combine="envelope"' in vs.initrwgt


def test_lhe_variations_are_ratios_to_xwgtup_and_round_trip_every_format(weighted_lhe, ttbar, tmp_path):
    path, ratios = weighted_lhe
    ev = lhcgan.read(path)
    assert ev.variation_set.ids == list(IDS) and [v.kind for v in ev.variation_set.entries] == ["scale", "scale", "pdf"]
    assert ev.variation_set.entries[0].text == TEXTS[0] and "2 scale, 1 pdf" in ev.report.summary()
    np.testing.assert_array_equal(ev.momenta, ttbar.momenta)
    # the reader skips the CKM events: the others keep their own ratios, in order, to the 11 digits written
    assert 0 < sum(ev.report.skipped.values()) == len(ratios) - len(ev)
    row = np.array([int(np.argmin(np.abs(ratios[:, 0] - v))) for v in ev.variations[:, 0]])
    assert (np.diff(row) > 0).all()
    np.testing.assert_allclose(ev.variations, ratios[row], rtol=1e-9)
    # LHE → ROOT → LHE → ROOT: ids, order, values and the <initrwgt> block
    root, lhe, root2 = tmp_path / "a.root", tmp_path / "b.lhe", tmp_path / "c.root"
    assert cli(["convert", str(path), str(root)]) == 0
    assert cli(["convert", str(root), str(lhe)]) == 0
    assert cli(["convert", str(lhe), str(root2)]) == 0
    a, b, c = (lhcgan.read(p) for p in (root, lhe, root2))
    for other in (a, b, c):
        assert other.variation_set == ev.variation_set
        # ROOT holds NanoAOD's float32 ratios: 2⁻²⁴ of each
        np.testing.assert_allclose(other.variations, ev.variations, rtol=2**-23)
    header = lhe.read_text().split("<init>")[0]
    assert ev.variation_set.initrwgt in header
    t = uproot.open(root)["Events"]
    assert t["LHEScaleWeight"].title.startswith("LHE scale variation weights (w_var / w_nominal); [0] is muR=2.0 muF=1.0")
    assert ak.all(t["nLHEScaleWeight"].array() == 2) and ak.all(t["nLHEPdfWeight"].array() == 1)


def test_the_ratios_are_those_written(ttbar_lhe, tmp_path):
    """Every event's ratios, where no event is skipped: the file's own, as numbers."""
    src = tmp_path / "src.lhe"
    ttbar = lhcgan.read(ttbar_lhe)
    lhcgan.write(ttbar, src)  # lhcgan's LHE: only the accepted events, in order, XWGTUP = 1
    text = src.read_text().replace("</lhcgan>\n", "</lhcgan>\n<initrwgt >\n</initrwgt>\n", 1)
    text = text.replace("</event>", "<rwgt >\n</rwgt>\n</event>")
    src.write_text(text)
    ratios = known_ratios(ttbar)
    write_weighted_lhe(src, tmp_path / "w.lhe", ratios)
    np.testing.assert_allclose(lhcgan.read(tmp_path / "w.lhe").variations, ratios, rtol=1e-10)


@pytest.mark.parametrize("case", ["missing", "renamed", "nan", "extra"])
def test_bad_variation_weights_are_refused_naming_the_event(ttbar_lhe, tmp_path, case):
    n_file = ttbar_lhe.read_text().count("<event>")
    ratios = np.ones((n_file, 3))
    if case == "nan":
        ratios[7, 1] = np.nan

    def edit(j: int, lines: list[str]) -> list[str]:
        if j != 7:
            return lines
        if case == "missing":
            return lines[:2]
        if case == "renamed":
            return [lines[0], lines[1].replace('"1002"', '"1099"'), lines[2]]
        if case == "extra":
            return [*lines, '<wgt id="3001"> 1.0 </wgt>']
        return lines

    path = tmp_path / f"{case}.lhe"
    write_weighted_lhe(ttbar_lhe, path, ratios, edit)
    error = NonFiniteError if case == "nan" else InputError
    with pytest.raises(error, match="event 7") as info:
        lhcgan.read(path)
    assert {"missing": "2 variation weights", "extra": "4 variation weights", "renamed": "'1099' where '1002'",
            "nan": "NaN or infinite variation weight '1002'"}[case] in str(info.value)
    assert cli(["convert", str(path), str(tmp_path / "x.root")]) == 1 and not (tmp_path / "x.root").exists()


def test_a_ratio_spanning_orders_of_magnitude_is_warned_about(ttbar_lhe, tmp_path):
    n_file = ttbar_lhe.read_text().count("<event>")
    ratios = np.ones((n_file, 3))
    ratios[::3, 2] = 1e-4
    write_weighted_lhe(ttbar_lhe, tmp_path / "wide.lhe", ratios)
    with pytest.warns(UserWarning, match="variation '2001' .* spans 0.0001 to 1"):
        lhcgan.read(tmp_path / "wide.lhe")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_weighted_lhe(ttbar_lhe, tmp_path / "calm.lhe", np.ones((n_file, 3)))
        lhcgan.read(tmp_path / "calm.lhe")


def test_nanoaod_weights_keep_their_order_and_titles_and_coffea_reads_them(ttbar, tmp_path):
    reader = RootReader(shared_file(NANOAOD))
    vs = reader.variation_set
    assert vs.summary() == "9 scale, 102 pdf, 1 ps"
    # the branch title states the order: [0] is μ_R = μ_F = ½, [4] the nominal, [8] both doubled
    assert [v.scales for v in (vs.entries[i] for i in vs.indices("scale"))] == [(r, f) for r, f in SCALE_POINTS]
    assert vs.entries[vs.indices("pdf")[0]].text == "LHA ID 292201"
    real = reader._read_variations(0, 200)
    nano = real[np.arange(len(ttbar)) % 200]  # the file's own ratios, on tt̄ events
    events = lhcgan.Events(ttbar.momenta, ttbar.pdg, None, ttbar.process, ttbar.meta, variations=nano, variation_set=vs)
    path = tmp_path / "nano.root"
    lhcgan.write(events, path)
    t = uproot.open(path)["Events"]
    titles = dict(vs.titles)
    assert t["LHEScaleWeight"].title == titles["scale"] and t["LHEPdfWeight"].title == titles["pdf"]
    np.testing.assert_array_equal(lhcgan.read(path).variations, nano.astype(np.float32))
    coffea = pytest.importorskip("coffea.nanoevents")
    ev = coffea.NanoEventsFactory.from_root({str(path): "Events"}, schemaclass=coffea.NanoAODSchema, mode="eager").events()
    np.testing.assert_array_equal(ak.to_numpy(ev.LHEScaleWeight), nano[:, :9].astype(np.float32))
    assert ak.to_numpy(ev.LHEPdfWeight).shape == (len(ttbar), 102)


@pytest.fixture(scope="module")
def lo_samples(tmp_path_factory) -> dict[str, lhcgan.Events]:
    """Pythia 8 with its exact LO variation weights (20 000 events), and samples made at 2 μ_R and at 2 μ_F."""
    folder = tmp_path_factory.mktemp("lo")
    out = {}
    for name, seed, extra in (("nominal", 61, ()), ("muR2", 62, ("SigmaProcess:renormMultFac = 4",)),
                              ("muF2", 63, ("SigmaProcess:factorMultFac = 4",))):
        simulate(20_000, folder / f"{name}.root", seed=seed, variations=name == "nominal", settings=extra)
        out[name] = lhcgan.read(folder / f"{name}.root")
    return out


def test_simulated_lo_weights_agree_with_samples_made_at_the_varied_scales(lo_samples):
    nominal = lo_samples["nominal"]
    vs = nominal.variation_set
    assert vs.summary() == "9 scale, 2 pdf" and vs.entries[4].scales == (1.0, 1.0)
    np.testing.assert_array_equal(nominal.variations[:, 4], 1.0)  # the nominal point is the nominal
    r = nominal.variations
    assert (r[:, 1] > 1).all() and (r[:, 7] < 1).all()  # μ_R alone: α_s grows towards lower scales
    sigma0, err0 = nominal.meta["cross_section_pb"], nominal.meta["cross_section_error_pb"]
    for name, k_r, k_f in (("muR2", 2.0, 1.0), ("muF2", 1.0, 2.0)):
        col = SCALE_POINTS.index((k_r, k_f))
        varied = lo_samples[name]
        mean, mean_err = r[:, col].mean(), r[:, col].std() / np.sqrt(len(r))
        # σ at the varied scale: Pythia's own estimate there, against the nominal's reweighted
        expect = sigma0 * mean
        error = np.hypot(varied.meta["cross_section_error_pb"], np.hypot(err0 * mean, sigma0 * mean_err))
        assert abs(varied.meta["cross_section_pb"] - expect) < 4 * error, name
        assert abs(mean - 1) > 10 * error / sigma0  # the variation is far larger than the test's error


def test_a_fit_recovers_ratios_that_are_a_smooth_function_of_the_event(ttbar):
    vs = VariationSet(tuple(Variation(i, "scale" if k < 2 else "pdf", t) for k, (i, t) in enumerate(zip(IDS, TEXTS))))
    events = lhcgan.Events(ttbar.momenta, ttbar.pdg, None, ttbar.process, ttbar.meta, variations=known_ratios(ttbar),
                           variation_set=vs)
    train, held = events[:2400], events[2400:]
    model = fit_variations(train, held, seed=1, steps=1500)
    pred = model.predict_events(held)
    truth = known_ratios(held)
    # the held-out events' ratios, event by event; the spread of the targets is 4–10 %
    assert np.abs(pred / truth - 1).mean(axis=0).max() < 0.005
    assert np.abs(pred / truth - 1).max() < 0.05
    # weighted by the nominal, signed weights included: half the events at −1 do not move the estimate
    signed = lhcgan.Events(events.momenta, events.pdg, np.where(np.arange(len(events)) % 7 == 0, -0.5, 1.5),
                           events.process, variations=events.variations, variation_set=vs)
    again = fit_variations(signed[:2400], signed[2400:], seed=1, steps=1500).predict_events(held)
    assert np.abs(again / truth - 1).mean(axis=0).max() < 0.01
    assert model.from_dict(model.to_dict()).predict_events(held) == pytest.approx(pred, rel=1e-6)


def test_fit_learns_the_variations_and_generate_writes_them(lo_samples, tmp_path):
    from tests.test_train import tiny
    from lhcgan.train import Trainer

    sample = lo_samples["nominal"][:6000]
    tr = Trainer(sample, tiny(iterations=30), tmp_path)
    model = tr.fit()
    assert model.variation_model is not None and model.variation_model.variations == sample.variation_set
    loaded = lhcgan.modelfile.TrainedModel.load(tmp_path / "model.pt")
    out = tmp_path / "g.root"
    assert cli(["generate", "-m", str(tmp_path / "model.pt"), "-n", "3000", "-o", str(out), "--seed", "4"]) == 0
    gen = lhcgan.read(out)
    assert gen.variation_set == sample.variation_set and gen.variations.shape == (3000, 11)
    np.testing.assert_allclose(gen.variations, loaded.sample(3000, seed=4).variations, rtol=2**-23)
    # the learnt ratios on the generated events follow the truth's: the μ_R = 2 column is 0.83–0.87 at LO
    assert 0.80 < gen.variations[:, 7].mean() < 0.90 and np.abs(gen.variations[:, 4] - 1).max() < 0.01
    lhe = tmp_path / "g.lhe"
    assert cli(["generate", "-m", str(tmp_path / "model.pt"), "-n", "200", "-o", str(lhe)]) == 0
    assert lhcgan.read(lhe).variation_set.ids == sample.variation_set.ids and "<rwgt>" in lhe.read_text()


def test_validate_judges_each_variation_against_the_truth(lo_samples):
    from lhcgan.validate.variations import compare_variations

    nominal = lo_samples["nominal"]
    a, b = nominal[:10_000], nominal[10_000:]
    same = compare_variations(a, b)
    assert same["passed"] and len(same["variations"]) == 11 and same["envelope"]["passed"]
    # one variation 3 % off where m(tt̄) > 500 GeV: that one fails, in m(tt̄), the others pass
    m = physics.invariant_mass(a.momenta, a.masses)
    broken = a.variations.copy()
    broken[:, 7] *= np.where(m > 500, 1.03, 1.0)
    off = compare_variations(lhcgan.Events(a.momenta, a.pdg, None, a.process, variations=broken,
                                           variation_set=a.variation_set), b)
    failed = [k for k, rec in off["variations"].items() if not rec["passed"]]
    assert failed == [a.variation_set.ids[7]] and not off["passed"]
    assert off["variations"][failed[0]]["max_deviation"] > 0.02
