"""PDF tickets: an A4 page to print or keep on a phone, and an A6 badge; and for organisers,
sheets of A6 badges to print on A4 and cut in four.

A ticket shows the event, the participant (name, organisation, country, category), the sessions
they hold (day, time in the event's time zone, room, confirmed or waitlisted), the QR of their
access code, drawn as vector squares from the same :func:`regapp.tickets.qr.make_qr` symbol as the
screen image, and the code typed in groups for reading aloud. The PDF's metadata names only the
event: nothing about the participant is in it beyond what is printed.

Names come from every country, so the text font must cover far more than Latin-1 (Azerbaijani
"ə", Cyrillic, Greek ...). We use DejaVu Sans (from Debian's fonts-dejavu-core, which the project's
machines have, or from matplotlib when that is installed), then Liberation Sans, and as a last
resort Bitstream Vera, which ships inside reportlab itself but covers Western European scripts only.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4, A6
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepInFrame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ..countries import name as country_name
from ..models import CATEGORIES, Event, Participant, RegistrationStatus
from .codes import grouped
from .qr import BORDER, qr_matrix

log = logging.getLogger(__name__)

INK = colors.HexColor("#1b2430")
MUTED = colors.HexColor("#5b6675")
RULE = colors.HexColor("#d5dbe3")
BRAND = colors.HexColor("#1f3a5f")
BRAND_LIGHT = colors.HexColor("#e3eaf4")
PALE = colors.HexColor("#c9d6e8")
CONFIRMED = colors.HexColor("#1e7a3c")
WAITLISTED = colors.HexColor("#9a5b00")


# -- fonts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FontFamily:
    label: str
    folder: Path
    regular: str
    bold: str
    mono: str | None  # bold monospace for the typed code; Courier-Bold when missing


def _font_families() -> list[FontFamily]:
    families = [
        FontFamily(
            "DejaVu Sans (Debian fonts-dejavu-core)",
            Path("/usr/share/fonts/truetype/dejavu"),
            "DejaVuSans.ttf",
            "DejaVuSans-Bold.ttf",
            "DejaVuSansMono-Bold.ttf",
        ),
    ]
    # matplotlib ships DejaVu too; find it without importing matplotlib (slow).
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:
        folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
        families.append(
            FontFamily(
                "DejaVu Sans (matplotlib)",
                folder,
                "DejaVuSans.ttf",
                "DejaVuSans-Bold.ttf",
                "DejaVuSansMono-Bold.ttf",
            )
        )
    families += [
        FontFamily(
            "Liberation Sans (Debian fonts-liberation)",
            Path("/usr/share/fonts/truetype/liberation"),
            "LiberationSans-Regular.ttf",
            "LiberationSans-Bold.ttf",
            "LiberationMono-Bold.ttf",
        ),
        FontFamily(
            "Bitstream Vera (ships with reportlab; Western European scripts only)",
            Path(reportlab.__file__).parent / "fonts",
            "Vera.ttf",
            "VeraBd.ttf",
            None,
        ),
    ]
    return families


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    mono: str
    label: str


@cache
def fonts() -> Fonts:
    """Register the best font family found (once per process) and name its faces."""
    for family in _font_families():
        regular, bold = family.folder / family.regular, family.folder / family.bold
        if not (regular.is_file() and bold.is_file()):
            continue
        pdfmetrics.registerFont(TTFont("Ticket", str(regular)))
        pdfmetrics.registerFont(TTFont("Ticket-Bold", str(bold)))
        pdfmetrics.registerFontFamily(
            "Ticket", normal="Ticket", bold="Ticket-Bold", italic="Ticket", boldItalic="Ticket-Bold"
        )
        mono = "Courier-Bold"
        if family.mono and (family.folder / family.mono).is_file():
            pdfmetrics.registerFont(TTFont("Ticket-Mono", str(family.folder / family.mono)))
            mono = "Ticket-Mono"
        if family.regular == "Vera.ttf":
            log.warning(
                "PDF tickets use Bitstream Vera: names in Cyrillic, Greek or with letters such "
                "as 'ə' will not print. Install DejaVu fonts (Debian: fonts-dejavu-core)."
            )
        return Fonts("Ticket", "Ticket-Bold", mono, family.label)
    raise RuntimeError("no TrueType font found for PDF tickets")  # reportlab ships Vera


# -- layouts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    name: str
    page: tuple[float, float]
    margin: float
    #: Side of one QR module: 25 modules make the symbol (version 2).
    module: float
    #: White modules kept around the symbol (the standard asks for 4; 3 scans as well and the
    #: badge needs the room).
    quiet: int
    title: float  # font sizes, in points
    person: float
    body: float
    small: float
    code: float
    band_padding: float  # inside the event band at the top

    @property
    def width(self) -> float:
        return self.page[0] - 2 * self.margin


#: The symbol is 25 x 1.75 = 43.75 mm wide on A4, 25 x 1.4 = 35 mm on the A6 badge.
LAYOUTS = {
    "a4": Layout("a4", A4, 18 * mm, 1.75 * mm, 4, 20, 22, 11, 8.5, 12, 14),
    "a6": Layout("a6", A6, 6 * mm, 1.4 * mm, 3, 10, 14, 8, 6.5, 8.5, 5.5),
}


class QRFlowable(Flowable):
    """The symbol as filled squares in one path: sharp at any zoom and on any printer."""

    def __init__(self, code: str, module: float, quiet: int = BORDER):
        super().__init__()
        trim = BORDER - quiet  # qr_matrix carries the standard quiet zone of 4 modules
        matrix = qr_matrix(code)
        self.matrix = [row[trim : len(row) - trim] for row in matrix[trim : len(matrix) - trim]]
        self.module = module
        self.side = len(self.matrix) * module

    def wrap(self, available_width, available_height):
        return self.side, self.side

    def draw(self):
        canvas, m, n = self.canv, self.module, len(self.matrix)
        path = canvas.beginPath()
        for row, cells in enumerate(self.matrix):
            y = (n - row - 1) * m
            column = 0
            while column < n:  # one rectangle per run of dark modules
                if not cells[column]:
                    column += 1
                    continue
                start = column
                while column < n and cells[column]:
                    column += 1
                path.rect(start * m, y, (column - start) * m, m)
        canvas.setFillColor(colors.black)
        canvas.drawPath(path, stroke=0, fill=1)


class Pill(Flowable):
    """A short label on a rounded background: the participant's category."""

    def __init__(self, text: str, font: str, size: float, align: str = "LEFT"):
        super().__init__()
        self.text, self.font, self.size = text, font, size
        self.pad_x, self.pad_y = size * 0.7, size * 0.35
        self.hAlign = align

    def wrap(self, available_width, available_height):
        self.width = pdfmetrics.stringWidth(self.text, self.font, self.size) + 2 * self.pad_x
        self.height = self.size + 2 * self.pad_y
        return self.width, self.height

    def draw(self):
        canvas = self.canv
        canvas.setFillColor(BRAND_LIGHT)
        canvas.roundRect(0, 0, self.width, self.height, self.height / 2, stroke=0, fill=1)
        canvas.setFillColor(BRAND)
        canvas.setFont(self.font, self.size)
        canvas.drawString(self.pad_x, self.pad_y + self.size * 0.22, self.text)


