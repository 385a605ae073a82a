"""The GenSR training program (``gensr train``)."""
