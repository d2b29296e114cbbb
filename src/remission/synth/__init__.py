"""Seeded generators of synthetic data (no real patient data ever).

Each generator takes an explicit ``seed`` or ``numpy.random.Generator``; the same seed gives the
same bytes. :mod:`remission.synth.examples` writes the bundled example cases.
"""
