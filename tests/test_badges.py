"""Organisers print badges: four A6 badges per A4 sheet with cut marks, for the ticked
participants or everyone passing the list's filter; each badge has the name, organisation,
country and a QR that a real decoder reads back as the participant's access code."""

from __future__ import annotations

import pypdfium2
import pytest
import zxingcpp
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from regapp.extensions import db
from regapp.models import Participant
from regapp.participants import badges as badges_module
from tests.test_participants_admin import audit_entries, detail_url, fresh, person, sign_in
from tests.test_tickets import read_pdf

BADGES = "/e/forum/admin/badges.pdf"
DPI = 200


@pytest.fixture
def forum(make_event):
    return make_event({"title": "Opening session"}, {"title": "Panel 1"})


@pytest.fixture
def organiser(client, forum):
    sign_in(client)
    return client


def print_badges(client, **form):
    return client.post(BADGES, data=form)


def code_of(participant: Participant) -> str:
    return fresh(participant).active_code.code


def qr_boxes(pdf: bytes) -> list[list[tuple[str, float, float, float, float]]]:
    """Per page: each QR found, as (text, left, top, right, bottom) in millimetres."""
    document = pypdfium2.PdfDocument(pdf)
    pages = []
    try:
        for page in document:
            image = page.render(scale=DPI / 72).to_pil()
            found = []
            for barcode in zxingcpp.read_barcodes(image):
                p = barcode.position
                xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
                ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
                px = 25.4 / DPI
                found.append((barcode.text, min(xs) * px, min(ys) * px, max(xs) * px, max(ys) * px))
            pages.append(found)
    finally:
        document.close()
    return pages


def test_ticked_participants_get_badges_whose_qr_decodes_to_their_code(organiser, forum):
    people = [
        person(forum, "Amina Rahimova", "amina@example.org", country="AZ"),
        person(
            forum, "Jean-Pierre Élong Mbassi", "jp@example.org", country="CM", category="speaker"
        ),
        person(forum, "Leyla Məmmədova", "leyla@example.org", organisation="Azərbaycan Dövlət"),
        person(forum, "Not ticked", "nobody@example.org"),
    ]
    ticked = people[:3]
    response = print_badges(organiser, scope="selected", ids=[str(p.id) for p in ticked])
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="badges-forum.pdf"'
    assert response.headers["Cache-Control"] == "private, no-store"

    codes, text, metadata = read_pdf(response.data, dpi=DPI)
    assert sorted(codes) == sorted(code_of(p) for p in ticked)
    for expected in (
        "Amina Rahimova",
        "Jean-Pierre Élong Mbassi",
        "Leyla Məmmədova",  # DejaVu prints the ə
        "Azərbaycan Dövlət",
        "ASAN Service",
        "Azerbaijan",
        "Cameroon",  # the country's name, not its code
        "Speaker",
    ):
        assert expected in text, expected
    assert "Not ticked" not in text
    # The file names the event only: it may be forwarded to a print shop.
    assert metadata["Title"] == "Badges · Test Forum"
    assert "Amina" not in str(metadata)
    (entry,) = audit_entries("badges.print")
    assert entry.details == {"badges": 3}


