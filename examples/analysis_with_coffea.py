"""Analyse an lhcgan ROOT file with coffea, as a CMS analysis reads NanoAOD: no lhcgan import.

    python examples/analysis_with_coffea.py events.root

coffea's NanoAODSchema opens lhcgan's files as they are: they carry NanoAOD's event IDs
(run, luminosityBlock, event), the particles as the collection ``LHEPart`` (with four-vector
behaviour) and the weight as ``genWeight``. Slot order: [b, q from W+, q̄′ from W+, b̄, q from W-,
q̄′ from W-]. Prints the W and top mass peaks and the weighted m(tt̄) spectrum's mean.
"""

import sys
import warnings

import awkward as ak
import numpy as np
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

path = sys.argv[1] if len(sys.argv) > 1 else "events.root"
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # NanoAODSchema warns about every collection a full NanoAOD would have
    events = NanoEventsFactory.from_root({path: "Events"}, schemaclass=NanoAODSchema, mode="eager").events()

parts = events.LHEPart
w_plus, w_minus = parts[:, 1] + parts[:, 2], parts[:, 4] + parts[:, 5]
top, antitop = parts[:, 0] + w_plus, parts[:, 3] + w_minus
m_ttbar = ak.to_numpy((top + antitop).mass)
weight = ak.to_numpy(events.genWeight)

print(f"{path}: {len(events)} events, first event ID {events.run[0]}:{events.luminosityBlock[0]}:{events.event[0]}")
for name, cand in (("W+", w_plus), ("W-", w_minus), ("t", top), ("tbar", antitop)):
    m = ak.to_numpy(cand.mass)
    h, edges = np.histogram(m, bins=400, range=(np.median(m) - 10, np.median(m) + 10), weights=weight)
    peak = 0.5 * (edges[h.argmax()] + edges[h.argmax() + 1])
    print(f"  m({name:4}) histogram peak {peak:7.2f} GeV")
print(f"  sum of genWeight {weight.sum():.6g}; weighted mean m(tt̄) {np.average(m_ttbar, weights=weight):.1f} GeV")
