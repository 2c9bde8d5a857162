"""Colours shared by the live views and the session report (a vocabulary leaf: no Qt, no
matplotlib). The palette is Okabe & Ito's (2008), readable with every common colour-vision
deficiency.

* :data:`CALM`: the client view and the report, which a client may read: orange, not red, for
  hyperarousal; sky blue for hypoarousal.
* :data:`ALERT`: the therapist console, which must catch the eye: vermillion and blue.
"""

from __future__ import annotations

GREEN = "#009E73"  # bluish green
VERMILLION = "#D55E00"
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
PURPLE = "#CC79A7"

CALM = {"within": GREEN, "hyper": ORANGE, "hypo": SKY, "unknown": "#9A9A9A"}
"""Zone colours of the client view and the report."""
ALERT = {"within": GREEN, "hyper": VERMILLION, "hypo": BLUE, "unknown": "#7A7A7A"}
"""Zone colours of the therapist console."""
ROLE_COLOURS = {"cardiac": VERMILLION, "electrodermal": BLUE, "respiratory": GREEN}
"""A colour per role (its marks on the console's traces, its synchrony in both views)."""
BAND = "#BFE3D3"  # the window of tolerance band: a soft version of the within colour
INK = "#2B2B2B"  # text
BACKGROUND = "#F7F5F0"  # warm paper, client view and report
