"""Chinese commercial cryptography (SM2, SM3, SM4) behind small ports of our own: an adapter package.

- ``sm2``: the ``Sm2Backend`` port (key pairs, signatures as raw 64-byte r‖s) and key encoding;
  ``tongsuo.TongsuoSm2`` (tongsuopy, the hot path) and ``reference.GmalgSm2`` (gmalg, pure Python,
  the reference the standard's vector is checked on).
- ``sm``: SM3 and SM4-GCM from the ``cryptography`` package.
- ``keyfile``: key files written atomically with mode 600.

``yibao.domain`` and ``yibao.app`` import none of this (import-linter contract in pyproject.toml).
"""
