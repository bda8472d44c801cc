"""Numbers and text as the portal shows them: rounding, signs, ranks, sparklines, safe JSON and links."""

from __future__ import annotations

import json
import re

from markupsafe import Markup

from sti_portal.publish.downloads.parts import SIGNIFICANT_DIGITS


def fmt(value, decimals: int | None) -> str:
    """A value for display: rounded to the indicator's display_decimals, thousands separated."""
    if value is None:
        return "—"
    decimals = 2 if decimals is None else int(decimals)
    return f"{value:,.{decimals}f}"


def without_float_noise(value):
    """A value as the source printed it, without binary floating-point noise: 229.56437999999997 (万元 2295643.8
    divided by 10,000) -> 229.56438, while 46.1469749575 keeps every digit. 15 significant digits, as the pre-built
    downloads are written (sti_portal/publish/downloads/parts.py SIGNIFICANT_DIGITS)."""
    if value is None or isinstance(value, bool) or not isinstance(value, float):
        return value
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}") + 0.0


def fmt_signed(value, decimals: int | None) -> str:
    if value is None:
        return "—"
    text = fmt(abs(value), decimals)
    if round(value, int(decimals or 0)) == 0:
        return text
    return ("+" if value > 0 else "−") + text


def json_for_script(payload) -> Markup:
    """JSON that is safe inside <script type="application/json">: no <, > or & survive literally."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def competition_ranks(values: list[tuple[str, float]]) -> dict[str, int]:
    """1224 ranking, highest value first."""
    ordered = sorted(values, key=lambda item: -item[1])
    ranks, previous, rank = {}, None, 0
    for position, (code, value) in enumerate(ordered, start=1):
        if value != previous:
            rank, previous = position, value
        ranks[code] = rank
    return ranks


def sparkline(points: list[tuple[int, float]], width: int = 132, height: int = 30, pad: int = 3) -> dict | None:
    """Coordinates for a small inline SVG trend line (rendered by the template, no JavaScript)."""
    points = [(year, value) for year, value in points if value is not None]
    if not points:
        return None
    years = [p[0] for p in points]
    values = [p[1] for p in points]
    y0, y1 = min(years), max(years)
    v0, v1 = min(values), max(values)

    def x(year):
        return pad + (width - 2 * pad) * ((year - y0) / (y1 - y0) if y1 > y0 else 0.5)

    def y(value):
        return height - pad - (height - 2 * pad) * ((value - v0) / (v1 - v0) if v1 > v0 else 0.5)

    coords = [(round(x(a), 1), round(y(b), 1)) for a, b in points]
    return {
        "width": width,
        "height": height,
        "points": " ".join(f"{a},{b}" for a, b in coords),
        "last": coords[-1],
        "first_year": y0,
        "last_year": y1,
    }


def fmt_number(value, max_decimals: int = 4) -> str:
    """A number as a document writes it: thousands separated, no trailing zeros (2000.0 -> 2,000)."""
    if value is None:
        return "—"
    text = f"{value:,.{max_decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def highlight(text: str, term: str) -> Markup:
    """`text` escaped, with each case-insensitive occurrence of `term` in <mark>."""
    if not text:
        return Markup("")
    if not term:
        return Markup.escape(text)
    parts = re.split(f"({re.escape(term)})", text, flags=re.IGNORECASE)
    return Markup("").join(
        Markup("<mark>{}</mark>").format(p) if i % 2 else Markup.escape(p) for i, p in enumerate(parts)
    )


def safe_href(url) -> str | None:
    """Only http(s) links are rendered as links (a `javascript:` URL in a source row stays text)."""
    url = (url or "").strip()
    return url if re.match(r"https?://", url, flags=re.IGNORECASE) else None


def human_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
