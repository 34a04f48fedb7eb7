"""A fake camera for the scanner's browser tests: a participant's QR as a Y4M video file.

Chromium plays a Y4M file as its camera with ``--use-fake-device-for-media-stream`` and
``--use-file-for-fake-video-capture=<file>.y4m`` (looping it for as long as the page asks), so
the scanner page decodes a real video stream through ``getUserMedia`` and jsQR, as it would on a
phone at the door.

Y4M is the simplest video container there is: a one-line header, then for every frame ``FRAME``
and the raw Y, Cb and Cr planes (4:2:0, the chroma planes at half the width and height).
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

WIDTH, HEIGHT = 640, 480
FPS = 10

#: Chromium's file capture device accepts 4:2:0 only, which the ``C420jpeg`` tag declares.
HEADER = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode("ascii")


def frame_bytes(image: Image.Image) -> bytes:
    """One Y4M frame of ``image`` (``WIDTH`` x ``HEIGHT``): luma at full size, chroma halved."""
    y, cb, cr = image.convert("RGB").convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    return b"".join(
        (
            b"FRAME\n",
            y.tobytes(),
            cb.resize(half, Image.Resampling.BILINEAR).tobytes(),
            cr.resize(half, Image.Resampling.BILINEAR).tobytes(),
        )
    )


def scene(qr: Image.Image | None, offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """A white frame with ``qr`` (if any) near its centre, moved by ``offset`` pixels, the way a
    hand holding a phone never keeps it quite still."""
    frame = Image.new("RGB", (WIDTH, HEIGHT), "white")
    if qr is not None:
        x = (WIDTH - qr.width) // 2 + offset[0]
        y = (HEIGHT - qr.height) // 2 + offset[1]
        frame.paste(qr, (x, y))
    return frame


def write_y4m(path: Path, frames: list[Image.Image]) -> Path:
    with path.open("wb") as out:
        out.write(HEADER)
        for image in frames:
            if image.size != (WIDTH, HEIGHT):
                raise ValueError(f"a frame is {image.size}, the video is {WIDTH}x{HEIGHT}")
            out.write(frame_bytes(image))
    return path


def qr_video(path: Path, png: bytes, seconds: float = 3.0, qr_size: int = 300) -> Path:
    """A video of the QR ``png`` (from :func:`regapp.tickets.qr.qr_png`) held in front of the
    camera for ``seconds``, moving by a few pixels from frame to frame. Chromium loops it."""
    qr = Image.open(io.BytesIO(png)).convert("RGB")
    qr = qr.resize((qr_size, qr_size), Image.Resampling.NEAREST)
    wobble = [(0, 0), (3, 1), (5, 3), (3, 5), (0, 4), (-3, 2), (-4, -1), (-2, -3)]
    count = max(1, round(seconds * FPS))
    return write_y4m(path, [scene(qr, wobble[i % len(wobble)]) for i in range(count)])


def blank_video(path: Path, seconds: float = 1.0) -> Path:
    """A camera looking at a white wall: nothing to decode."""
    return write_y4m(path, [scene(None)] * max(1, round(seconds * FPS)))