def _styles(layout: Layout) -> dict[str, ParagraphStyle]:
    f, pt = fonts(), layout  # pt: the layout's font sizes
    base = ParagraphStyle(
        "base", fontName=f.regular, fontSize=pt.body, leading=pt.body * 1.3, textColor=INK
    )

    def style(name, **changes):
        return ParagraphStyle(name, base, **changes)

    return {
        "title": style(
            "title",
            fontName=f.bold,
            fontSize=pt.title,
            leading=pt.title * 1.2,
            textColor=colors.white,
        ),
        "subtitle": style(
            "subtitle", fontSize=pt.small + 1, leading=(pt.small + 1) * 1.35, textColor=PALE
        ),
        "label": style(
            "label", fontName=f.bold, fontSize=pt.small, leading=pt.small * 1.4, textColor=MUTED
        ),
        "person": style("person", fontName=f.bold, fontSize=pt.person, leading=pt.person * 1.15),
        "body": base,
        "muted": style("muted", textColor=MUTED),
        "small": style("small", fontSize=pt.small, leading=pt.small * 1.35, textColor=MUTED),
        "small_ink": style("small_ink", fontSize=pt.small + 0.5, leading=(pt.small + 0.5) * 1.3),
        "code": style("code", fontName=f.mono, fontSize=pt.code, leading=pt.code * 1.3),
        "heading": style(
            "heading", fontName=f.bold, fontSize=pt.body + 2, leading=(pt.body + 2) * 1.3
        ),
    }


def _aligned(style: ParagraphStyle, align: int) -> ParagraphStyle:
    return style if style.alignment == align else ParagraphStyle(style.name, style, alignment=align)


# -- content --------------------------------------------------------------------------------------


def _text(value: str) -> str:
    return escape(value or "")


