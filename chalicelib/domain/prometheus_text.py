"""Prometheus' text exposition format (version 0.0.4), written from plain figures.

Only what ``GET /metrics`` needs: ``# HELP``/``# TYPE`` once per family, samples with escaped
label values, counters ending ``_total`` (their HELP and TYPE lines too) and summaries as
``_sum`` and ``_count``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Sample:
    # Appended to the family name: "" (gauges), "_total", "_sum", "_count".
    suffix: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "counter", "gauge" or "summary"
    help: str
    samples: list[Sample] = field(default_factory=list)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(families: list[Family]) -> str:
    lines: list[str] = []
    for family in families:
        # A counter's HELP and TYPE name its sample (``…_total``), as the text format wants.
        header = family.name + ("_total" if family.kind == "counter" else "")
        lines.append(f"# HELP {header} {_escape_help(family.help)}")
        lines.append(f"# TYPE {header} {family.kind}")
        for sample in family.samples:
            labels = ",".join(f'{name}="{_escape_label(value)}"' for name, value in sample.labels)
            lines.append(
                f"{family.name}{sample.suffix}{{{labels}}} {_number(sample.value)}"
                if labels
                else f"{family.name}{sample.suffix} {_number(sample.value)}"
            )
    return "\n".join(lines) + "\n"
