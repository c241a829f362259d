import gzip
import subprocess
import sys

import numpy as np
import pytest

import lhcgan
from lhcgan.cli import main
from tests.shared import NANOAOD, NON_TTBAR_LHE, shared_file, write_ttree


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_and_convert(tmp_path, capsys):
    lhe = tmp_path / "t.lhe.gz"
    code, out, _ = run(capsys, "simulate", "-n", "400", "--seed", "5", "-q", "-o", str(lhe))
    assert code == 0 and "400 read" in out
    code, out, _ = run(capsys, "convert", str(lhe), str(tmp_path / "t.root"))
    assert code == 0 and "400 read" in out and "accepted" in out
    code, out, _ = run(capsys, "convert", str(tmp_path / "t.root"), str(tmp_path / "back.lhe"))
    assert code == 0
    assert len(lhcgan.read(tmp_path / "back.lhe")) == len(lhcgan.read(lhe))


def bad_inputs(tmp_path, ttbar_lhe):
    truncated = tmp_path / "cut.lhe.gz"
    data = gzip.compress(ttbar_lhe.read_bytes())
    truncated.write_bytes(data[: len(data) // 3])
    malformed = tmp_path / "bad.lhe"
    malformed.write_text(ttbar_lhe.read_text().replace("</event>", "", 5))
    nan = tmp_path / "nan.lhe"
    text = ttbar_lhe.read_text()
    i = text.index("<event>", len(text) // 2)
    j = text.index("\n", text.index("\n", text.index("\n", i) + 1) + 1)  # a particle line
    line = text[j + 1 : text.index("\n", j + 1)].split()
    line[6] = "nan"
    nan.write_text(text[: j + 1] + " ".join(line) + text[text.index("\n", j + 1) :])
    nobranch = tmp_path / "jets.root"
    import awkward as ak

    write_ttree(nobranch, {"Jet_pt": ak.Array([[1.0], [2.0, 3.0]])})
    return {
        "missing": (tmp_path / "nope.lhe", "no such file"),
        "truncated gzip": (truncated, "truncated"),
        "malformed": (malformed, "malformed event"),
        "NaN": (nan, "NaN or infinite momentum"),
        "no branches": (nobranch, "no usable branches"),
    }


@pytest.mark.parametrize("case", ["missing", "truncated gzip", "malformed", "NaN", "no branches"])
def test_bad_input_gives_one_line(case, tmp_path, ttbar_lhe, capsys):
    path, message = bad_inputs(tmp_path, ttbar_lhe)[case]
    out_file = tmp_path / "out.root"
    code, _, err = run(capsys, "convert", str(path), str(out_file))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("lhcgan: error: ") and message in err and str(path) in err
    assert not out_file.exists() and not list(tmp_path.glob(".out.root*"))


@pytest.mark.parametrize("name", [*NON_TTBAR_LHE, NANOAOD])
def test_other_processes_are_refused(name, tmp_path, capsys):
    code, _, err = run(capsys, "convert", shared_file(name), str(tmp_path / "x.root"))
    assert code == 1 and "events contain a tt̄ decay" in err and err.count("\n") == 1


def test_no_traceback_from_the_console(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lhcgan", "convert", str(tmp_path / "missing.lhe"), str(tmp_path / "o.root")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0
    assert "no such file" in proc.stderr


def test_console_script_exits_at_once_with_its_output_complete(tmp_path):
    """`run` ends the process with os._exit after the command: its printed lines and its file must be whole,
    and the exit code the command's."""
    out = tmp_path / "g.root"
    proc = subprocess.run([sys.executable, "-m", "lhcgan", "generate", "-n", "3000", "-o", str(out), "--seed", "5"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(f"wrote 3000 events to {out}\n")
    events = lhcgan.read(out)
    assert len(events) == 3000 and events.report.accepted == 3000
    missing = subprocess.run([sys.executable, "-m", "lhcgan", "generate", "-m", str(tmp_path / "none.pt"), "-n", "1",
                              "-o", str(tmp_path / "x.root")], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1 and missing.stderr.startswith("lhcgan: error: ") and not (tmp_path / "x.root").exists()


def test_generating_processes_give_one_file_and_end_with_it(tmp_path):
    """`generate --processes` writes the same file for two workers or three, and Ctrl-C (SIGINT to the whole
    process group, as a terminal sends it) ends the command and every worker, one line, no file left."""
    import os
    import signal
    import time

    files = []
    for k in (2, 3):
        files.append(tmp_path / f"p{k}.root")
        proc = subprocess.run([sys.executable, "-m", "lhcgan", "generate", "-n", "30000", "--processes", str(k), "-q",
                               "-o", str(files[-1]), "--seed", "7"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    a, b = lhcgan.read(files[0]), lhcgan.read(files[1])
    assert len(a) == len(b) == 30000
    np.testing.assert_array_equal(a.momenta, b.momenta)
    np.testing.assert_array_equal(a.variations, b.variations)
    out = tmp_path / "long.root"
    # a terminal's foreground job has SIGINT at its default; a test run in the background (`cmd &` in a script)
    # inherits it ignored, and Python then installs no handler: the command must get the terminal's disposition
    proc = subprocess.Popen([sys.executable, "-m", "lhcgan", "generate", "-n", "50000000", "--processes", "2", "-q",
                             "-o", str(out)], stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(6)  # past start-up: the workers are generating
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "lhcgan: interrupted" and "Traceback" not in err
    with pytest.raises(ProcessLookupError):  # no worker outlives the command (an orphan would end only later)
        os.killpg(proc.pid, 0)
    assert not out.exists() and not list(tmp_path.glob("long*"))


def test_bad_output_suffix(tmp_path, ttbar_lhe, capsys):
    code, _, err = run(capsys, "convert", str(ttbar_lhe), str(tmp_path / "out.txt"))
    assert code == 1 and "unknown output format" in err


def test_tiny_fit_end_to_end(tmp_path, ttbar_lhe, capsys):
    out = tmp_path / "run"
    settings = ["layers=2", "hidden=32", "disc_layers=2", "disc_hidden=32", "batch=128", "checkpoint_every=10"]
    args = ["fit", str(ttbar_lhe), "--iterations", "20", "--seed", "3", "--out", str(out), "-q", "-n", "2000", "--lhe"]
    for s in settings:
        args += ["--set", s]
    code, stdout, _ = run(capsys, *args)
    assert code == 0
    for name in ("model.pt", "checkpoint.pt", "card.yaml", "losses.jsonl", "loss_curves.png", "generated.root",
                 "generated.lhe"):
        assert (out / name).is_file() and name in stdout
    assert len(lhcgan.read(out / "generated.root")) == 2000
    assert (out / "validation" / "metrics.json").is_file() and (out / "validation" / "loss_curves.png").is_file()
    code, stdout, _ = run(capsys, "generate", "-m", str(out / "model.pt"), "-n", "1500", "-o", str(tmp_path / "g.root"))
    assert code == 0 and len(lhcgan.read(tmp_path / "g.root")) == 1500
    code, _, err = run(capsys, "fit", str(ttbar_lhe), "--set", "hiden=3", "--out", str(out), "-q")
    assert code == 1 and "unknown settings" in err


def test_refine_an_unrefined_model(tmp_path, ttbar_lhe, ttbar, capsys):
    """`lhcgan refine` gives a model trained with refine=false the refiner `fit` makes by default, from its own
    training events; another sample, or a model conditioned on m_t, is refused in one line."""
    from lhcgan.modelfile import TrainedModel

    out = tmp_path / "run"
    args = ["fit", str(ttbar_lhe), "--iterations", "10", "--out", str(out), "-q", "--no-validate", "-n", "100"]
    for s in ("layers=2", "hidden=32", "disc_layers=2", "disc_hidden=32", "batch=128", "refine=false"):
        args += ["--set", s]
    assert run(capsys, *args)[0] == 0
    plain = TrainedModel.load(out / "model.pt")
    assert plain.refiner is None and not plain.config.refine
    code, stdout, _ = run(capsys, "refine", str(ttbar_lhe), "-m", str(out / "model.pt"), "-o", str(tmp_path / "r.pt"))
    assert code == 0 and "keeps" in stdout
    refined = TrainedModel.load(tmp_path / "r.pt")
    assert refined.refiner is not None and refined.config.refine
    assert refined.refiner.training_events == plain.meta["training_events"]  # unweighted: N_eff = N
    assert refined.refiner.pairs == tuple(map(tuple, refined.config.refine_pairs)) != ()
    # the refinement's settings may change (and are recorded); the generator's may not
    code, _, _ = run(capsys, "refine", str(ttbar_lhe), "-m", str(out / "model.pt"), "-o", str(tmp_path / "r1.pt"),
                     "--set", "refine_pairs=[]", "--set", "refine_extra=[y_t]")
    single = TrainedModel.load(tmp_path / "r1.pt")
    assert code == 0 and single.refiner.pairs == () and single.config.refine_pairs == []
    assert "y_t" in single.refiner.names and "y_tbar" not in single.refiner.names
    code, _, err = run(capsys, "refine", str(ttbar_lhe), "-m", str(out / "model.pt"), "-o", str(tmp_path / "x.pt"),
                       "--set", "hidden=64")
    assert code == 1 and "refine changes only" in err and len(err.strip().splitlines()) == 1
    lhcgan.write(ttbar[:2000], tmp_path / "other.root")
    code, _, err = run(capsys, "refine", str(tmp_path / "other.root"), "-m", str(out / "model.pt"),
                       "-o", str(tmp_path / "x.pt"))
    assert code == 1 and "give the sample the model was trained on" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.pt").exists()


def test_a_conditioned_model_is_not_refined(mt_model, mt_samples, tmp_path, capsys):
    from tests.shared import LOW

    assert mt_model.refiner is None and not mt_model.config.refine  # the settings it used
    path = tmp_path / "mt.pt"
    mt_model.save(path)
    code, _, err = run(capsys, "refine", mt_samples[LOW], "-m", str(path), "-o", str(tmp_path / "x.pt"))
    assert code == 1 and "conditioned on mt is not refined" in err


def test_convert_keeps_signed_weights_in_every_direction(tmp_path, ttbar, capsys):
    w = np.where(np.arange(len(ttbar)) % 5 == 0, -0.25, 1.25) * np.linspace(0.5, 2, len(ttbar))
    start = tmp_path / "w.root"
    lhcgan.write(lhcgan.Events(ttbar.momenta, ttbar.pdg, w), start)
    chain = [start, tmp_path / "a.LHE", tmp_path / "b.lhe.gz", tmp_path / "c.root", tmp_path / "d.root"]
    for src, dst in zip(chain, chain[1:]):
        code, out, _ = run(capsys, "convert", str(src), str(dst))
        assert code == 0
        summary = out.splitlines()[0]
        assert "20.0% negative" in summary and f"Σw = {w.sum():.6g}" in summary
        np.testing.assert_allclose(lhcgan.read(dst).weights, w, rtol=1e-10)
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert f"effective size {n_eff:,.0f}" in summary


def test_convert_to_upper_case_lhe_takes_ecm(tmp_path, ttbar_lhe, capsys):
    out = tmp_path / "x.LHE"
    assert run(capsys, "convert", str(ttbar_lhe), str(out), "--ecm", "8000")[0] == 0
    assert lhcgan.read(out).meta["ecm"] == 8000


def test_channels_on_the_command_line(tmp_path, capsys, all_channels):
    lhe = tmp_path / "lj.lhe"
    code, out, _ = run(capsys, "simulate", "-n", "300", "--seed", "6", "--channel", "ljets", "--mt", "172.5", "-q",
                       "-o", str(lhe))
    assert code == 0 and "300 accepted: 300 ljets" in out
    assert lhcgan.read(lhe).process.pole_masses()["t"] == 172.5
    full = tmp_path / "all.root"
    lhcgan.write(all_channels, full)
    code, out, _ = run(capsys, "convert", str(full), str(tmp_path / "dl.root"), "--channel", "dilep")
    n_dilep = all_channels.channel_counts()["dilep"]
    assert code == 0 and f"{n_dilep} dilep" in out and "(channel not selected)" in out
    assert set(lhcgan.read(tmp_path / "dl.root").channel_counts()) == {"dilep"}
    with pytest.raises(SystemExit) as info:  # argparse: a usage error, exit code 2
        main(["simulate", "-n", "10", "--channel", "taus", "-o", str(tmp_path / "x.root")])
    assert info.value.code == 2 and "invalid choice: 'taus'" in capsys.readouterr().err
    # a model of the all-hadronic channel has no lepton+jets events to give
    code, _, err = run(capsys, "generate", "-n", "10", "--channel", "ljets", "-o", str(tmp_path / "g.root"))
    assert code == 1 and "trained on allhad, not ljets" in err and not (tmp_path / "g.root").exists()
