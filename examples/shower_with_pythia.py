"""Shower and hadronise an lhcgan LHE file with Pythia 8, as it is.

    python examples/shower_with_pythia.py events.lhe [n_events]

Pythia reads the file with Beams:frameType = 4, keeps t, t̄ and W± as resonances,
showers, hadronises and checks every event (Check:event is on by default).
"""

import sys

import pythia8mc

path = sys.argv[1] if len(sys.argv) > 1 else "events.lhe"
n_max = int(sys.argv[2]) if len(sys.argv) > 2 else 100

pythia = pythia8mc.Pythia("", False)
for setting in ("Beams:frameType = 4", f"Beams:LHEF = {path}", "Next:numberCount = 0", "Next:numberShowEvent = 0"):
    pythia.readString(setting)
if not pythia.init():
    sys.exit(f"{path}: Pythia could not read the file")

n_ok = n_failed = n_charged = 0
while n_ok + n_failed < n_max:
    if not pythia.next():
        if pythia.infoPython().atEndOfFile():
            break
        n_failed += 1
        continue
    n_ok += 1
    n_charged += sum(1 for p in pythia.event if p.isFinal() and p.isCharged())

pythia.stat()
print(f"{path}: showered {n_ok} events, {n_failed} failed, {n_charged / max(n_ok, 1):.0f} charged particles per event")
sys.exit(1 if n_failed else 0)
