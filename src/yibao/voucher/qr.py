"""A voucher code as a QR code in SVG (segno): what the portal shows, refreshed before the code expires."""

from __future__ import annotations

import segno

ERROR = "m"
"""Error correction M (15 % of the code may be damaged or covered): a phone screen read by a counter scanner."""


def qr_code(token: str) -> segno.QRCode:
    """The QR code of a token (base32: alphanumeric mode; version 7 or 8 at level M for a 30–32 character index)."""
    return segno.make(token, error=ERROR, micro=False, boost_error=False)


def qr_svg(token: str, *, scale: int = 4, border: int = 4, title: str | None = None) -> str:
    """The QR code of a token as inline SVG text (no XML declaration: to put into an HTML page)."""
    return qr_code(token).svg_inline(scale=scale, border=border, title=title, dark="#000", light="#fff")
