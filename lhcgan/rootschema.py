"""The layout of lhcgan's ROOT files, shared by the reader and the writer.

Since lhcgan 0.2 the tree follows NanoAOD conventions, so coffea's ``NanoAODSchema`` opens it
as it is: event IDs ``run``, ``luminosityBlock``, ``event``; the particles as the collection
``LHEPart`` (one of the names coffea gives four-vector behaviour; they are parton-level LHE
particles) with ``LHEPart_status`` = 1; the weight as ``genWeight``. Files of earlier versions
(collection ``Particle``, weight ``weight``) are still read.
"""

from __future__ import annotations

TREE = "Events"
#: The particle collections a ROOT file is read from (`lhcgan.reading.root.SCHEMAS` says how): lhcgan's own,
#: NanoAOD's outgoing LHE partons, NanoAOD's generator particles with their mothers.
COLLECTIONS = ("lhcgan", "LHEPart", "GenPart")
METADATA = "lhcgan_metadata"
COLLECTION = "LHEPart"
LEGACY_COLLECTION = "Particle"
WEIGHT = "genWeight"
#: weight branches a reader takes, in order of preference: lhcgan/NanoAOD nominal, NanoAOD LHE, lhcgan < 0.2
WEIGHT_BRANCHES = ("genWeight", "LHEWeight_originalXWGTUP", "weight")
EVENT_IDS = ("run", "luminosityBlock", "event")
BRANCH_TYPE = "var * {pt: float32, eta: float32, phi: float32, mass: float32, pdgId: int32, status: int32}"
