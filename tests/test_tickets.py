"""A participant's access code as QR images and PDF tickets: every image decodes back to the code,
only the holder of the manage link gets it, and a reissued code shows at once."""

import io
import re

import pypdfium2
import pytest
import qrcode.constants
import zxingcpp
from PIL import Image, ImageDraw
from reportlab.pdfbase import pdfmetrics
from sqlalchemy import select

from regapp.extensions import db
from regapp.models import Participant
from regapp.tickets import pdf as tickets_pdf
from regapp.tickets import views as tickets_views
from regapp.tickets.codes import grouped, new_code
from regapp.tickets.pdf import ticket_pdf
from regapp.tickets.qr import make_qr, qr_png
from tests.conftest import registration_form

LONG_ORGANISATION = (
    "Islamic World Educational, Scientific and Cultural Organization (ICESCO), "
    "Regional Office for Central Africa"
)


def register(client, event, session_ids=None, **fields) -> Participant:
    response = client.post(
        f"/e/{event.slug}/register", data=registration_form(event, session_ids, **fields)
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return db.session.scalar(select(Participant).order_by(Participant.id.desc()).limit(1))


def decode_image(image: Image.Image) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.QRCode]


def decode_png(data: bytes) -> list[str]:
    return decode_image(Image.open(io.BytesIO(data)))


def rasterise_qr_svg(data: bytes, pixels_per_unit: int = 8) -> Image.Image:
    """Draws qrcode's SvgPathImage (one ``M x,y H V H z`` square per dark module) with Pillow."""
    svg = data.decode()
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    path = re.search(r'<path d="([^"]*)"', svg).group(1)
    number = r"(-?[\d.]+)"
    square = re.compile(rf"M{number},{number}H{number}V{number}H{number}z")
    squares = square.findall(path)
    assert squares and square.sub("", path) == "", "unexpected SVG path syntax"
    image = Image.new("L", (int(width * pixels_per_unit), int(height * pixels_per_unit)), 255)
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1, _ in squares:
        box = [float(v) * pixels_per_unit for v in (x0, y0, x1, y1)]
        draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=0)
    return image


def read_pdf(data: bytes, dpi: int = 200) -> tuple[list[str], str, dict]:
    """The QR codes found on every page rendered at ``dpi``, the text of all pages with runs of
    whitespace (line breaks too) as single spaces, and the document's metadata."""
    document = pypdfium2.PdfDocument(data)
    try:
        codes, texts = [], []
        for page in document:
            codes += decode_image(page.render(scale=dpi / 72).to_pil())
            texts.append(page.get_textpage().get_text_bounded())
        return codes, " ".join(" ".join(texts).split()), document.get_metadata_dict()
    finally:
        document.close()


def test_access_code_qr_is_version_2_at_error_correction_m():
    qr = make_qr(new_code())
    assert qr.version == 2 and qr.modules_count == 25
    assert qr.error_correction == qrcode.constants.ERROR_CORRECT_M


def test_png_decodes_to_the_exact_code():
    code = new_code()
    data = qr_png(code)
    assert data.startswith(b"\x89PNG")
    assert decode_png(data) == [code]
    assert Image.open(io.BytesIO(qr_png(code, box_size=4))).size == (33 * 4, 33 * 4)


