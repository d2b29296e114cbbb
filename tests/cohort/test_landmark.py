"""Landmark analysis sets: who is analysed, the restarted clock, and the stated rule."""

from __future__ import annotations

import numpy as np

from remission.cohort import landmark


def test_landmark_keeps_event_free_patients_and_restarts_clock() -> None:
    # Hand-built: 5 patients; landmark day 28. Patient 0 relapses on day 20 and patient 1 is
    # censored on day 28 (not followed beyond it): both excluded. The rest: times - 28.
    time = [20, 28, 40, 100, 365]
    event = [1, 0, 1, 0, 2]
    lm = landmark(time, event, 28, covariate=[1e-3, 0, 1e-4, 0, 2e-2], covariate_name="MRD",
                  horizon=300)
    assert lm.index.tolist() == [2, 3, 4]
    assert lm.time.tolist() == [12, 72, 300]          # 365 - 28 = 337 capped at the horizon 300
    assert lm.event.tolist() == [1, 0, 0]             # the event after the horizon is censored
    assert lm.n_event_before == 1 and lm.n_censored_before == 1
    assert "landmark at 28 days: 3 of 5 patients" in lm.rule
    assert "excluded: 1 with an event and 1 censored" in lm.rule
    assert "300 days after the landmark" in lm.rule


def test_covariate_is_last_measurement_by_the_landmark() -> None:
    # patient a: MRD 1e-2 at day 10, 1e-4 at day 27, 5e-1 at day 60 (after the landmark: ignored)
    # patient b: only a day-2 value, outside a 14-day window -> no covariate (NaN), reported
    ids = ["a", "a", "a", "b"]
    mt = [10, 27, 60, 2]
    mv = [1e-2, 1e-4, 5e-1, 3e-3]
    lm = landmark([200, 150], [1, 0], 28, measurements=(ids, mt, mv), patient=["a", "b"],
                  window=14, covariate_name="MRD")
    assert lm.covariate[0] == 1e-4
    assert np.isnan(lm.covariate[1])
    assert lm.n_no_covariate == 1
    assert "last value measured at or before 28 days, no earlier than 14 days" in lm.rule
