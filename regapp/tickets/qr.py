"""QR images of access codes."""

import io

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage


def make_qr(code: str) -> qrcode.QRCode:
    """Error correction M; the code's alphanumeric symbols keep it at version 3."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(code)
    qr.make(fit=True)
    return qr


def qr_svg(code: str) -> bytes:
    buffer = io.BytesIO()
    make_qr(code).make_image(image_factory=SvgPathImage).save(buffer)
    return buffer.getvalue()
