"""The cohort survival panel (``/cohort``) and its JSON (``GET /api/v1/cohort``).

Computed only over the patients the account may see (its :class:`~remission.app.access.Guard`
scope); every view is audited as ``cohort.view`` with the number of patients and the choices,
never a patient identifier. The plot is SVG written with :mod:`remission.report.svg` (no
matplotlib in the web path)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from remission.app import audit
from remission.app import cohort_view as svc
from remission.app.auth import SessionInfo
from remission.domain import NOT_A_MEDICAL_DEVICE
from remission.errors import ValidationError
from remission.web.deps import allow, client_address, guard_of, store_of
from remission.web.render import page
from remission.web.routes.api_v1 import _ERRORS

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["v1"], responses=_ERRORS)
#: the laboratory role works on samples, not cohorts: not offered the panel
READ = allow("admin", "clinician", "viewer")
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def _where(sex: str, lineage: str, site: str, product: str) -> list[str]:
    vals = {"sex": sex, "lineage": lineage, "site": site, "product": product}
    return [f"{k}={v.strip()}" for k, v in vals.items() if v.strip()]


def _compute(request: Request, session: SessionInfo, *, endpoint: str, origin: str, group: str,
             where: list[str], via: str) -> svc.CohortView:
    guard = guard_of(request, session)
    view = svc.cohort_view(store_of(request), guard.scope.only(), endpoint=endpoint, origin=origin,
                           where=where, group=group)
    audit.record(store_of(request), actor=session.user.username, action="cohort.view", target="cohort",
                 address=client_address(request),
                 detail={"patients": view.n_patients, "endpoint": endpoint, "origin": origin, "group": group,
                         "filters": len(where), "via": via})
    return view


def plot_svg(view: svc.CohortView) -> str:
    """Step curves (one colour per group, dashed for the second cause), censoring ticks."""
    from remission.report.svg import Chart, LinearScale

    hi = view.risk_years[-1] if view.risk_years else 3.0
    ylabel = "Cumulative incidence" if view.endpoint == "cif" else "Survival probability"
    chart = Chart(width=720.0, height=320.0, title=view.endpoint_label,
                  desc=f"{view.endpoint_label}; {view.n_patients} patients; x: years from {view.origin}",
                  margin_right=170.0,
                  x=LinearScale(0.0, hi, tick_list=[(y, f"{y:g}") for y in view.risk_years]),
                  y=LinearScale(0.0, 1.0))
    chart.axes(xlabel=f"Years from {view.origin}", ylabel=ylabel, ygrid=True)
    groups = list(dict.fromkeys(c.group for c in view.curves))
    for c in view.curves:
        color = PALETTE[groups.index(c.group) % len(PALETTE)]
        dash = "5 3" if c.label == svc.CAUSES[2] else None
        name = c.label if len(groups) == 1 else f"{c.group}: {c.label}"
        xs = [0.0, *c.time_years, c.end_years]
        ys = [c.start, *c.value, c.value[-1] if c.value else c.start]
        chart.line(xs, ys, color=color, dash=dash, step=True, label=name)
        if c.censor_years:
            chart.markers(c.censor_years, c.censor_value, color=color, marker="|", size=7.0)
    chart.legend(where="right")
    return chart.svg()


@router.get("/cohort")
def cohort_page(request: Request, session: Annotated[SessionInfo, Depends(READ)],
                endpoint: Annotated[str, Query(max_length=10)] = "efs",
                origin: Annotated[str, Query(max_length=10)] = "relapse",
                group: Annotated[str, Query(max_length=40)] = "",
                sex: Annotated[str, Query(max_length=40)] = "", lineage: Annotated[str, Query(max_length=40)] = "",
                site: Annotated[str, Query(max_length=80)] = "",
                product: Annotated[str, Query(max_length=80)] = "") -> Response:
    from markupsafe import Markup

    form = {"endpoint": endpoint, "origin": origin, "group": group, "sex": sex, "lineage": lineage,
            "site": site, "product": product}
    ctx: dict[str, Any] = {"form": form, "endpoints": svc.ENDPOINTS, "origins": svc.ORIGINS, "groupings": svc.GROUPINGS,
           "timepoints": svc.TIMEPOINTS_YEARS, "view": None, "svg": "", "error": ""}
    try:
        view = _compute(request, session, endpoint=endpoint, origin=origin, group=group,
                        where=_where(sex, lineage, site, product), via="page")
    except ValidationError as exc:
        return page(request, "cohort.html", {**ctx, "error": str(exc)}, status_code=422)
    ctx.update(view=view, svg=Markup(plot_svg(view)) if view.curves else "")
    return page(request, "cohort.html", ctx)


class CohortOut(svc.CohortView):
    notice: str = NOT_A_MEDICAL_DEVICE


Endpoint = Literal["efs", "os", "cif"]
Origin = Literal["relapse", "cart", "hsct"]
Grouping = Literal["", "risk_bfm", "risk_intreall", "risk_allr3", "cart_persistence"]


@api_router.get("/cohort", response_model=CohortOut)
def cohort_api(request: Request, session: Annotated[SessionInfo, Depends(READ)],
               endpoint: Endpoint = "efs", origin: Origin = "relapse", group: Grouping = "",
               sex: Annotated[str, Query(max_length=40)] = "", lineage: Annotated[str, Query(max_length=40)] = "",
               site: Annotated[str, Query(max_length=80)] = "",
               product: Annotated[str, Query(max_length=80)] = "") -> CohortOut:
    """The cohort panel as JSON, over only the patients this account may see; the filters as on
    the page (``sex``, ``lineage``, first relapse ``site``, CAR-T ``product``: exact values)."""
    view = _compute(request, session, endpoint=endpoint, origin=origin, group=group,
                    where=_where(sex, lineage, site, product), via="api")
    return CohortOut(**view.model_dump())
