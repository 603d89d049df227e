"""Screenshots of the browser tests, checked for showing something: a page that rendered nothing (a blank or
one-colour fill) fails the test that took it."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageStat


def assert_not_blank(path: Path) -> None:
    """The screenshot at ``path`` shows something: many colours and a spread of brightness, not one flat fill."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 16)
        spread = ImageStat.Stat(rgb.convert("L")).stddev[0]
    assert colours is None or len(colours) > 20, f"{path.name}: {len(colours or [])} colours"
    assert spread > 10, f"{path.name}: brightness spread {spread:.1f}"