def _coloured(text: str, colour: colors.Color, bold: bool = True) -> str:
    text = f"<b>{text}</b>" if bold else text
    return f'<font color="{colour.hexval()}">{text}</font>'


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _date_range(event: Event) -> str:
    days = sorted({s.local_day() for s in event.sessions})
    if not days:
        return ""
    first, last = days[0], days[-1]
    if first == last:
        return f"{first.day} {first:%B %Y}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%B %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"


def _zone_note(event: Event, registrations) -> str:
    if event.timezone.upper() in ("UTC", "ETC/UTC"):
        return "Times are in UTC."
    city = event.timezone.rsplit("/", 1)[-1].replace("_", " ")
    offset = event.local(registrations[0].session.starts_at).strftime("%z")
    return f"Times are {city} time ({event.timezone}, UTC{offset[:3]}:{offset[3:]})."


def _active_registrations(participant: Participant):
    return sorted(
        (r for r in participant.registrations if r.is_active),
        key=lambda r: (r.session.starts_at, r.session.position, r.session.id),
    )


def _status(registration) -> str:
    if registration.status == RegistrationStatus.CONFIRMED:
        return _coloured("Confirmed", CONFIRMED)
    return _coloured("Waitlisted", WAITLISTED)


def _band(event: Event, layout: Layout, styles, align: int) -> Table:
    """The event's name, venue and dates on a coloured band across the top."""
    subtitle = " · ".join(p for p in (_text(event.venue), _date_range(event)) if p)
    rows = [[Paragraph(_text(event.name), _aligned(styles["title"], align))]]
    if subtitle:
        rows.append([Paragraph(subtitle, _aligned(styles["subtitle"], align))])
    pad = layout.band_padding
    table = Table(rows, colWidths=[layout.width])
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), BRAND),
                ("LEFTPADDING", (0, 0), (-1, -1), pad),
                ("RIGHTPADDING", (0, 0), (-1, -1), pad),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("TOPPADDING", (0, 0), (-1, 0), pad),
                ("BOTTOMPADDING", (0, -1), (-1, -1), pad),
            ]
        )
    )
    return table


def _category(participant: Participant) -> str:
    return CATEGORIES.get(participant.category, participant.category or "")


def _a4_story(participant: Participant, code: str, registrations, styles) -> list[Flowable]:
    layout = LAYOUTS["a4"]
    qr = QRFlowable(code, layout.module, layout.quiet)
    identity = [
        Paragraph("PARTICIPANT", styles["label"]),
        Spacer(1, 3),
        Paragraph(_text(participant.full_name), styles["person"]),
        Spacer(1, 5),
    ]
    if participant.organisation:
        identity += [Paragraph(_text(participant.organisation), styles["body"]), Spacer(1, 2)]
    identity.append(Paragraph(_text(country_name(participant.country)), styles["muted"]))
    if category := _category(participant):
        identity += [Spacer(1, 7), Pill(category, fonts().bold, layout.small + 0.5)]
    identity += [
        Spacer(1, 14),
        Paragraph("ACCESS CODE", styles["label"]),
        Spacer(1, 2),
        Paragraph(grouped(code), styles["code"]),
    ]
    door = [qr, Paragraph("Show this code at the door", _aligned(styles["small"], TA_CENTER))]
    card = Table([[identity, door]], colWidths=[layout.width - qr.side - 8, qr.side + 8])
    card.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BOX", (0, 0), (-1, -1), 0.75, RULE),
                ("LEFTPADDING", (0, 0), (0, 0), 16),
                ("LEFTPADDING", (1, 0), (1, 0), 0),
                ("RIGHTPADDING", (1, 0), (1, 0), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 10),
            ]
        )
    )
    story = [
        _band(participant.event, layout, styles, TA_LEFT),
        Spacer(1, 8 * mm),
        card,
        Spacer(1, 10 * mm),
        Paragraph("Your sessions", styles["heading"]),
        Spacer(1, 2 * mm),
    ]
    if not registrations:
        return story + [Paragraph("You hold no sessions: this registration is cancelled.")]
    rows = [[Paragraph(h, styles["label"]) for h in ("WHEN", "SESSION", "STATUS")]]
    for r in registrations:
        session, local = r.session, participant.event.local
        start, end = local(session.starts_at), local(session.ends_at)
        room = f"<br/>{_coloured(_text(session.room), MUTED, bold=False)}" if session.room else ""
        rows.append(
            [
                Paragraph(
                    f"<b>{_day(start.date())}</b><br/>{start:%H:%M}–{end:%H:%M}", styles["body"]
                ),
                Paragraph(f"<b>{_text(session.title)}</b>{room}", styles["body"]),
                Paragraph(_status(r), styles["body"]),
            ]
        )
    w = layout.width
    table = Table(rows, colWidths=[w * 0.2, w * 0.62, w * 0.18], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 7),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
            ]
        )
    )
    return story + [
        table,
        Spacer(1, 3 * mm),
        Paragraph(_zone_note(participant.event, registrations), styles["small"]),
    ]


