"""Bad cohort input: one CohortDataError naming the row (1-based) and the column."""

from __future__ import annotations

import numpy as np
import pytest

from remission.cohort import cox_ph, cumulative_incidence, kaplan_meier, landmark
from remission.cohort._data import check_event_after_censoring
from remission.errors import CohortDataError, InputError


def test_negative_time_names_row_and_column() -> None:
    with pytest.raises(CohortDataError, match=r"record 3, field time: time must be >= 0, but was -2"):
        kaplan_meier([1, 4, -2, 5], [1, 0, 1, 1])


def test_missing_time_names_row() -> None:
    with pytest.raises(CohortDataError, match=r"record 2, field time: .*missing or nan"):
        cumulative_incidence([1, np.nan, 3], [1, 2, 0])


def test_unknown_event_code_names_row() -> None:
    with pytest.raises(CohortDataError, match=r"record 4, field event: event must be one of \[0, 1\] \(0 = censored, 1 = event\), but was 2"):
        kaplan_meier([1, 2, 3, 4], [1, 0, 1, 2])


def test_stop_not_after_start_names_row() -> None:
    with pytest.raises(CohortDataError, match=r"record 2, field stop: stop must be > start \(5.0\), but was 5.0"):
        cox_ph([[0], [1], [0]], [3, 5, 6], [1, 0, 1], start=[0, 5, 0])


def test_overlapping_intervals_of_one_patient() -> None:
    # patient 7 has (0, 10] and (8, 12]: they overlap on (8, 10]
    with pytest.raises(CohortDataError,
                       match=r"record 2, field start: interval \(8.0, 12.0\] of id 7 overlaps row 1"):
        cox_ph([[0], [1], [1]], [10, 12, 4], [0, 1, 1], start=[0, 8, 0], ids=[7, 7, 8])


def test_row_after_an_event_is_an_event_after_censoring() -> None:
    with pytest.raises(CohortDataError, match=r"record 2, field event: id 'a' has a row after its event"):
        cox_ph([[0], [1], [1]], [10, 12, 4], [1, 0, 1], start=[0, 10, 0], ids=["a", "a", "b"])


def test_event_after_last_follow_up() -> None:
    with pytest.raises(CohortDataError, match=r"record 2, field time: event at 40.0 is after the censoring"):
        check_event_after_censoring(np.array([10.0, 40.0]), np.array([1, 1]),
                                    np.array([20.0, 30.0]))


def test_missing_covariate_names_row_and_column() -> None:
    with pytest.raises(CohortDataError, match=r"record 2, field mrd: mrd must be a finite number"):
        cox_ph([[0.1], [np.nan]], [3, 4], [1, 1], names=["mrd"])


def test_is_an_input_error_and_value_error() -> None:
    assert issubclass(CohortDataError, InputError) and issubclass(CohortDataError, ValueError)
    err = CohortDataError("time must be >= 0, but was -1", path="c.csv", record=3, field="time")
    assert str(err) == "cohort table 'c.csv', record 3, field time: time must be >= 0, but was -1"


def test_landmark_rejects_negative_landmark() -> None:
    from remission.errors import ValidationError

    with pytest.raises(ValidationError, match="landmark_time must be a finite number >= 0, but was -1"):
        landmark([1, 2], [1, 0], -1)


BAD = [None, -1, float("nan"), float("inf")]


@pytest.mark.parametrize("value", BAD)
def test_parameter_checks_use_the_uniform_message(value: object) -> None:
    from remission.cohort import fine_gray, gray_test
    from remission.errors import ValidationError

    with pytest.raises(ValidationError, match=r"conf_level must be a number in \(0, 1\), but was"):
        kaplan_meier([1, 2], [1, 0], conf_level=value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"landmark_time must be a finite number >= 0, but was"):
        landmark([1, 2], [1, 0], value)  # type: ignore[arg-type]
    if value is not None:  # horizon=None means "no horizon"
        with pytest.raises(ValidationError, match=r"horizon must be a finite number > 0, but was"):
            landmark([1, 2], [1, 0], 1, horizon=value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"rho must be a finite number >= 0, but was"):
        gray_test([1, 2, 3, 4], [1, 2, 1, 0], [0, 0, 1, 1], rho=value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"gtol must be a finite number > 0, but was"):
        fine_gray([[0], [1], [0]], [1, 2, 3], [1, 2, 1], gtol=value)  # type: ignore[arg-type]
