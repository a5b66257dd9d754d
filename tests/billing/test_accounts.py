from __future__ import annotations

import pytest

from billing.accounts import CarrierIn
from billing.errors import BerError, ExportError, LayoutError


def test_a_sound_carrier_configuration_passes() -> None:
    CarrierIn("CMCC-GD", "广东移动", "GW01").check()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"layouts": ()}, ExportError),
        ({"layouts": ("csv_v1", "csv_v1")}, ExportError),
        ({"layouts": ("csv_v9",)}, LayoutError),
        ({"node_address": "gateway.example"}, BerError),
        ({"name_pattern": "{node}_{sequence}"}, ExportError),  # no extension: names collide
        ({"name_pattern": "../{node}.{ext}"}, ExportError),
    ],
)
def test_configurations_that_cannot_export_are_refused(
    changes: dict[str, object], error: type[Exception]
) -> None:
    values: dict[str, object] = {"code": "CMCC-GD", "name": "x", "node_id": "GW01"}
    values.update(changes)
    with pytest.raises(error):
        CarrierIn(**values).check()  # type: ignore[arg-type]
