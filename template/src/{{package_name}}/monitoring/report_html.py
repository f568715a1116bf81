"""The drift report as one self-contained HTML page: verdict, score table, one plot per feature.

Everything is inline (CSS and SVG, no script, no external URL), so the file
opens offline, from a CI artifact or an e-mail, and looks the same everywhere.
"""

from dataclasses import dataclass
from html import escape

from . import svg
from .drift import DriftReport, FeatureDrift

#: p-values below this are shown in scientific notation.
_SMALL_PVALUE = 1e-3
_SEVERITY_ORDER = {"drift": 0, "investigate": 1, "ok": 2}
_VERDICT_CLASS = {
    "no_drift": "ok",
    "investigate": "investigate",
    "drift": "drift",
    "insufficient_data": "unknown",
}
_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1120px;padding:0 1rem;color:#222}
h1{font-size:1.5rem;margin-bottom:.2rem}
.verdict{display:inline-block;padding:.35rem .8rem;border-radius:4px;font-weight:600}
.ok{background:#e3f4e6;color:#1d6b2e}.investigate{background:#fff3d6;color:#7a5200}
.drift{background:#fde2e1;color:#9b1c1c}.unknown{background:#eceff3;color:#444}
table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border-bottom:1px solid #e5e5e5;padding:.3rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
dl{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}
dt{color:#666}dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:1rem}
.card{border:1px solid #e5e5e5;border-radius:6px;padding:.6rem}
.card h3{margin:.1rem 0 .3rem;font-size:1rem}
.chart .tick{font-size:10px;fill:#555}
.legend .swatch{display:inline-block;width:.9rem;height:.9rem;margin:0 .3rem 0 1rem;
vertical-align:-2px}
"""


@dataclass(frozen=True)
class ReportHeader:
    """What was compared with what, and when (the report's first lines)."""

    model: str
    version: str
    batch: str
    batch_sha256: str
    checked_at: str


def render(report: DriftReport, header: ReportHeader) -> str:
    """The whole page."""
    features = sorted(report.features, key=lambda item: (_SEVERITY_ORDER[item.severity], -item.psi))
    config = report.config
    return "".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            # No favicon request: the page must not fetch anything.
            '<link rel="icon" href="data:,">',
            f"<title>Drift report: {escape(header.model)} {escape(header.version)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>Drift report: {escape(header.model)} {escape(header.version)}</h1>",
            f'<p class="verdict {_VERDICT_CLASS[report.verdict]}" id="verdict">',
            f"{escape(report.headline())}</p>",
            "<dl>",
            _fact("batch", header.batch),
            _fact("batch sha256", header.batch_sha256),
            _fact("rows", f"{report.rows:,} (training: {report.reference_rows:,})"),
            _fact("checked at", header.checked_at),
            _fact(
                "thresholds",
                f"PSI > {config.psi_investigate} investigate, > {config.psi_drift} drift; "
                f"KS D > {config.ks_threshold} drift; only where the p-value is below "
                f"{config.alpha} / {len(report.features)} features = "
                f"{config.alpha / len(report.features):.2g}; at least {config.min_rows} rows",
            ),
            "</dl>",
            _cards("Flagged features", [item for item in features if item.severity != "ok"]),
            "<h2>All features</h2>",
            _table(features),
            _cards("Unflagged features", [item for item in features if item.severity == "ok"]),
            "</body></html>\n",
        ]
    )


def _cards(title: str, features: list[FeatureDrift]) -> str:
    """One plot per feature under a heading; nothing when there are none."""
    if not features:
        return ""
    cards = "".join(_card(feature) for feature in features)
    return f'<h2>{escape(title)}</h2>{svg.legend()}<div class="cards">{cards}</div>'


def _fact(name: str, value: str) -> str:
    return f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>"


def _table(features: list[FeatureDrift]) -> str:
    rows = "".join(
        f"<tr><td>{escape(item.name)}</td><td>{item.kind}</td><td>{item.psi:.4f}</td>"
        f"<td>{_number(item.ks_statistic)}</td><td>{_pvalue(item.pvalue)}</td>"
        f'<td><span class="verdict {item.severity}">{item.severity}</span></td></tr>'
        for item in features
    )
    return (
        "<table><thead><tr><th>feature</th><th>kind</th><th>PSI</th><th>KS D</th>"
        f"<th>p-value</th><th>severity</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _card(feature: FeatureDrift) -> str:
    scores = f"PSI {feature.psi:.4f}"
    if feature.ks_statistic is not None:
        scores += f" · KS D {feature.ks_statistic:.4f}"
    scores += f" · p {_pvalue(feature.pvalue)}"
    chart = svg.histogram_chart(feature.histogram, categorical=feature.kind == "categorical")
    return (
        f'<section class="card"><h3>{escape(feature.name)} '
        f'<span class="verdict {feature.severity}">{feature.severity}</span></h3>'
        f"<p>{scores}</p>{chart}</section>"
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _pvalue(value: float) -> str:
    return f"{value:.2e}" if value < _SMALL_PVALUE else f"{value:.3f}"
