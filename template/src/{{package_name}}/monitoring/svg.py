"""Inline SVG bar charts: training against batch shares, drawn without a plotting library.

The drift report must open anywhere, offline and from a CI artifact, so it
carries its plots as SVG markup: no JavaScript, no fonts or scripts from a
CDN, and no matplotlib in the project's dependencies.
"""

from html import escape

from .drift import Histogram

WIDTH = 520
HEIGHT = 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 8, 10, 46
REFERENCE_COLOUR = "#4c78a8"
BATCH_COLOUR = "#f58518"


def histogram_chart(histogram: Histogram, *, categorical: bool) -> str:
    """Side-by-side bars per bin (numbers) or category, with a share axis and labels."""
    plot_width = WIDTH - _LEFT - _RIGHT
    plot_height = HEIGHT - _TOP - _BOTTOM
    top_share = max(*histogram.reference, *histogram.batch, 1e-9)
    slot = plot_width / len(histogram.labels)
    bar = max(slot * 0.42, 0.5)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" class="chart">',
        _axes(top_share, plot_width, plot_height),
    ]
    for index, label in enumerate(histogram.labels):
        x = _LEFT + index * slot + slot * 0.08
        pair = (
            ("training", histogram.reference[index], REFERENCE_COLOUR, x),
            ("batch", histogram.batch[index], BATCH_COLOUR, x + bar),
        )
        for side, share, colour, left in pair:
            height = share / top_share * plot_height
            parts.append(
                f'<rect x="{left:.2f}" y="{_TOP + plot_height - height:.2f}" width="{bar:.2f}" '
                f'height="{height:.2f}" fill="{colour}"><title>{escape(label)}: {side} '
                f"{share:.1%}</title></rect>"
            )
    parts.append(_x_labels(histogram.labels, slot, plot_height, categorical=categorical))
    parts.append("</svg>")
    return "".join(parts)


def legend() -> str:
    """The two colours, once per report."""
    swatch = '<span class="swatch" style="background:{}"></span>{}'
    return (
        '<p class="legend">'
        + swatch.format(REFERENCE_COLOUR, "training (reference profile)")
        + swatch.format(BATCH_COLOUR, "batch")
        + "</p>"
    )


def _axes(top_share: float, plot_width: float, plot_height: float) -> str:
    bottom = _TOP + plot_height
    ticks = []
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * plot_height
        ticks.append(
            f'<line x1="{_LEFT - 4}" y1="{y:.2f}" x2="{_LEFT + plot_width}" y2="{y:.2f}" '
            f'stroke="#ddd"/><text x="{_LEFT - 6}" y="{y + 4:.2f}" text-anchor="end" '
            f'class="tick">{fraction * top_share:.0%}</text>'
        )
    return (
        "".join(ticks)
        + f'<line x1="{_LEFT}" y1="{bottom}" x2="{_LEFT + plot_width}" y2="{bottom}" '
        'stroke="#333"/>'
    )


def _x_labels(
    labels: tuple[str, ...], slot: float, plot_height: float, *, categorical: bool
) -> str:
    """Every category name (slanted), or the range's two ends for numeric bins."""
    baseline = _TOP + plot_height + 14
    if categorical:
        return "".join(
            f'<text class="tick" text-anchor="end" transform="translate('
            f'{_LEFT + (index + 0.5) * slot:.2f},{baseline}) rotate(-30)">'
            f"{escape(_short(label))}</text>"
            for index, label in enumerate(labels)
        )
    first, last = labels[0].split(" to ")[0], labels[-1].split(" to ")[-1]
    right = _LEFT + len(labels) * slot
    return (
        f'<text class="tick" x="{_LEFT}" y="{baseline}">{escape(first)}</text>'
        f'<text class="tick" x="{right:.2f}" y="{baseline}" text-anchor="end">'
        f"{escape(last)}</text>"
    )


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