def _badge_details(participant: Participant) -> str:
    """The country, and the category in the brand colour: the line under a badge's name."""
    details = _text(country_name(participant.country))
    if category := _category(participant):
        details += " · " + _coloured(_text(category), BRAND)
    return details


def _a6_story(participant: Participant, code: str, registrations, styles) -> list[Flowable]:
    layout = LAYOUTS["a6"]
    centre = {k: _aligned(v, TA_CENTER) for k, v in styles.items()}
    qr = QRFlowable(code, layout.module, layout.quiet)
    qr.hAlign = "CENTER"
    details = _badge_details(participant)
    story = [
        _band(participant.event, layout, styles, TA_CENTER),
        Spacer(1, 2.5 * mm),
        Paragraph(_text(participant.full_name), centre["person"]),
        Spacer(1, 2),
    ]
    if participant.organisation:
        story.append(Paragraph(_text(participant.organisation), centre["body"]))
    story += [
        Paragraph(details, centre["muted"]),
        qr,
        Paragraph(grouped(code), centre["code"]),
        Spacer(1, 2 * mm),
    ]
    if not registrations:
        return story + [Paragraph("No sessions: this registration is cancelled.", styles["small"])]
    rows = []
    for r in registrations:
        session, local = r.session, participant.event.local
        start, end = local(session.starts_at), local(session.ends_at)
        when = [_day(start.date()), f"{start:%H:%M}–{end:%H:%M}", _text(session.room), _status(r)]
        line = " · ".join(p for p in when if p)
        rows.append([Paragraph(f"<b>{_text(session.title)}</b><br/>{line}", styles["small_ink"])])
    table = Table(rows, colWidths=[layout.width])
    table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("LINEABOVE", (0, 0), (-1, -1), 0.5, RULE),
            ]
        )
    )
    return story + [
        table,
        Spacer(1, 1),
        Paragraph(_zone_note(participant.event, registrations), styles["small"]),
    ]


FOOTERS = {
    "a4": "Personal ticket: anyone holding this code can be checked in as you.",
    "a6": "Personal ticket · keep the code to yourself",
}


def _footer(layout: Layout):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(fonts().regular, layout.small)
        canvas.setFillColor(MUTED)
        canvas.drawCentredString(layout.page[0] / 2, layout.margin * 0.5, FOOTERS[layout.name])
        canvas.restoreState()

    return draw


