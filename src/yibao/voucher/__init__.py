"""The electronic medical-insurance voucher (医保电子凭证), issue 6: so far the signed, expiring QR code.

- ``token``: the code's format, issuing and verifying it (pure functions of bytes and a clock reading);
- ``keys``: the issuing authority's SM2 key pairs, SM4-GCM sealed in a key file, rotation by key id;
- ``qr``: the code as an SVG QR code (segno).

See docs/voucher.md.
"""
