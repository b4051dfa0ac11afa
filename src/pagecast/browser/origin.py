"""The synthetic origin where ``html`` sources are served through request interception.

A real navigation to a stable origin means storage APIs work and consecutive renders stay on
one renderer process. ``.invalid`` can never resolve, so nothing we intercept could shadow a
real site. It is plain http so that pages may load http:// subresources (an https page would
have them blocked as mixed content), and Chromium is told to treat it as a secure context so
secure-only APIs (crypto.subtle, WebGPU, service-worker checks...) behave as on https.
"""

from __future__ import annotations

SYNTHETIC_ORIGIN = "http://render.pagecast.invalid"
DOCUMENT_URL = f"{SYNTHETIC_ORIGIN}/"
BLANK_URL = f"{SYNTHETIC_ORIGIN}/__pagecast_blank__"
SECURE_ORIGIN_FLAG = f"--unsafely-treat-insecure-origin-as-secure={SYNTHETIC_ORIGIN}"
