"""QR images of access codes: SVG for the manage page, PNG for email and apps, and the module
matrix that the PDF ticket draws as vector squares.

Every image comes from :func:`make_qr`, so the screen, the email and the printed ticket carry the
same symbol.
"""

import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

#: Quiet zone in modules: 4 is what the QR standard asks for.
BORDER = 4


def make_qr(code: str, box_size: int = 10) -> qrcode.QRCode:
    """The QR of ``code`` at error correction M: our 32 symbols from QR's alphanumeric set fit
    version 2 (25 x 25 modules), the smallest symbol that holds them, so it reads fast and from
    afar."""
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=BORDER,
    )
    qr.add_data(code)
    qr.make(fit=True)
    return qr


def qr_svg(code: str) -> bytes:
    buffer = io.BytesIO()
    make_qr(code).make_image(image_factory=SvgPathImage).save(buffer)
    return buffer.getvalue()


def qr_png(code: str, box_size: int = 10) -> bytes:
    """A black-and-white PNG, ``box_size`` pixels per module (330 x 330 pixels by default)."""
    buffer = io.BytesIO()
    make_qr(code, box_size).make_image(image_factory=PilImage).save(buffer, format="PNG")
    return buffer.getvalue()


def qr_matrix(code: str) -> list[list[bool]]:
    """The modules of the symbol, quiet zone included, ``True`` for dark; rows top to bottom."""
    return make_qr(code).get_matrix()
