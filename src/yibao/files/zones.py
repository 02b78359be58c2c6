"""Filing-free zone files (免备案区域): TOML or JSON, one ``[[zone]]`` table per zone.

```toml
[[zone]]
code = "yrd-demo"
name = "长三角生态绿色一体化发展示范区"
regions = ["310118", "320509", "330421"]
outpatient_from = 2020-08-24     # outpatient and pharmacy visits
emergency_from = 2020-08-24
inpatient_from = 2021-05-28      # optional; absent: stays need a filing
enddate = 2030-12-31             # optional
sources = ["..."]
```

Unknown keys are errors, as in policy files (docs/policy-files.md).
"""

from __future__ import annotations

from pathlib import Path

from yibao.domain.filings import Zone
from yibao.files.loader import FileError, _strict_adapter, _validate, read_data

_ZONES = _strict_adapter(list[Zone])


def load_zones(path: Path) -> list[Zone]:
    data = read_data(path)
    if not isinstance(data, dict) or set(data) != {"zone"}:
        raise FileError(f"{path}: (top level): expected only [[zone]] tables")
    zones: list[Zone] = _validate(_ZONES, data["zone"], path)
    codes = [zone.code for zone in zones]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise FileError(f"{path}: zone.{i}.code: {code} appears twice")
    return zones