def test_holder_of_the_manage_link_gets_png_and_svg_of_their_code(client, make_event):
    participant = register(client, make_event())
    token, code = participant.manage_token, participant.active_code.code

    png = client.get(f"/manage/{token}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert decode_png(png.data) == [code]

    svg = client.get(f"/manage/{token}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert decode_image(rasterise_qr_svg(svg.data)) == [code]

    for response in (png, svg):
        assert response.headers["Cache-Control"] in ("private, no-cache", "no-cache, private")
        etag, weak = response.get_etag()
        assert etag and not weak
        assert code not in etag and code not in response.headers["ETag"]
    assert png.get_etag()[0] != svg.get_etag()[0]


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_reopening_the_page_gets_304_without_drawing_the_image(
    client, make_event, monkeypatch, kind
):
    participant = register(client, make_event())
    url = f"/manage/{participant.manage_token}/qr.{kind}"
    first = client.get(url)
    etag = first.headers["ETag"]

    def must_not_draw(code, *args):
        raise AssertionError("the image was drawn for a matching If-None-Match")

    monkeypatch.setattr(tickets_views, f"qr_{kind}", must_not_draw)
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    assert "no-cache" in again.headers["Cache-Control"]
    assert "private" in again.headers["Cache-Control"]
    # Browsers may send the validator as weak, or among others; both still match.
    weak = client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304


def test_reissued_code_shows_at_once_despite_the_cached_image(client, make_event):
    participant = register(client, make_event())
    url = f"/manage/{participant.manage_token}/qr.png"
    old_code = participant.active_code.code
    old_etag = client.get(url).headers["ETag"]

    participant.issue_code()
    db.session.commit()
    new_code_ = participant.active_code.code

    response = client.get(url, headers={"If-None-Match": old_etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != old_etag
    assert decode_png(response.data) == [new_code_] != [old_code]
    svg = client.get(f"/manage/{participant.manage_token}/qr.svg")
    assert decode_image(rasterise_qr_svg(svg.data)) == [new_code_]


def test_another_participants_link_never_yields_this_participants_code(client, make_event):
    event = make_event()
    first = register(client, event, email="first@example.org", full_name="First Person")
    second = register(client, event, email="second@example.org", full_name="Second Person")
    first_code, second_code = first.active_code.code, second.active_code.code

    assert decode_png(client.get(f"/manage/{second.manage_token}/qr.png").data) == [second_code]
    svg = client.get(f"/manage/{second.manage_token}/qr.svg").data
    assert decode_image(rasterise_qr_svg(svg)) == [second_code]
    ticket = client.get(f"/manage/{second.manage_token}/ticket.pdf")
    codes, text, _ = read_pdf(ticket.data)
    assert codes == [second_code]
    assert "Second Person" in text and "First Person" not in text
    assert grouped(first_code) not in text

    # The first participant's ETag gets no 304 on the second participant's link.
    first_etag = client.get(f"/manage/{first.manage_token}/qr.png").headers["ETag"]
    response = client.get(
        f"/manage/{second.manage_token}/qr.png", headers={"If-None-Match": first_etag}
    )
    assert response.status_code == 200 and decode_png(response.data) == [second_code]


@pytest.mark.parametrize("path", ["qr.svg", "qr.png", "ticket.pdf", "ticket.pdf?layout=a6"])
def test_unknown_token_or_the_access_code_itself_is_404(client, make_event, path):
    participant = register(client, make_event())
    assert client.get(f"/manage/not-a-real-token/{path}").status_code == 404
    assert client.get(f"/manage/{participant.active_code.code}/{path}").status_code == 404


@pytest.mark.parametrize("path", ["qr.svg", "qr.png", "ticket.pdf"])
def test_participant_without_an_active_code_gets_404(client, make_event, path):
    participant = register(client, make_event())
    participant.active_code.revoke()
    db.session.commit()
    assert client.get(f"/manage/{participant.manage_token}/{path}").status_code == 404


def test_unknown_ticket_layout_is_404(client, make_event):
    participant = register(client, make_event())
    response = client.get(f"/manage/{participant.manage_token}/ticket.pdf?layout=letter")
    assert response.status_code == 404
    with pytest.raises(ValueError, match="layout"):
        ticket_pdf(participant, "letter")


@pytest.mark.parametrize("layout", ["a4", "a6"])
def test_pdf_ticket_shows_person_sessions_and_a_qr_that_scans(client, make_event, layout):
    event = make_event(
        {"title": "Opening session", "room": "Hall A"},
        {"title": "Panel 1: Public service delivery", "room": "Hall B", "capacity": 1},
        {"title": "Panel 2: Social innovations", "room": "Hall C"},
        {"title": "Closing session", "room": "Hall A"},
        name="Global Web Forum on Agile Government Response",
        organiser="State Agency for Public Service and Social Innovations",
    )
    opening, panel_1, panel_2, closing = (s.id for s in event.sessions)
    register(client, event, [panel_1], email="early@example.org")  # takes Panel 1's only seat
    participant = register(
        client,
        event,
        [opening, panel_1, panel_2, closing],
        full_name="Jean-Pierre Élong",
        organisation=LONG_ORGANISATION,
        country="Cameroon",
        email="jp@example.org",
    )
    # Dropping a session cancels that registration: it must not appear on the ticket.
    response = client.post(
        f"/manage/{participant.manage_token}/sessions",
        data={"sessions": [opening, panel_1, closing]},
    )
    assert response.status_code == 303
    db.session.refresh(participant)
    code = participant.active_code.code

    response = client.get(f"/manage/{participant.manage_token}/ticket.pdf?layout={layout}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="ticket-forum.pdf"'
    assert "no-store" in response.headers["Cache-Control"]
    assert "private" in response.headers["Cache-Control"]

    codes, text, metadata = read_pdf(response.data)
    assert codes == [code]
    assert grouped(code) in text
    for expected in [
        "Global Web Forum on Agile Government Response",
        "Jean-Pierre Élong",
        LONG_ORGANISATION,
        "Cameroon",
        "Opening session",
        "Panel 1: Public service delivery",
        "Closing session",
        "Confirmed",
        "Waitlisted",
        "Asia/Baku",
    ]:
        assert expected in text, expected
    assert "Panel 2" not in text
    # Times in the event's time zone (Baku, UTC+4), not in UTC.
    opening_session = event.sessions[0]
    local = event.local(opening_session.starts_at)
    assert f"{local:%H:%M}–{event.local(opening_session.ends_at):%H:%M}" in text
    assert f"{local:%a} {local.day} {local:%b}" in text

    # The metadata names the event only; nothing personal beyond what is printed.
    assert metadata["Title"] == "Global Web Forum on Agile Government Response"
    assert "Jean-Pierre" not in str(metadata) and "jp@example.org" not in str(metadata)
    assert b"jp@example.org" not in response.data and "jp@example.org" not in text


def test_the_lead_can_attach_the_same_ticket_to_an_email(client, make_event):
    participant = register(client, make_event())
    codes, text, _ = read_pdf(ticket_pdf(participant, "a4"))
    assert codes == [participant.active_code.code]
    assert "Amina Rahimova" in text and "Azerbaijan" in text


@pytest.mark.parametrize(
    "full_name",
    ["Ülvi Məmmədov", "Александра Ковалёва", "Jean-Pierre Élong", "Ελένη Παπαδοπούλου"],
)
def test_names_from_every_script_print_with_real_glyphs(client, make_event, full_name):
    participant = register(client, make_event(), full_name=full_name, organisation="Şəki Ünivers")
    codes, text, _ = read_pdf(ticket_pdf(participant, "a6"))
    assert full_name in text and "Şəki Ünivers" in text
    assert codes == [participant.active_code.code]
    # The font embedded has a glyph for every letter (no empty boxes where a letter should be).
    fonts = tickets_pdf.fonts()
    for face in (fonts.regular, fonts.bold):
        glyphs = pdfmetrics.getFont(face).face.charToGlyph
        assert [c for c in full_name + "Şəki" if ord(c) not in glyphs] == [], fonts.label


def test_cancelled_participant_still_gets_a_ticket_that_says_so(client, make_event):
    participant = register(client, make_event())
    client.post(f"/manage/{participant.manage_token}/cancel")
    for layout in ("a4", "a6"):
        response = client.get(f"/manage/{participant.manage_token}/ticket.pdf?layout={layout}")
        _, text, _ = read_pdf(response.data)
        assert "cancelled" in text and "Session 1" not in text


def test_many_sessions_flow_onto_more_pages_and_the_qr_is_still_there(client, make_event):
    specs = [{"title": f"Workshop {i:02d} on a rather long subject heading"} for i in range(14)]
    event = make_event(*specs)
    participant = register(client, event, [s.id for s in event.sessions])
    for layout in ("a4", "a6"):
        data = ticket_pdf(participant, layout)
        codes, text, _ = read_pdf(data)
        assert codes == [participant.active_code.code]
        assert all(f"Workshop {i:02d}" in text for i in range(14))
    badge = pypdfium2.PdfDocument(ticket_pdf(participant, "a6"))
    assert len(badge) >= 2
    badge.close()
