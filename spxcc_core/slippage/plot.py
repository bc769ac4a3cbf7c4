"""The slippage histogram as an image, written by our own small writers (no plotting library).

:func:`histogram_scene` lays the chart out once as rectangles and text; :func:`render_svg` and
:func:`render_png` draw that scene. The PNG writer rasterises the rectangles and a 3×5 pixel
font (upper-case letters, digits and a few signs, scaled ×2), and encodes an 8-bit RGB PNG with
``zlib`` — so both files show the same chart, and the same report gives the same bytes.
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import Final, Literal
from xml.sax.saxutils import escape

import attrs

from spxcc_core.contracts.slippage import SlippageHistogram

__all__ = ["Rect", "Scene", "Text", "histogram_scene", "render_png", "render_svg"]

Color = tuple[int, int, int]
_WIDTH: Final = 800
_HEIGHT: Final = 420
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 60, 70
_BLACK: Final[Color] = (0, 0, 0)
_GREY: Final[Color] = (200, 200, 200)
_WHITE: Final[Color] = (255, 255, 255)
#: Series colours by name prefix.
_COLORS: Final[dict[str, Color]] = {"realized: broker": (214, 39, 40),
                                    "realized: paper": (31, 119, 180),
                                    "predicted": (127, 127, 127)}


@attrs.frozen
class Rect:
    """A filled rectangle, pixels from the top-left corner."""

    x: int
    y: int
    w: int
    h: int
    color: Color


@attrs.frozen
class Text:
    """A line of text whose baseline-bottom is at ``y``; ``anchor`` aligns it on ``x``."""

    x: int
    y: int
    text: str
    anchor: Literal["start", "middle", "end"] = "start"


@attrs.frozen
class Scene:
    """What to draw: a white canvas of ``width`` × ``height`` pixels, rectangles, then text."""

    width: int
    height: int
    rects: tuple[Rect, ...]
    texts: tuple[Text, ...]


def _color(name: str) -> Color:
    for prefix, color in _COLORS.items():
        if name.startswith(prefix):
            return color
    return _BLACK


def _nice_step(top: int) -> int:
    """The smallest 1/2/5 × 10^k step giving at most 5 ticks up to ``top`` (>= 1)."""
    exponent = 0
    while True:
        for m in (1, 2, 5):
            step: int = m * 10 ** exponent
            if top <= 5 * step:
                return step
        exponent += 1


def histogram_scene(h: SlippageHistogram, title: str) -> Scene:
    """Lay out ``h``: grouped bars per bin (one colour per series), a y axis in fills, x labels
    at bin edges (dollars per contract), a legend and ``title``."""
    rects: list[Rect] = []
    texts: list[Text] = [Text(_LEFT, 24, title)]
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    base_y = _TOP + plot_h
    bins = max(len(h.edges) - 1, 0)
    top = max((c for s in h.series for c in s.counts), default=0)
    top = max(top, 1)
    step = _nice_step(top)
    y_max = math.ceil(top / step) * step
    for k in range(0, y_max + 1, step):
        y = base_y - round(k / y_max * plot_h)
        rects.append(Rect(_LEFT, y, plot_w, 1, _GREY))
        texts.append(Text(_LEFT - 8, y + 5, str(k), "end"))
    texts.append(Text(_LEFT - 8, _TOP - 12, "FILLS", "end"))
    if bins == 0:
        texts.append(Text(_LEFT + plot_w // 2, _TOP + plot_h // 2, "NO FILLS RECORDED",
                          "middle"))
    else:
        group = plot_w / bins
        n = len(h.series)
        bar = max(group * 0.8 / n, 1.0)
        for i in range(bins):
            for j, s in enumerate(h.series):
                height = round(s.counts[i] / y_max * plot_h)
                if height > 0:
                    x = round(_LEFT + i * group + group * 0.1 + j * bar)
                    rects.append(Rect(x, base_y - height, max(round(bar), 1), height,
                                      _color(s.name)))
        every = max(1, math.ceil(bins / 10))
        for i in range(0, bins + 1, every):
            x = round(_LEFT + i * group)
            rects.append(Rect(x, base_y, 1, 5, _BLACK))
            texts.append(Text(x, base_y + 20, f"{h.edges[i]:g}", "middle"))
    rects.append(Rect(_LEFT, _TOP, 1, plot_h + 1, _BLACK))
    rects.append(Rect(_LEFT, base_y, plot_w, 1, _BLACK))
    texts.append(Text(_LEFT + plot_w // 2, _HEIGHT - 16,
                      "SLIPPAGE, DOLLARS PER CONTRACT (POSITIVE = COST)", "middle"))
    for j, s in enumerate(h.series):
        y = _TOP - 30 + j * 16 - 8 * (len(h.series) - 1)
        x = _WIDTH - _RIGHT - 260
        rects.append(Rect(x, y - 9, 10, 10, _color(s.name)))
        texts.append(Text(x + 16, y + 1, s.name.upper()))
    return Scene(_WIDTH, _HEIGHT, tuple(rects), tuple(texts))


def _hex(c: Color) -> str:
    return f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}"


def render_svg(scene: Scene) -> bytes:
    """The scene as a standalone SVG document (UTF-8)."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{scene.width}" '
           f'height="{scene.height}" viewBox="0 0 {scene.width} {scene.height}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect x="0" y="0" width="{scene.width}" height="{scene.height}" fill="#ffffff"/>']
    out += [f'<rect x="{r.x}" y="{r.y}" width="{r.w}" height="{r.h}" fill="{_hex(r.color)}"/>'
            for r in scene.rects]
    out += [f'<text x="{t.x}" y="{t.y}" text-anchor="{t.anchor}">{escape(t.text)}</text>'
            for t in scene.texts]
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode()


