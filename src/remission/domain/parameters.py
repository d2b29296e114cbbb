"""Named, sourced, overridable parameters ("rules").

The project's research notes tag every clinical or analytical number: ``C`` confirmed against
its source, ``R`` recalled, ``U`` uncertain. ``remission`` implements ``C`` numbers exactly and
makes every ``R``/``U`` number a :class:`Rule` that callers can override by name. Results list
the rules they rest on (:func:`rests_on`), so a report can say "this group rests on a recalled
threshold". A rule's ``source`` cites the paper (authors, journal, year), or says that the number
is recalled or a choice of this project.

Example
-------
>>> DEFAULTS = rule_set(
...     Rule("lod_events", 20, "R", "ICCS rare-event guidance", "events to call MRD detectable"),
... )
>>> rules = resolve(DEFAULTS, {"lod_events": 30})
>>> rules["lod_events"].value, rules["lod_events"].tag
(30, 'user')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from remission.errors import ValidationError

__all__ = ["Rule", "RuleTag", "resolve", "rests_on", "rule_set", "rule_values"]

RuleTag = Literal["C", "R", "U", "user"]


@dataclass(frozen=True)
class Rule:
    """One named number or choice with its confidence tag and source."""

    name: str
    value: Any
    tag: RuleTag
    source: str
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "tag": self.tag,
            "source": self.source,
            "description": self.description,
        }


def rule_set(*rules: Rule) -> dict[str, Rule]:
    """Build a name → rule mapping, refusing duplicate names."""
    out: dict[str, Rule] = {}
    for r in rules:
        if r.name in out:
            raise ValueError(f"duplicate rule name {r.name!r}")
        out[r.name] = r
    return out


def resolve(defaults: Mapping[str, Rule], overrides: Mapping[str, Any] | None = None) -> dict[str, Rule]:
    """Apply user overrides by name; unknown names are an error (typos must not pass silently)."""
    out = dict(defaults)
    for name, value in (overrides or {}).items():
        if name not in defaults:
            known = ", ".join(sorted(defaults))
            raise ValidationError(f"unknown parameter {name!r}; known parameters: {known}")
        out[name] = replace(defaults[name], value=value, tag="user", source="set by user")
    return out


def rule_values(rules: Mapping[str, Rule]) -> dict[str, Any]:
    """Plain name → value mapping (for the ``parameters`` block of the JSON envelope)."""
    return {name: r.value for name, r in rules.items()}


def rests_on(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """The rules tagged R/U (or overridden by the user) that a result depends on."""
    return [r.as_dict() for r in rules if r.tag in ("R", "U", "user")]
