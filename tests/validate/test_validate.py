import json

import lhcgan
from lhcgan.cli import main
from lhcgan.validate import validate

EXPECTED = {"index.html", "plots.pdf", "metrics.json", "m_t_peak.png", "pt_b_tail.png", "eta_b_vs_eta_bbar.png",
            "pt_balance.png", "sum_px.png", "m_ttbar.png", "dR_W+_vs_pt.png"}


def test_every_figure_and_the_metrics_are_written(ttbar, tmp_path, capsys):
    a, b = ttbar[:1500], ttbar[1500:]
    metrics = validate(a, b, tmp_path / "v", auc_events=1500)
    files = {p.name for p in (tmp_path / "v").iterdir()}
    assert EXPECTED <= files
    slots = [s.name for s in ttbar.process.slots]
    for s in slots:
        assert {f"pt_{s}.png", f"eta_{s}.png", f"phi_{s}.png"} <= files
    stored = json.loads((tmp_path / "v" / "metrics.json").read_text())
    for key in ("auc", "in_peak_ratio", "pt_balance_median", "w1_over_sigma"):
        assert key in stored
    assert set(stored["in_peak_ratio"]) == {"W+", "W-", "t", "tbar"}
    assert {f"pt_{s}" for s in slots} <= set(stored["w1_over_sigma"])
    html = (tmp_path / "v" / "index.html").read_text()
    assert html.count("<img") == len([f for f in files if f.endswith(".png")])
    assert stored["auc"] == metrics["auc"]
    out = capsys.readouterr().out
    assert "classifier AUC" in out and "W1/σ" in out


def test_cli_validate(ttbar, tmp_path, capsys):
    lhcgan.write(ttbar[:1500], tmp_path / "a.root")
    lhcgan.write(ttbar[1500:], tmp_path / "b.lhe")
    code = main(["validate", str(tmp_path / "a.root"), str(tmp_path / "b.lhe"), "-o", str(tmp_path / "v"),
                 "--auc-events", "1000"])
    assert code == 0 and (tmp_path / "v" / "metrics.json").is_file()
    code = main(["validate", str(tmp_path / "missing.root"), str(tmp_path / "b.lhe")])
    assert code == 1 and "no such file" in capsys.readouterr().err
