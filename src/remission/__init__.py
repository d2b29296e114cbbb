"""remission: MRD, clonal architecture, CAR-T monitoring and evidence-linked options for
relapsed childhood ALL.

Not a medical device: decision support for professionals. See ``remission.domain`` for the
records, ``remission.pipeline.analyze`` for the one-call analysis of a case.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
