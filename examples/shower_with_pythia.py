"""Shower and hadronise an lhcgan LHE file with Pythia 8, as it is.

    python examples/shower_with_pythia.py events.lhe [n_events]

Pythia reads the file with Beams:frameType = 4, keeps t, t̄ and W± as resonances,
showers, hadronises and checks every event (Check:event is on by default). A τ from a W
is written undecayed, as at parton level; Pythia decays it, and the τ decays are counted.
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

n_ok = n_failed = n_charged = n_tau = n_tau_decayed = 0
while n_ok + n_failed < n_max:
    if not pythia.next():
        if pythia.infoPython().atEndOfFile():
            break
        n_failed += 1
        continue
    n_ok += 1
    n_charged += sum(1 for p in pythia.event if p.isFinal() and p.isCharged())
    # the τ of the W decays, and the last copies of those that decayed into a ν_τ (not the τ of B or D decays)
    event = pythia.event
    n_tau += sum(1 for p in pythia.process if p.idAbs() == 15 and pythia.process[p.mother1()].idAbs() == 24)
    n_tau_decayed += sum(1 for p in event if p.idAbs() == 15 and p.daughter1() > 0
                         and event[p.daughter1()].idAbs() != 15
                         and event[event[p.iTopCopyId()].mother1()].idAbs() == 24
                         and any(event[d].idAbs() == 16 for d in range(p.daughter1(), p.daughter2() + 1)))

pythia.stat()
print(f"{path}: showered {n_ok} events, {n_failed} failed, {n_charged / max(n_ok, 1):.0f} charged particles per event; "
      f"{n_tau_decayed} of {n_tau} τ decayed")
sys.exit(1 if n_failed else 0)