def ticket_pdf(participant: Participant, layout: str = "a4") -> bytes:
    """The participant's ticket as PDF bytes; ``layout`` is ``"a4"`` (page) or ``"a6"`` (badge).

    Raises :class:`ValueError` for another layout, or for a participant without an active code.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown ticket layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    access = participant.active_code
    if access is None:
        raise ValueError("the participant has no active access code")
    page = LAYOUTS[layout]
    styles = _styles(page)
    registrations = _active_registrations(participant)
    event = participant.event

    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=page.page,
        # Metadata names the event only: the file may be forwarded, indexed or synced.
        title=event.name,
        author=event.organiser or event.name,
        subject="Access ticket",
        creator="regapp",
        lang="en",
    )
    frame = Frame(
        page.margin,
        page.margin,
        page.width,
        page.page[1] - 2 * page.margin,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate("ticket", [frame], onPage=_footer(page))])
    build = _a4_story if layout == "a4" else _a6_story
    doc.build(build(participant, access.code, registrations, styles))
    return buffer.getvalue()


def _fit_words(text: str, style: ParagraphStyle, width: float, smallest: float) -> ParagraphStyle:
    """``style``, made smaller if need be (down to ``smallest`` points) so that the longest word
    of ``text`` fits in ``width``: a long name is printed smaller, never cut in the middle."""
    longest = max((pdfmetrics.stringWidth(w, style.fontName, 1) for w in text.split()), default=0)
    size = min(style.fontSize, max(smallest, 0.98 * width / longest if longest else style.fontSize))
    if size == style.fontSize:
        return style
    return ParagraphStyle(
        style.name, style, fontSize=size, leading=size * style.leading / style.fontSize
    )


#: Badges per A4 sheet: its four A6 quadrants, 105 x 148.5 mm each.
BADGES_PER_SHEET = 4
#: How far the cut marks reach into the sheet from its edges and from its centre.
CUT_MARK = 10 * mm


def badge_sheet_pdf(event: Event, badges: list[tuple[Participant, str]]) -> bytes:
    """Badges for printing: ``badges`` are (participant, access code) pairs, four per A4 page.

    Each badge is an A6 quadrant of the sheet, the size of the participant's own A6 badge and of
    the usual lanyard pouch: two straight cuts (marked at the sheet's edges and centre, in the
    gutters between the badges) make four badges with nothing to trim away. Content keeps 6 mm
    from every cut and sheet edge, beyond what printers leave unprinted. A badge shows the
    event's band, the name in large type, organisation, country and category (shrunk to fit
    when long), and at the bottom the QR of the access code at the single badge's size
    (35 mm), with the code typed under it for when a camera cannot read it.
    """
    layout = LAYOUTS["a6"]
    styles = _styles(layout)
    centre = {k: _aligned(v, TA_CENTER) for k, v in styles.items()}
    name_style = ParagraphStyle("badge_name", centre["person"], fontSize=20, leading=23)
    organisation_style = ParagraphStyle("badge_org", centre["body"], fontSize=11, leading=14)
    quadrant_w, quadrant_h = A4[0] / 2, A4[1] / 2
    margin, inner = layout.margin, A4[0] / 2 - 2 * layout.margin

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    # Metadata names the event only, as on tickets.
    canvas.setTitle(f"Badges · {event.name}")
    canvas.setAuthor(event.organiser or event.name)
    canvas.setSubject("Badges")
    canvas.setCreator("regapp")

    def draw_badge(x0: float, y0: float, participant: Participant, code: str) -> None:
        band = _band(event, layout, styles, TA_CENTER)
        _, band_h = band.wrapOn(canvas, inner, quadrant_h)
        band.drawOn(canvas, x0 + margin, y0 + quadrant_h - margin - band_h)
        code_y = y0 + margin + 1 * mm
        canvas.setFont(fonts().mono, layout.code)
        canvas.setFillColor(INK)
        canvas.drawCentredString(x0 + quadrant_w / 2, code_y, grouped(code))
        qr = QRFlowable(code, layout.module, layout.quiet)
        qr_y = code_y + layout.code + 1 * mm
        qr.drawOn(canvas, x0 + (quadrant_w - qr.side) / 2, qr_y)
        top, bottom = y0 + quadrant_h - margin - band_h - 3 * mm, qr_y + qr.side
        fitted = _fit_words(participant.full_name, name_style, inner, smallest=11)
        identity = [Paragraph(_text(participant.full_name), fitted), Spacer(1, 4)]
        if participant.organisation:
            identity += [Paragraph(_text(participant.organisation), organisation_style)]
        identity += [Spacer(1, 3), Paragraph(_badge_details(participant), centre["muted"])]
        block = KeepInFrame(inner, top - bottom, identity, mode="shrink")
        _, block_h = block.wrapOn(canvas, inner, top - bottom)
        block.drawOn(canvas, x0 + margin, bottom + (top - bottom - block_h) / 2)

    def draw_cut_marks() -> None:
        """On the two cut lines: from each edge of the sheet, and a cross at its centre."""
        width, height = A4
        canvas.setStrokeColor(MUTED)
        canvas.setLineWidth(0.5)
        for x1, y1, x2, y2 in (
            (quadrant_w, height, quadrant_w, height - CUT_MARK),
            (quadrant_w, 0, quadrant_w, CUT_MARK),
            (0, quadrant_h, CUT_MARK, quadrant_h),
            (width, quadrant_h, width - CUT_MARK, quadrant_h),
            (quadrant_w - CUT_MARK, quadrant_h, quadrant_w + CUT_MARK, quadrant_h),
            (quadrant_w, quadrant_h - CUT_MARK, quadrant_w, quadrant_h + CUT_MARK),
        ):
            canvas.line(x1, y1, x2, y2)

    for start in range(0, len(badges), BADGES_PER_SHEET):
        for slot, (participant, code) in enumerate(badges[start : start + BADGES_PER_SHEET]):
            column, row = slot % 2, slot // 2
            draw_badge(column * quadrant_w, A4[1] - (row + 1) * quadrant_h, participant, code)
        draw_cut_marks()
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def badges_filename(event: Event) -> str:
    return ticket_filename(event).replace("ticket-", "badges-", 1)


def ticket_filename(event: Event) -> str:
    """``ticket-<event-slug>.pdf``: the event only, nothing about the participant."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", event.slug).strip("-") or "event"
    return f"ticket-{slug}.pdf"
