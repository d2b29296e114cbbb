"""Invariants of the disease-state timeline over generated courses (deterministic Hypothesis
profile of the suite): periods are contiguous and ordered, exactly the last is ongoing, every
period rests on recorded evidence, and a negative MRD at the required sensitivity after therapy
always reads as MRD-negative remission."""

from __future__ import annotations

import datetime as dt
import itertools

from _clinic_factory import make_case, mrd
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.state import disease_state

D = dt.date
REL = D(2019, 1, 10)

_values = st.one_of(st.none(), st.sampled_from([1e-6, 5e-5, 1e-4, 3e-4, 2e-3, 0.02, 0.2]))


@settings(max_examples=80)
@given(values=st.lists(_values, min_size=0, max_size=8),
       response=st.sampled_from([None, "CR", "NR", "MRD_negative", "MRD_positive"]),
       cart=st.booleans(), hsct=st.booleans())
def test_timeline_invariants(values, response, cart, hsct):
    therapy = {"name": "reinduction", "kind": "chemotherapy", "start": "2019-01-14",
               "end": "2019-02-11"}
    if response:
        therapy["best_response"] = response
    extra = {"therapies": [therapy]}
    if cart:
        extra["cart_infusions"] = [{"product": "tisagenlecleucel", "date": "2019-05-01"}]
    if hsct:
        extra["transplants"] = [{"date": "2019-07-01", "donor": "haploidentical"}]
    c = make_case(extra=extra)
    ms = [mrd(v, D(2019, 2, 11) + dt.timedelta(days=30 * i), lod=1e-5, loq=1e-5)
          for i, v in enumerate(values)]
    s = disease_state(c, ms)
    periods = s.periods
    assert periods[0].status == "diagnosis" and periods[-1] == s.current
    assert s.current.end is None and all(p.end is not None for p in periods[:-1])
    for a, b in itertools.pairwise(periods):
        assert a.end == b.start and a.start <= b.start
    assert all(p.evidence for p in periods)
    assert s.in_remission == (s.current.status not in ("diagnosis", "haematological_relapse",
                                                         "refractory"))
    # the last marrow result decides when it is a negative at LoD 1e-5 (<= required 1e-4)
    if values and values[-1] is None and s.current.start >= D(2019, 2, 11):
        assert s.current.status == "cr_mrd_negative"