def test_four_badges_a_sheet_each_in_its_own_quadrant_in_name_order(organiser, forum):
    names = ["Eve", "Bob", "Ann", "Dan", "Cat", "Fay"]
    people = {n: person(forum, n, f"{n.lower()}@example.org") for n in names}
    response = print_badges(organiser, scope="filter")
    pages = qr_boxes(response.data)
    assert [len(page) for page in pages] == [4, 2]
    half_w, half_h = A4[0] / mm / 2, A4[1] / mm / 2
    order = []
    for page in pages:
        slots = {}
        for text, left, top, right, bottom in page:
            column, row = int(left // half_w), int(top // half_h)
            assert right < (column + 1) * half_w and bottom < (row + 1) * half_h  # one quadrant
            # Clear of the cuts: at least 6 mm from every cut and edge.
            assert left - column * half_w > 6 and (column + 1) * half_w - right > 6
            assert bottom < (row + 1) * half_h - 6
            assert right - left > 30  # the single badge's 35 mm symbol, not shrunk
            slots[(row, column)] = text
        order += [slots[k] for k in sorted(slots)]
    by_code = {code_of(p): name for name, p in people.items()}
    assert [by_code[c] for c in order] == sorted(names)


def test_the_sheet_has_cut_marks_on_its_cut_lines(organiser, forum):
    person(forum, "Amina", "amina@example.org")
    response = print_badges(organiser, scope="filter")
    document = pypdfium2.PdfDocument(response.data)
    try:
        image = document[0].render(scale=DPI / 72).to_pil().convert("L")
    finally:
        document.close()
    width, height = image.size
    centre_x, centre_y = width // 2, height // 2
    px = DPI / 25.4

    def dark(x: int, y: int) -> bool:
        return min(image.getpixel((x + d, y)) for d in (-1, 0, 1)) < 200

    def dark_across(x: int, y: int) -> bool:
        return min(image.getpixel((x, y + d)) for d in (-1, 0, 1)) < 200

    # Vertical cut: marks from the top and bottom edges, and through the centre.
    for y in (int(3 * px), height - int(3 * px), centre_y - int(5 * px), centre_y + int(5 * px)):
        assert dark(centre_x, y), y
    # Horizontal cut: marks from the left and right edges, and through the centre.
    for x in (int(3 * px), width - int(3 * px), centre_x - int(5 * px)):
        assert dark_across(x, centre_y), x
    # Nothing else is drawn on the cut lines: a straight cut does not clip a badge.
    assert not dark(centre_x, int(40 * px)) and not dark_across(int(40 * px), centre_y)


def test_all_matching_the_filter_prints_only_those(organiser, forum):
    for i in range(3):
        person(forum, f"Azeri {i}", f"az{i}@example.org", country="AZ")
    for i in range(2):
        person(forum, f"Nigerian {i}", f"ng{i}@example.org", country="NG")
    response = print_badges(organiser, scope="filter", country="NG")
    codes, text, _ = read_pdf(response.data, dpi=DPI)
    assert len(codes) == 2 and "Nigerian 0" in text and "Azeri" not in text


def test_cancelled_and_erased_participants_get_no_badge(organiser, forum):
    kept = person(forum, "Kept", "kept@example.org")
    cancelled = person(forum, "Cancelled", "cancelled@example.org")
    erased = person(forum, "Erased", "erased@example.org")
    organiser.post(f"{detail_url(cancelled)}/cancel", data={"confirm": "y"})
    organiser.post(f"{detail_url(erased)}/erase")
    everyone = [str(p.id) for p in (kept, cancelled, erased)]

    codes, text, _ = read_pdf(print_badges(organiser, scope="selected", ids=everyone).data)
    assert codes == [code_of(kept)] and "Cancelled" not in text and "Erased" not in text
    codes, _, _ = read_pdf(print_badges(organiser, scope="filter").data)
    assert codes == [code_of(kept)]

    response = print_badges(organiser, scope="selected", ids=everyone[1:], q="e")
    assert response.status_code == 303 and response.location.endswith("participants?q=e")
    assert "cancelled and erased participants get none" in organiser.get(response.location).text
    # Their boxes in the list cannot be ticked.
    listing = organiser.get("/e/forum/admin/participants").text
    for p in (cancelled, erased):
        box = listing.split(f'id="pick-{p.id}"')[1].split(">")[0]
        assert "disabled" in box


def test_nothing_ticked_or_another_events_people_give_a_message(organiser, forum, make_event):
    person(forum, "Amina", "amina@example.org")
    response = print_badges(organiser, scope="selected")
    assert response.status_code == 303
    assert "Tick the participants whose badges you want" in organiser.get(response.location).text

    stranger = person(make_event(slug="other"), "Stranger", "stranger@example.org")
    response = print_badges(organiser, scope="selected", ids=[str(stranger.id), "x"])
    assert response.status_code == 303
    assert "None of these participants can have a badge" in organiser.get(response.location).text
    assert audit_entries("badges.print") == []


def test_too_many_badges_for_one_file_asks_for_a_narrower_list(organiser, forum, monkeypatch):
    for i in range(3):
        person(forum, f"P{i}", f"p{i}@example.org")
    monkeypatch.setattr(badges_module, "MAX_BADGES", 2)
    response = print_badges(organiser, scope="filter")
    assert response.status_code == 303
    assert "more than 2 badges" in organiser.get(response.location).text


def test_long_names_shrink_to_fit_and_the_qr_still_reads(organiser, forum):
    long = person(
        forum,
        "Maximiliana Alexandrovna Konstantinopolskaya-Vanderbilt de la Cruz",
        "long@example.org",
        organisation="Islamic World Educational, Scientific and Cultural Organization (ICESCO), "
        "Regional Office for Central Africa and the Great Lakes Region",
    )
    codes, text, _ = read_pdf(print_badges(organiser, scope="filter").data, dpi=DPI)
    assert codes == [code_of(long)]
    assert "Konstantinopolskaya-Vanderbilt de la Cruz" in text
    assert "Great Lakes Region" in text
    db.session.rollback()
