"""Analyse an lhcgan ROOT file with plain uproot + vector: no lhcgan import.

    python examples/analysis_with_uproot.py events.root

Builds Momentum4D vectors from the NanoAOD-style branches (LHEPart_*, genWeight), reconstructs the
W and top candidates from the documented slot order and prints their mass peaks.
Slot order: [b, q from W+, q̄′ from W+, b̄, q from W-, q̄′ from W-].
"""

import json
import sys

import awkward as ak
import numpy as np
import uproot
import vector

vector.register_awkward()

path = sys.argv[1] if len(sys.argv) > 1 else "events.root"
with uproot.open(path) as f:
    meta = json.loads(str(f["lhcgan_metadata"]))
    events = f["Events"].arrays(["LHEPart_pt", "LHEPart_eta", "LHEPart_phi", "LHEPart_mass", "LHEPart_pdgId",
                                 "genWeight"])

p = ak.zip(
    {"pt": events.LHEPart_pt, "eta": events.LHEPart_eta, "phi": events.LHEPart_phi, "mass": events.LHEPart_mass},
    with_name="Momentum4D",
)
w_plus = p[:, 1] + p[:, 2]
w_minus = p[:, 4] + p[:, 5]
top = p[:, 0] + w_plus
antitop = p[:, 3] + w_minus
ttbar = top + antitop

print(f"{path}: {len(events)} events, lhcgan {meta['lhcgan_version']}, source: {meta.get('source')}")
for name, cand in (("W+", w_plus), ("W-", w_minus), ("t", top), ("tbar", antitop)):
    m = ak.to_numpy(cand.mass)
    h, edges = np.histogram(m, bins=400, range=(np.median(m) - 10, np.median(m) + 10))
    peak = 0.5 * (edges[h.argmax()] + edges[h.argmax() + 1])
    print(f"  m({name:4}) median {np.median(m):7.2f} GeV, histogram peak {peak:7.2f} GeV")
print(f"  m(tt̄) median {np.median(ak.to_numpy(ttbar.mass)):7.1f} GeV, mean top pT {np.mean(ak.to_numpy(top.pt)):.1f} GeV")
print(f"  sum of weights {ak.sum(events.genWeight):.1f}")