#: 3×5 glyphs: five rows of three bits each (4 = left pixel, 1 = right pixel).
_FONT: Final[dict[str, str]] = {
    "0": "75557", "1": "26227", "2": "71747", "3": "71717", "4": "55711", "5": "74717",
    "6": "74757", "7": "71111", "8": "75757", "9": "75717", "A": "25755", "B": "65656",
    "C": "34443", "D": "65556", "E": "74647", "F": "74644", "G": "34553", "H": "55755",
    "I": "72227", "J": "11152", "K": "55655", "L": "44447", "M": "57755", "N": "65555",
    "O": "25552", "P": "65644", "Q": "25563", "R": "65655", "S": "34216", "T": "72222",
    "U": "55557", "V": "55552", "W": "55775", "X": "55255", "Y": "55222", "Z": "71247",
    "-": "00700", ".": "00002", "$": "36236", ":": "02020", "(": "12221", ")": "42224",
    " ": "00000", "/": "11244", "×": "05250", "+": "02720", ",": "00024", "%": "51245",
    "=": "07070", "_": "00007",
}
_SCALE: Final = 2
_ADVANCE: Final = 4 * _SCALE  # 3 pixels and a gap, scaled


def _raster_text(canvas: bytearray, width: int, height: int, t: Text) -> None:
    text = t.text.upper()
    length = len(text) * _ADVANCE - _SCALE
    x0 = t.x - (length // 2 if t.anchor == "middle" else length if t.anchor == "end" else 0)
    y0 = t.y - 5 * _SCALE
    for n, ch in enumerate(text):
        glyph = _FONT.get(ch, "77777")
        for row, bits in enumerate(glyph):
            value = int(bits)
            for col in range(3):
                if value & (4 >> col):
                    _fill(canvas, width, height,
                          Rect(x0 + n * _ADVANCE + col * _SCALE, y0 + row * _SCALE, _SCALE,
                               _SCALE, _BLACK))


def _fill(canvas: bytearray, width: int, height: int, r: Rect) -> None:
    x1, x2 = max(r.x, 0), min(r.x + r.w, width)
    if x2 <= x1:
        return
    pixel = bytes(r.color) * (x2 - x1)
    for y in range(max(r.y, 0), min(r.y + r.h, height)):
        start = (y * width + x1) * 3
        canvas[start:start + len(pixel)] = pixel


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def render_png(scene: Scene) -> bytes:
    """The scene as an 8-bit RGB PNG (text in the built-in 3×5 font, upper case)."""
    w, h = scene.width, scene.height
    canvas = bytearray(bytes(_WHITE) * (w * h))
    for r in scene.rects:
        _fill(canvas, w, h, r)
    for t in scene.texts:
        _raster_text(canvas, w, h, t)
    rows = b"".join(b"\x00" + bytes(canvas[y * w * 3:(y + 1) * w * 3]) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows, 9))
            + _chunk(b"IEND", b""))
