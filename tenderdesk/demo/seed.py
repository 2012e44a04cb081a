"""Fictional German demo data for an empty (already migrated) database.

:func:`seed_demo` creates a broker pool's backoffice ("Maklerpool Nord
Backoffice") with users, brokers (Vermittler), policyholders, products, insurers
with their tender addresses, recommended insurers, and open requests (Anfragen)
with questionnaire answers, referral reasons and PDF documents, plus a second,
small account so that authorisation between accounts can be tried out.

Everything is invented: company and person names, insurers, streets. Email
addresses use the reserved domains ``tenderdesk.example``, ``example.com`` and
``*.example``; phone numbers come from the ranges the Bundesnetzagentur keeps
for film and television. No tenders are created: starting one starts a
workflow, and that is the product's job.

The output depends only on ``seed`` and ``now`` (``random.Random(seed)``), so
two runs with the same arguments produce the same rows and byte-identical PDFs.
Rows are written with multi-row INSERTs, so ``requests=10000`` serves as a
benchmark data set. At most :data:`PDF_BUDGET` distinct PDFs are rendered; past
that, documents reuse stored files of the same product (content-addressed
storage keeps one copy), so their contents name an earlier request.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Broker,
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Party,
    Policyholder,
    Product,
    Recommendation,
    ReferralReason,
    Request,
    RequestStatus,
    Role,
    User,
)
from tenderdesk.documents.storage import store_bytes
from tenderdesk.security.passwords import hash_password

log = logging.getLogger(__name__)

DEFAULT_SEED = 20260101
DEMO_PASSWORD = "demo1234!"
ADMIN_PASSWORD = "admin1234!"
#: Most distinct PDFs rendered per run; further documents share stored files.
PDF_BUDGET = 50
MAIN_ACCOUNT_NAME = "Maklerpool Nord Backoffice"
SECOND_ACCOUNT_NAME = "Assekuranzkontor Süd Backoffice"
REQUEST_NUMBER_PREFIX = "MA"

DAY_S = 86400.0
PDF_CONTENT_TYPE = "application/pdf"


class SeedError(RuntimeError):
    """The database already holds data; the seed only fills an empty one."""


# --------------------------------------------------------------------------- catalogue

PRODUCTS: tuple[tuple[str, str], ...] = (
    ("BHV", "Betriebshaftpflicht"),
    ("INH", "Inhaltsversicherung"),
    ("CYB", "Cyberversicherung"),
    ("VSH", "Vermögensschadenhaftpflicht"),
    ("ELE", "Elektronikversicherung"),
)
_PRODUCT_WEIGHTS: dict[str, int] = {"BHV": 34, "INH": 20, "CYB": 24, "VSH": 12, "ELE": 10}
_DEPARTMENT: dict[str, str] = {
    "BHV": "Haftpflicht",
    "INH": "Sach",
    "CYB": "Cyber",
    "VSH": "Vermögensschaden",
    "ELE": "Technische Versicherungen",
}


@dataclass(frozen=True)
class _InsurerSpec:
    name: str
    short_name: str
    domain: str
    mailbox: str  # local part of the tender address; {code} is the product code
    products: str  # product codes with a tender address; the rest are "not relevant"
    reachable: bool = True
    locale: str = "de"  # of its contacts: their link pages and emails


_INSURERS: tuple[_InsurerSpec, ...] = (
    _InsurerSpec("Hanseatische Gewerbe Versicherung AG", "Hanseatische", "hanseatische.example",
                 "ausschreibung-{code}", "BHV INH CYB VSH ELE"),
    _InsurerSpec("Rheintal Assekuranz AG", "Rheintal", "rheintal-assekuranz.example",
                 "firmenkunden.{code}", "BHV INH ELE"),
    _InsurerSpec("Nordlicht Versicherung a.G.", "Nordlicht", "nordlicht-versicherung.example",
                 "gewerbe-{code}", "BHV INH CYB"),
    _InsurerSpec("Elbufer Versicherungsverein a.G.", "Elbufer", "elbufer-vvag.example",
                 "underwriting-{code}", "BHV VSH CYB"),
    _InsurerSpec("Spessart Gewerbeschutz AG", "Spessart", "spessart-gewerbeschutz.example",
                 "anfragen.{code}", "BHV INH ELE"),
    _InsurerSpec("Weserbogen Versicherung AG", "Weserbogen", "weserbogen.example",
                 "ausschreibung-{code}", "BHV INH CYB VSH"),
    _InsurerSpec("Alpenrand Assekuranz AG", "Alpenrand", "alpenrand-assekuranz.example",
                 "risk-{code}", "CYB VSH", locale="en"),
    _InsurerSpec("Mittelland Sachversicherung AG", "Mittelland", "mittelland-sach.example",
                 "sach-{code}", "INH ELE"),
    _InsurerSpec("Boddenküste Haftpflicht AG", "Boddenküste", "boddenkueste.example",
                 "haftpflicht-{code}", "BHV VSH", reachable=False),
    _InsurerSpec("Lindenhof Versicherungen AG", "Lindenhof", "lindenhof-versicherungen.example",
                 "makler.{code}", "BHV INH CYB VSH ELE"),
    _InsurerSpec("Eichenkamp Versicherung AG", "Eichenkamp", "eichenkamp.example",
                 "gewerbe.{code}", "BHV CYB INH", locale="en"),
    _InsurerSpec("Kranichfeld Assekuranz AG", "Kranichfeld", "kranichfeld-assekuranz.example",
                 "technik-{code}", "INH ELE CYB", reachable=False),
)

# --------------------------------------------------------------------------- people, places

_FIRST_NAMES = (
    "Anke", "Bernd", "Claudia", "Dennis", "Elke", "Florian", "Gesa", "Henning", "Ines", "Jörg",
    "Karin", "Lars", "Maren", "Nils", "Ole", "Pia", "Rieke", "Sönke", "Tanja", "Uwe", "Vanessa",
    "Wiebke", "Yannick", "Svenja", "Malte", "Birte", "Kai", "Heike", "Torben", "Frauke",
)
_SURNAMES = (
    "Albrecht", "Bartels", "Behrens", "Bock", "Carstens", "Dietrich", "Ehlers", "Feddersen",
    "Gerdes", "Hansen", "Harms", "Hinrichs", "Jacobsen", "Kröger", "Lammers", "Lüdemann",
    "Martens", "Meyerhoff", "Nissen", "Oltmanns", "Paulsen", "Reimers", "Rohwer", "Schröder",
    "Siemers", "Stüben", "Thiessen", "Tiedemann", "Vosgerau", "Wendt", "Wittrock", "Ahrens",
    "Brüning", "Claußen", "Dreyer", "Evers", "Grotjahn", "Heitmann", "Ketelsen", "Mahnke",
)
_STREETS = (
    "Lindenallee", "Am Mühlenteich", "Hafenkamp", "Gewerbering", "Kastanienweg",
    "Industriestraße", "Birkenhof", "An der Ziegelei", "Deichweg", "Handwerkerhof", "Ahornring",
    "Kiebitzweg", "Fährstraße", "Kornblumenweg", "Heidkamp", "Lotsenweg", "Im Gewerbepark",
    "Moorweg", "Sandtorstieg", "Möwenstraße", "Reepschlägerweg", "Speicherstraße",
    "Am Bahnhof", "Eschenweg", "Ostertor", "Werftstraße",
)
_CITIES_NORTH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Hamburg", ("20457", "22089", "22761", "21073")),
    ("Bremen", ("28195", "28217", "28359")),
    ("Kiel", ("24103", "24143")),
    ("Lübeck", ("23552", "23566")),
    ("Hannover", ("30159", "30453")),
    ("Rostock", ("18055", "18069")),
    ("Oldenburg", ("26122", "26135")),
    ("Lüneburg", ("21335",)),
    ("Flensburg", ("24937",)),
    ("Osnabrück", ("49074",)),
    ("Schwerin", ("19053",)),
)
_CITIES_SOUTH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("München", ("80331", "81369")),
    ("Augsburg", ("86150",)),
)


@dataclass(frozen=True)
class _BrokerSpec:
    name: str
    company: str
    city: str
    email: str
    phone: str
    weight: int


_MAIN_BROKERS: tuple[_BrokerSpec, ...] = (
    _BrokerSpec("Thomas Meier", "Meier & Partner Versicherungsmakler GmbH", "Hamburg",
                "thomas.meier@example.com", "040 66969 101", 6),
    _BrokerSpec("Sabine Wolff", "Wolff Finanz- und Versicherungskontor e.K.", "Bremen",
                "sabine.wolff@example.com", "040 66969 102", 5),
    _BrokerSpec("Jan Petersen", "Petersen Assekuranzmakler e.K.", "Kiel",
                "jan.petersen@example.com", "040 66969 103", 3),
    _BrokerSpec("Miriam Özdemir", "Özdemir Versicherungsservice GmbH", "Hannover",
                "miriam.oezdemir@example.com", "040 66969 104", 3),
    _BrokerSpec("Frank Hollmann", "Hollmann & Söhne Versicherungsbüro OHG", "Lübeck",
                "frank.hollmann@example.com", "040 66969 105", 2),
    _BrokerSpec("Katharina Brandt", "Brandt Gewerbeversicherungen GmbH", "Oldenburg",
                "katharina.brandt@example.com", "040 66969 106", 2),
    _BrokerSpec("Dirk Albers", "Albers Maklerkontor GmbH", "Rostock",
                "dirk.albers@example.com", "040 66969 107", 2),
    _BrokerSpec("Nicole Janssen", "Janssen Risikoberatung GmbH", "Osnabrück",
                "nicole.janssen@example.com", "040 66969 108", 1),
)
_SECOND_BROKER = _BrokerSpec("Florian Huber", "Huber Versicherungsmakler GmbH", "München",
                             "florian.huber@example.com", "089 99998 201", 1)


@dataclass(frozen=True)
class _UserSpec:
    email: str
    name: str
    role: Role
    password: str
    broker_index: int | None = None  # index into the account's broker list


_MAIN_USERS: tuple[_UserSpec, ...] = (
    _UserSpec("anna.berger@tenderdesk.example", "Anna Berger", Role.BACKOFFICE, DEMO_PASSWORD),
    _UserSpec("jonas.keller@tenderdesk.example", "Jonas Keller", Role.BACKOFFICE, DEMO_PASSWORD),
    _UserSpec("lea.hoffmann@tenderdesk.example", "Lea Hoffmann", Role.BACKOFFICE, DEMO_PASSWORD),
    _UserSpec("admin@tenderdesk.example", "Petra Lorenz", Role.ADMIN, ADMIN_PASSWORD),
    _UserSpec(_MAIN_BROKERS[0].email, _MAIN_BROKERS[0].name, Role.BROKER, DEMO_PASSWORD, 0),
    _UserSpec(_MAIN_BROKERS[1].email, _MAIN_BROKERS[1].name, Role.BROKER, DEMO_PASSWORD, 1),
)
_SECOND_USERS: tuple[_UserSpec, ...] = (
    _UserSpec("lena.gruber@tenderdesk.example", "Lena Gruber", Role.BACKOFFICE, DEMO_PASSWORD),
)

# --------------------------------------------------------------------------- trades


@dataclass(frozen=True)
class _Trade:
    trade: str  # Gewerbe, as shown in the request list
    activity: str  # Tätigkeit, as the broker described it
    names: tuple[str, ...]  # {a} and {b} are surnames
    legal_forms: tuple[str, ...]
    employees: tuple[int, int]
    revenue_per_employee: tuple[int, int]
    products: tuple[str, ...]
    profession: str = ""  # Berufsgruppe for the VSH questionnaire
    equipment: tuple[str, ...] = ()  # insured electronics for ELE / contents lists


_TRADES: tuple[_Trade, ...] = (
    _Trade("Elektroinstallateur",
           "Elektroinstallation in Wohn- und Gewerbebauten, Montage von Photovoltaikanlagen",
           ("Elektro {a}", "{a} Elektrotechnik", "Elektro {a} & {b}"), ("GmbH", "e.K.", "GmbH"),
           (3, 25), (85_000, 140_000), ("BHV", "INH", "ELE", "CYB"),
           equipment=("Messgeräte und Prüftechnik", "Laptops und Tablets", "Thermografiekamera")),
    _Trade("Bäckerei",
           "Herstellung und Verkauf von Backwaren, zwei Filialen mit Café-Bereich",
           ("Bäckerei {a}", "Backstube {a}", "Landbäckerei {a}"), ("e.K.", "GmbH"),
           (4, 40), (45_000, 75_000), ("BHV", "INH", "ELE"),
           equipment=("Backöfen mit Steuerelektronik", "Kassensysteme", "Kühlzellen-Steuerung")),
    _Trade("IT-Dienstleister",
           "Softwareentwicklung, IT-Administration und Hosting für mittelständische Kunden",
           ("{a} IT-Services", "{a} & {b} Systemhaus", "Netzwerkstatt {a}"), ("GmbH", "UG"),
           (2, 30), (90_000, 160_000), ("CYB", "VSH", "BHV"),
           profession="IT-Dienstleistungen / Softwareentwicklung",
           equipment=("Server und Storage", "Notebooks", "Netzwerktechnik")),
    _Trade("Tischlerei",
           "Möbel- und Innenausbau, Montage von Fenstern und Türen",
           ("Tischlerei {a}", "{a} Holzwerkstatt", "Tischlerei {a} & {b}"), ("e.K.", "GmbH", "GbR"),
           (2, 15), (70_000, 110_000), ("BHV", "INH", "ELE"),
           equipment=("CNC-Steuerung", "Plattensäge mit Elektronik", "CAD-Arbeitsplätze")),
    _Trade("Friseursalon",
           "Damen- und Herrenfriseur, Kosmetikbehandlungen",
           ("Friseursalon {a}", "Salon {a}", "Haarstudio {a}"), ("e.K.", "GbR", "UG"),
           (2, 10), (35_000, 60_000), ("BHV", "INH"),
           equipment=("Kassensystem", "Trockenhauben")),
    _Trade("Ingenieurbüro",
           "Tragwerksplanung und Bauüberwachung im Hochbau",
           ("Ingenieurbüro {a}", "{a} & {b} Beratende Ingenieure", "Ingenieurbüro {a} & {b}"),
           ("GmbH", "GbR", "PartG mbB"),
           (2, 20), (90_000, 150_000), ("VSH", "BHV", "CYB", "ELE"),
           profession="Beratende Ingenieure (Tragwerksplanung)",
           equipment=("CAD-Workstations", "Großformatplotter", "Vermessungsgeräte")),
    _Trade("Gaststätte",
           "Restaurant mit 80 Sitzplätzen, Außengastronomie und Catering",
           ("Gaststätte {a}", "Landgasthof {a}", "Restaurant {a}"), ("e.K.", "GmbH", "GbR"),
           (4, 30), (40_000, 70_000), ("BHV", "INH", "ELE"),
           equipment=("Kassen- und Bestellsystem", "Kombidämpfer", "Kühltechnik")),
    _Trade("Steuerberater",
           "Steuerberatung, Lohn- und Finanzbuchhaltung, Jahresabschlüsse",
           ("Steuerberatung {a}", "{a} & {b} Steuerberater", "Kanzlei {a}"),
           ("PartG mbB", "GbR", "GmbH"),
           (3, 25), (80_000, 130_000), ("VSH", "CYB", "INH"),
           profession="Steuerberater",
           equipment=("Arbeitsplatzrechner", "Scanner und Drucker", "Server")),
    _Trade("Kfz-Werkstatt",
           "Kfz-Reparatur und Wartung aller Marken, Reifenservice, HU-Vorbereitung",
           ("Autoservice {a}", "Kfz-Technik {a}", "Autohaus {a}"), ("e.K.", "GmbH"),
           (3, 20), (80_000, 130_000), ("BHV", "INH", "ELE"),
           equipment=("Diagnosegeräte", "Achsvermessung", "Hebebühnen-Steuerung")),
    _Trade("Online-Händler",
           "Online-Versandhandel für Haushaltswaren über eigenen Shop und Marktplätze",
           ("{a} Versandhandel", "{a} Handelskontor", "{a} E-Commerce"), ("GmbH", "UG"),
           (2, 20), (150_000, 400_000), ("CYB", "BHV", "INH"),
           equipment=("Lager- und Versandsystem", "Etikettendrucker", "Server")),
)

# --------------------------------------------------------------------------- questionnaire

_CLAIMS: dict[str, tuple[str, ...]] = {
    "BHV": ("Wasserschaden beim Kunden nach Montagearbeiten",
            "Sturz einer Kundin im Geschäft, Personenschaden",
            "Beschädigung einer gemieteten Halle",
            "Leitungsschaden bei Erdarbeiten"),
    "INH": ("Einbruchdiebstahl, Kasse und Werkzeug entwendet",
            "Leitungswasserschaden im Lager",
            "Sturmschaden am Schaufenster",
            "Brand in der Küche"),
    "CYB": ("Phishing-Angriff, E-Mail-Konto kompromittiert",
            "Ransomware auf einem Arbeitsplatzrechner",
            "Fehlüberweisung nach gefälschter Chef-E-Mail"),
    "VSH": ("Fristversäumnis bei einem Einspruch",
            "Rechenfehler in einer Planung, Nachbesserungskosten",
            "Fehlerhafte Lohnabrechnung eines Mandanten"),
    "ELE": ("Überspannungsschaden am Kassensystem",
            "Sturzschaden an einem Notebook",
            "Wasserschaden an einer Steuerungselektronik"),
}
_FALLBACK_REASONS: dict[str, tuple[str, ...]] = {
    "BHV": ("Tätigkeit nicht im Tarif", "Manuelle Prüfung der Tätigkeitsbeschreibung erforderlich",
            "Mietsachschäden nur nach Prüfung versicherbar"),
    "INH": ("Betriebsart nicht im Tarif", "Betriebsunterbrechung nur nach Prüfung",
            "Manuelle Prüfung der Sicherungen erforderlich"),
    "CYB": ("Branche nur nach Prüfung versicherbar",
            "Manuelle Prüfung der IT-Sicherheit erforderlich"),
    "VSH": ("Tätigkeit nicht im Tarif", "Berufsgruppe nur nach Prüfung versicherbar"),
    "ELE": ("Gerätegruppe nicht im Tarif", "Manuelle Prüfung der Geräteliste erforderlich"),
}
_DOC_STEMS: dict[str, tuple[str, str]] = {
    "BHV": ("Betriebsbeschreibung", "Betriebsbeschreibung"),
    "INH": ("Inventarliste", "Inventarliste"),
    "CYB": ("IT-Sicherheitsangaben", "Angaben zur IT-Sicherheit"),
    "VSH": ("Taetigkeitsbeschreibung", "Tätigkeitsbeschreibung"),
    "ELE": ("Geraeteliste", "Geräteliste"),
}

Sections = dict[str, dict[str, str]]


def _eur(amount: int) -> str:
    """German currency format: 1.250.000 €."""
    return f"{amount:,}".replace(",", ".") + " €"


def _de_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


@dataclass
class _Holder:
    account_id: int
    name: str
    legal_form: str
    street: str
    postcode: str
    city: str
    founded_year: int
    employees: int
    revenue: int


@dataclass
class _Claim:
    year: int
    amount: int
    text: str


@dataclass
class _Risk:
    """The answers of one request plus what an insurer's rules would trip over."""

    answers: Sections
    flags: list[str]
    claims: list[_Claim]
    extra_sections: Sections  # content of the optional second document


def _claims(rng: random.Random, product: str, year: int) -> list[_Claim]:
    count = rng.choices((0, 1, 2), weights=(75, 19, 6))[0]
    return [
        _Claim(year - rng.randint(1, 5), rng.randrange(1_500, 45_000, 100),
               rng.choice(_CLAIMS[product]))
        for _ in range(count)
    ]


def _risk(rng: random.Random, product: str, trade: _Trade, holder: _Holder,
          start: date) -> _Risk:
    flags: list[str] = []
    extra: Sections = {}
    company: dict[str, str] = {
        "Tätigkeit": trade.activity,
        "Rechtsform": holder.legal_form,
        "Gründungsjahr": str(holder.founded_year),
        "Mitarbeiter": str(holder.employees),
        "Umsatz": _eur(holder.revenue),
    }
    answers: Sections = {"Betrieb": company}
    begin = _de_date(start)

    if product == "BHV":
        cover = rng.choice((3_000_000, 3_000_000, 5_000_000, 10_000_000))
        abroad = rng.random() < (0.5 if trade.trade == "Online-Händler" else 0.1)
        subcontract = rng.random() < 0.3
        company["Subunternehmer"] = "ja, ca. 10 % des Umsatzes" if subcontract else "nein"
        company["Lieferungen/Tätigkeiten in USA/Kanada"] = "ja" if abroad else "nein"
        answers["Versicherungsschutz"] = {
            "Deckungssumme": f"{_eur(cover)} pauschal für Personen-, Sach- und Vermögensschäden",
            "Selbstbeteiligung": _eur(rng.choice((0, 250, 500, 1_000))),
            "Mietsachschäden an Gebäuden": rng.choice(("mitversichert", "nicht gewünscht")),
            "Gewünschter Beginn": begin,
        }
        if holder.revenue > 4_000_000:
            flags.append("Umsatz über Zeichnungsgrenze")
        if cover >= 10_000_000:
            flags.append("Deckungssumme über Tarifgrenze")
        if abroad:
            flags.append("Export nach USA/Kanada nicht tarifierbar")
        extra["Betriebsbeschreibung"] = {
            "Tätigkeit": trade.activity,
            "Betriebsstätten": str(rng.randint(1, 3)),
            "Anteil Arbeiten beim Kunden": f"{rng.randrange(10, 90, 5)} %",
            "Subunternehmer": company["Subunternehmer"],
        }
    elif product == "INH":
        insured = rng.randrange(50_000, 650_000, 10_000)
        alarm = rng.random() < 0.45
        zone = rng.choices(("1", "2", "3"), weights=(60, 30, 10))[0]
        elementar = rng.random() < 0.6
        answers["Versicherungsort"] = {
            "Anschrift": f"{holder.street}, {holder.postcode} {holder.city}",
            "Gebäude": rng.choice(("Massivbau, harte Bedachung", "Stahlhalle, harte Bedachung",
                                   "Wohn- und Geschäftshaus, Erdgeschoss")),
            "ZÜRS-Zone": zone,
        }
        answers["Versicherungsschutz"] = {
            "Versicherungssumme": _eur(insured),
            "Versicherte Gefahren": "Feuer, Einbruchdiebstahl/Vandalismus, Leitungswasser, "
                                    "Sturm/Hagel",
            "Elementarschäden": "mitversichert" if elementar else "nicht gewünscht",
            "Betriebsunterbrechung": rng.choice(("mitversichert, Haftzeit 12 Monate",
                                                 "nicht gewünscht")),
            "Selbstbeteiligung": _eur(rng.choice((250, 500, 1_000))),
            "Gewünschter Beginn": begin,
        }
        answers["Sicherungen"] = {
            "Einbruchmeldeanlage": "VdS-anerkannt, Klasse B, aufgeschaltet" if alarm else "keine",
            "Türen": rng.choice(("Sicherheitsschlösser mit Querriegel", "Standardschlösser")),
            "Fenster": rng.choice(("abschließbare Griffe, Rollläden", "Gitter im Erdgeschoss",
                                   "keine besonderen Sicherungen")),
            "Wertbehältnis": rng.choice(("Tresor, VdS-Klasse I", "keines")),
        }
        if insured > 400_000:
            flags.append("Versicherungssumme über Zeichnungsgrenze")
        if not alarm and insured >= 150_000:
            flags.append("Sicherungen nicht ausreichend (keine Einbruchmeldeanlage)")
        if zone == "3" and elementar:
            flags.append("ZÜRS-Zone 3: Elementarschäden nicht tarifierbar")
        shares = (("Betriebseinrichtung", 45), ("Waren und Vorräte", 35),
                  ("Technische Ausstattung", 15), ("Sonstiges", 5))
        extra["Inventar"] = {label: _eur(insured * pct // 100) for label, pct in shares}
    elif product == "CYB":
        backups = rng.choice((
            ("täglich, verschlüsselt, zusätzlich offline aufbewahrt", True),
            ("täglich auf NAS im Firmennetz", False),
            ("wöchentlich in einen Cloud-Speicher", True),
        ))
        mfa = rng.choices(("für E-Mail, Fernzugriff und Admin-Konten", "nur für Fernzugriff (VPN)",
                           "nicht im Einsatz"), weights=(50, 30, 20))[0]
        patches = rng.choice(("automatisch, kritische Patches innerhalb 72 Stunden",
                              "monatlich manuell", "unregelmäßig"))
        old_os = rng.random() < 0.15
        insured = rng.choice((250_000, 500_000, 500_000, 1_000_000, 2_000_000))
        answers["IT-Sicherheit"] = {
            "Backups": backups[0],
            "MFA": mfa,
            "Virenschutz": rng.choice(("zentral verwaltete Endpoint-Protection",
                                       "Virenschutz des Betriebssystems")),
            "Updates/Patches": patches,
            "Betriebssysteme": ("teilweise Windows 8.1" if old_os
                                else "aktuell, im Herstellersupport"),
            "Firewall": "ja",
            "Mitarbeiterschulungen": rng.choice(("jährliche Awareness-Schulung", "keine")),
            "Anzahl Rechner": str(max(2, holder.employees + rng.randint(-1, 4))),
        }
        answers["Daten"] = {
            "Personenbezogene Datensätze": f"ca. {rng.choice((500, 2_000, 5_000, 20_000)):,}"
                                           .replace(",", "."),
            "Zahlungsdaten": "über Zahlungsdienstleister" if trade.trade == "Online-Händler"
                             else "keine",
        }
        answers["Versicherungsschutz"] = {
            "Versicherungssumme": _eur(insured),
            "Betriebsunterbrechung": "mitversichert, Haftzeit 6 Monate",
            "Selbstbeteiligung": _eur(rng.choice((1_000, 2_500, 5_000))),
            "Gewünschter Beginn": begin,
        }
        if mfa == "nicht im Einsatz":
            flags.append("Keine MFA im Einsatz")
        elif mfa.startswith("nur"):
            flags.append("MFA nicht für alle E-Mail-Konten")
        if not backups[1]:
            flags.append("Keine vom Netz getrennten Backups")
        if old_os:
            flags.append("Veraltete Betriebssysteme im Einsatz")
        if patches == "unregelmäßig":
            flags.append("Kein geregeltes Patchmanagement")
        if holder.revenue > 10_000_000:
            flags.append("Umsatz über Zeichnungsgrenze")
        if insured >= 2_000_000:
            flags.append("Versicherungssumme über Tarifgrenze")
        extra["IT-Sicherheit"] = dict(answers["IT-Sicherheit"])
    elif product == "VSH":
        company.pop("Umsatz")
        company["Berufsgruppe"] = trade.profession
        company["Honorarumsatz"] = _eur(holder.revenue)
        insured = rng.choice((250_000, 500_000, 1_000_000, 2_000_000))
        retro = rng.random() < 0.25
        answers["Tätigkeit"] = {
            "Schwerpunkte": trade.activity,
            "Berufsträger": str(max(1, holder.employees // 4)),
            "Mandate im Ausland": rng.choice(("keine", "keine", "gelegentlich, EU")),
        }
        answers["Versicherungsschutz"] = {
            "Versicherungssumme je Verstoß": _eur(insured),
            "Jahreshöchstleistung": rng.choice(("2-fach maximiert", "3-fach maximiert")),
            "Selbstbeteiligung": _eur(rng.choice((1_000, 2_500, 5_000))),
            "Rückwärtsdeckung": "2 Jahre" if retro else "nicht gewünscht",
            "Gewünschter Beginn": begin,
        }
        if holder.revenue > 2_000_000:
            flags.append("Honorarumsatz über Zeichnungsgrenze")
        if insured >= 2_000_000:
            flags.append("Versicherungssumme über Tarifgrenze")
        if trade.trade == "IT-Dienstleister":
            flags.append("Tätigkeit nicht im Tarif (IT-Dienstleistungen)")
        if retro:
            flags.append("Rückwärtsdeckung nur nach Prüfung")
        extra["Tätigkeit"] = dict(answers["Tätigkeit"])
    else:  # ELE
        insured = rng.randrange(20_000, 160_000, 5_000)
        age = rng.randint(1, 9)
        maintenance = rng.random() < 0.6
        answers["Versicherungsschutz"] = {
            "Versicherungssumme": _eur(insured),
            "Versicherte Geräte": ", ".join(trade.equipment),
            "Mobile Geräte mitversichert": rng.choice(("ja", "nein")),
            "Selbstbeteiligung": _eur(rng.choice((150, 250, 500))),
            "Gewünschter Beginn": begin,
        }
        answers["Geräte"] = {
            "Durchschnittsalter": f"{age} Jahre",
            "Wartungsvertrag": "ja" if maintenance else "nein",
        }
        if age > 5:
            flags.append("Geräte älter als 5 Jahre")
        if insured > 100_000:
            flags.append("Versicherungssumme über Zeichnungsgrenze")
        if not maintenance:
            flags.append("Kein Wartungsvertrag")
        per_item = insured // max(1, len(trade.equipment))
        extra["Geräte"] = {item: _eur(per_item) for item in trade.equipment}

    claims = _claims(rng, product, start.year)
    history: dict[str, str] = {
        "Schäden in den letzten 5 Jahren": str(len(claims)) if claims else "keine",
    }
    for i, claim in enumerate(sorted(claims, key=lambda c: c.year), start=1):
        history[f"Schaden {i}"] = f"{claim.year}: {claim.text}, {_eur(claim.amount)}"
    answers["Vorschäden"] = history
    if claims:
        flags.append("Vorschäden in den letzten 5 Jahren")
    prior = rng.choices(("keine", "Versicherungsnehmer", "Versicherer"), weights=(55, 35, 10))[0]
    answers["Vorversicherung"] = (
        {"Vorvertrag": "keiner"} if prior == "keine"
        else {"Vorvertrag": "bestehend", "Gekündigt durch": prior}
    )
    if prior == "Versicherer":
        flags.append("Vorvertrag vom Versicherer gekündigt")
    return _Risk(answers=answers, flags=flags, claims=claims, extra_sections=extra)


# --------------------------------------------------------------------------- PDFs


class _DemoPdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.set_text_color(120)
        self.cell(0, 5, f"Fiktive Demodaten – Tenderdesk · Seite {self.page_no()}/{{nb}}",
                  align="C")


def _pdf_safe(text: str) -> str:
    """Core PDF fonts cover Windows-1252 only (umlauts, €, „“ are fine)."""
    return text.encode("cp1252", "replace").decode("cp1252")


def _kv_table(pdf: FPDF, rows: Iterable[tuple[str, str]]) -> None:
    with pdf.table(col_widths=(34, 66), first_row_as_headings=False, text_align="LEFT",
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES, line_height=4.2,
                   padding=0.8) as table:
        for label, value in rows:
            row = table.row()
            row.cell(_pdf_safe(label))
            row.cell(_pdf_safe(value))


def render_pdf(title: str, created_at: datetime, meta: Sequence[tuple[str, str]],
               sections: Mapping[str, Mapping[str, str]]) -> bytes:
    """A small A4 document: a title, a block of request data, then one table per section.

    The creation date is fixed to ``created_at`` so that equal input gives equal bytes.
    """
    pdf = _DemoPdf(format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_creation_date(created_at)
    pdf.set_title(_pdf_safe(title))
    pdf.set_creator("Tenderdesk (Demodaten)")
    pdf.set_margins(18, 15, 18)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 8, _pdf_safe(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font("Helvetica", size=8.5)
    _kv_table(pdf, meta)
    for heading, rows in sections.items():
        if pdf.will_page_break(16):
            pdf.add_page()  # keep a heading together with its first rows
        pdf.ln(2.5)
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.cell(0, 6, _pdf_safe(heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=8.5)
        _kv_table(pdf, rows.items())
    return bytes(pdf.output())


# --------------------------------------------------------------------------- planning


@dataclass
class _BrokerRef:
    id: int
    spec: _BrokerSpec
    user_id: int | None


@dataclass
class _AccountRef:
    id: int
    brokers: list[_BrokerRef]
    backoffice_ids: list[int]
    cities: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass
class _Catalogue:
    product_ids: dict[str, int]
    product_names: dict[str, str]
    covering: dict[str, list[int]]  # product code -> insurers with a tender address
    reachable: set[int]


@dataclass
class _DocPlan:
    stem: str  # file name stem, ASCII
    title: str
    sections: Sections
    pool_key: tuple[str, str]


@dataclass
class _RequestPlan:
    account: _AccountRef
    broker: _BrokerRef
    holder_index: int
    product: str
    trade: _Trade
    created_at: datetime
    risk: _Risk
    reasons: list[tuple[int, str]]
    docs: list[_DocPlan]
    assignee_id: int | None = None
    self_handled: bool = False
    number: str = ""
    id: int = 0
    holder_used: set[str] = field(default_factory=set)


def _pick_trade(rng: random.Random, product: str) -> _Trade:
    return rng.choice([t for t in _TRADES if product in t.products])


def _new_holder(rng: random.Random, trade: _Trade, account: _AccountRef, now: datetime) -> _Holder:
    a, b = rng.sample(_SURNAMES, 2)
    city, postcodes = rng.choice(account.cities)
    employees = rng.randint(*trade.employees)
    revenue = employees * rng.randint(*trade.revenue_per_employee)
    return _Holder(
        account_id=account.id,
        name=rng.choice(trade.names).format(a=a, b=b),
        legal_form=rng.choice(trade.legal_forms),
        street=f"{rng.choice(_STREETS)} {rng.randint(1, 140)}{rng.choice(('', '', '', 'a', 'b'))}",
        postcode=rng.choice(postcodes),
        city=city,
        founded_year=now.year - rng.randint(1, 45),
        employees=employees,
        revenue=round(revenue, -4),
    )


def _reasons(rng: random.Random, cat: _Catalogue, product: str,
             flags: list[str]) -> list[tuple[int, str]]:
    candidates = cat.covering[product]
    k = rng.randint(1, min(4, len(candidates)))
    chosen = rng.sample(candidates, k)
    # Each insurer's rules trip over something else first, so spread the reasons.
    own = rng.sample(flags, len(flags))
    out: list[tuple[int, str]] = []
    for n, insurer_id in enumerate(chosen):
        if own and rng.random() < 0.85:
            reason = own[n % len(own)]
        else:
            reason = rng.choice(_FALLBACK_REASONS[product])
        out.append((insurer_id, reason))
    return out


def _docs(rng: random.Random, product: str, risk: _Risk) -> list[_DocPlan]:
    docs = [_DocPlan("Risikofragebogen", "Risikofragebogen", risk.answers,
                     ("Risikofragebogen", product))]
    if risk.claims:
        sections: Sections = {
            f"Schaden {i}": {
                "Jahr": str(c.year), "Hergang": c.text, "Schadenaufwand": _eur(c.amount),
                "Status": "abgeschlossen",
            }
            for i, c in enumerate(sorted(risk.claims, key=lambda c: c.year), start=1)
        }
        docs.append(_DocPlan("Vorschadenaufstellung", "Vorschadenaufstellung", sections,
                             ("Vorschadenaufstellung", product)))
    elif rng.random() < 0.25:
        stem, title = _DOC_STEMS[product]
        docs.append(_DocPlan(stem, title, risk.extra_sections, (stem, product)))
    return docs


def _plan_requests(rng: random.Random, cat: _Catalogue, account: _AccountRef, count: int,
                   now: datetime, holders: list[_Holder], *, self_handled: int,
                   assign_share: float) -> list[_RequestPlan]:
    """Plan ``count`` requests of one account, oldest first."""
    codes = [code for code, _ in PRODUCTS]
    weights = [_PRODUCT_WEIGHTS[c] for c in codes]
    broker_weights = [b.spec.weight for b in account.brokers]
    ages = sorted((rng.uniform(0, 30 * DAY_S) for _ in range(count)), reverse=True)
    plans: list[_RequestPlan] = []
    for i, age in enumerate(ages):
        created_at = (now - timedelta(seconds=age)).replace(microsecond=0)
        earlier = rng.choice(plans) if plans and i >= len(codes) else None
        reuse = earlier is not None and rng.random() < 0.12
        free = ([c for c in earlier.trade.products if c not in earlier.holder_used]
                if earlier is not None else [])
        if earlier is not None and reuse and free:
            # The same business asks for a second line (e.g. BHV, then Cyber).
            product, trade = rng.choice(free), earlier.trade
            broker, holder_index, used = earlier.broker, earlier.holder_index, earlier.holder_used
        else:
            product = codes[i] if i < len(codes) else rng.choices(codes, weights)[0]
            trade = _pick_trade(rng, product)
            broker = rng.choices(account.brokers, broker_weights)[0]
            holders.append(_new_holder(rng, trade, account, now))
            holder_index, used = len(holders) - 1, set()
        used.add(product)
        start = (created_at.date().replace(day=1) + timedelta(days=32)).replace(day=1)
        risk = _risk(rng, product, trade, holders[holder_index], start)
        plans.append(_RequestPlan(
            account=account, broker=broker, holder_index=holder_index, product=product,
            trade=trade, created_at=created_at, risk=risk,
            reasons=_reasons(rng, cat, product, risk.flags), docs=_docs(rng, product, risk),
            holder_used=used,
        ))
    for plan in rng.sample(plans, min(self_handled, len(plans))):
        plan.self_handled = True
    staff_weights = [3] + [2] * (len(account.backoffice_ids) - 1)  # the first one a bit busier
    for plan in plans:
        if not plan.self_handled and account.backoffice_ids and rng.random() < assign_share:
            plan.assignee_id = rng.choices(account.backoffice_ids, staff_weights)[0]
    return plans


# --------------------------------------------------------------------------- writing


def _table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


def _insert_returning_ids(conn: Connection, model: type[SQLModel],
                          rows: list[dict[str, Any]]) -> list[int]:
    """Multi-row INSERT ... RETURNING id, ids in the order of ``rows``."""
    if not rows:
        return []
    table = _table(model)
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(i) for i in conn.execute(stmt, rows).scalars()]


def _insert(conn: Connection, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(_table(model)), rows)


def _ensure_empty(session: Session) -> None:
    for model in (Account, User, Product, Insurer):
        if session.exec(select(model)).first() is not None:
            raise SeedError(
                f"database is not empty (table {model.__tablename__!s} has rows); "
                "seed_demo only fills a freshly migrated database"
            )


def _seed_catalogue(session: Session, rng: random.Random) -> _Catalogue:
    products = {code: Product(code=code, name=name) for code, name in PRODUCTS}
    insurers = [Insurer(name=s.name, short_name=s.short_name, reachable=s.reachable)
                for s in _INSURERS]
    session.add_all([*products.values(), *insurers])
    session.flush()
    covering: dict[str, list[int]] = {code: [] for code in products}
    contacts: list[InsurerContact] = []
    for spec, insurer in zip(_INSURERS, insurers, strict=True):
        assert insurer.id is not None
        for code in spec.products.split():
            product_id = products[code].id
            assert product_id is not None
            person = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}"
            contacts.append(InsurerContact(
                insurer_id=insurer.id, product_id=product_id,
                name=f"{person} (Underwriting {_DEPARTMENT[code]})",
                email=f"{spec.mailbox.format(code=code.lower())}@{spec.domain}", locale=spec.locale,
            ))
            covering[code].append(insurer.id)
    session.add_all(contacts)
    product_ids = {code: p.id for code, p in products.items() if p.id is not None}
    reachable = {i.id for i in insurers if i.reachable and i.id is not None}
    return _Catalogue(product_ids=product_ids, product_names=dict(PRODUCTS), covering=covering,
                      reachable=reachable)


def _seed_account(session: Session, *, name: str, need_release: bool, fast_timers: bool,
                  phone: str, brokers: Sequence[_BrokerSpec], users: Sequence[_UserSpec],
                  cities: tuple[tuple[str, tuple[str, ...]], ...],
                  logins: list[tuple[str, str, str]]) -> _AccountRef:
    if fast_timers:
        offsets, deadline, validity = [60.0, 120.0], 300.0, 600.0
    else:
        offsets, deadline, validity = [3 * DAY_S, 7 * DAY_S], 14 * DAY_S, 60 * DAY_S
    account = Account(name=name, offers_need_release=need_release, reminder_offsets_s=offsets,
                      response_deadline_s=deadline, offer_validity_s=validity,
                      contact_phone=phone)
    session.add(account)
    session.flush()
    assert account.id is not None
    broker_rows = [Broker(account_id=account.id, name=b.name, company=b.company, email=b.email,
                          phone=b.phone, city=b.city) for b in brokers]
    session.add_all(broker_rows)
    session.flush()
    user_rows: list[User] = []
    for u in users:
        broker_id = broker_rows[u.broker_index].id if u.broker_index is not None else None
        user_rows.append(User(account_id=account.id, email=u.email, name=u.name, role=u.role,
                              broker_id=broker_id, password_hash=hash_password(u.password)))
        logins.append((u.email, u.password, u.role.value))
    session.add_all(user_rows)
    session.flush()
    by_broker = {u.broker_id: u.id for u in user_rows if u.broker_id is not None}
    refs = [_BrokerRef(id=b.id, spec=spec, user_id=by_broker.get(b.id))
            for b, spec in zip(broker_rows, brokers, strict=True) if b.id is not None]
    staff = [u.id for u in user_rows if u.role == Role.BACKOFFICE and u.id is not None]
    return _AccountRef(id=account.id, brokers=refs, backoffice_ids=staff, cities=cities)


def _seed_recommendations(session: Session, rng: random.Random, cat: _Catalogue,
                          account_id: int) -> None:
    rows: list[Recommendation] = []
    for code, product_id in cat.product_ids.items():
        candidates = [i for i in cat.covering[code] if i in cat.reachable]
        for insurer_id in rng.sample(candidates, min(len(candidates), rng.randint(3, 4))):
            rows.append(Recommendation(account_id=account_id, product_id=product_id,
                                       insurer_id=insurer_id))
    session.add_all(rows)


@dataclass
class _StoredFile:
    storage_key: str
    sha256: str
    size: int


def _document_rows(settings: Settings, cat: _Catalogue, plans: list[_RequestPlan],
                   holders: list[_Holder]) -> list[dict[str, Any]]:
    """Render (within :data:`PDF_BUDGET`) and store the PDFs; return Document rows."""
    budget = PDF_BUDGET
    pool: dict[tuple[str, str], list[_StoredFile]] = {}
    rows: list[dict[str, Any]] = []
    for plan in plans:
        holder = holders[plan.holder_index]
        for n, doc in enumerate(plan.docs):
            available = pool.get(doc.pool_key, [])
            stored: _StoredFile | None = None
            if budget > 0:
                meta = [
                    ("Anfrage-Nr.", plan.number),
                    ("Eingang", plan.created_at.strftime("%d.%m.%Y %H:%M")),
                    ("Produkt", cat.product_names[plan.product]),
                    ("Gewerbe", plan.trade.trade),
                    ("Versicherungsnehmer", f"{holder.name} {holder.legal_form}"),
                    ("Anschrift", f"{holder.street}, {holder.postcode} {holder.city}"),
                    ("Vermittler", f"{plan.broker.spec.company} ({plan.broker.spec.name})"),
                ]
                data = render_pdf(f"{doc.title} {plan.number}", plan.created_at, meta,
                                  doc.sections)
                key, sha = store_bytes(settings, data)
                stored = _StoredFile(key, sha, len(data))
                pool.setdefault(doc.pool_key, []).append(stored)
                budget -= 1
            elif available:
                stored = available[plan.id % len(available)]
            if stored is None:
                continue  # an optional document of a kind never rendered: leave it out
            rows.append({
                "request_id": plan.id,
                "tender_id": None,
                "kind": DocumentKind.REQUEST,
                "filename": f"{doc.stem}_{plan.number}.pdf",
                "content_type": PDF_CONTENT_TYPE,
                "size_bytes": stored.size,
                "sha256": stored.sha256,
                "storage_key": stored.storage_key,
                "uploaded_by": Party.BROKER,
                "uploaded_by_user_id": plan.broker.user_id,
                "created_at": plan.created_at + timedelta(minutes=2 + n),
            })
    return rows


def _write_requests(session: Session, settings: Settings, cat: _Catalogue,
                    plans: list[_RequestPlan], holders: list[_Holder]) -> tuple[int, int]:
    conn = session.connection()
    holder_ids = _insert_returning_ids(conn, Policyholder, [
        {
            "account_id": h.account_id, "name": h.name, "legal_form": h.legal_form,
            "street": h.street, "postcode": h.postcode, "city": h.city,
            "founded_year": h.founded_year, "employees": h.employees,
            "annual_revenue_eur": h.revenue,
        }
        for h in holders
    ])
    request_ids = _insert_returning_ids(conn, Request, [
        {
            "number": p.number, "account_id": p.account.id, "broker_id": p.broker.id,
            "policyholder_id": holder_ids[p.holder_index], "product_id": cat.product_ids[p.product],
            "trade": p.trade.trade, "status": RequestStatus.OPEN, "assignee_id": p.assignee_id,
            "self_handled": p.self_handled, "answers": p.risk.answers,
            "created_at": p.created_at,
            "updated_at": p.created_at + timedelta(minutes=5),
        }
        for p in plans
    ])
    for plan, request_id in zip(plans, request_ids, strict=True):
        plan.id = request_id
    reasons = [
        {"request_id": p.id, "insurer_id": insurer_id, "reason": reason}
        for p in plans for insurer_id, reason in p.reasons
    ]
    _insert(conn, ReferralReason, reasons)
    documents = _document_rows(settings, cat, plans, holders)
    _insert(conn, Document, documents)
    return len(reasons), len(documents)


def seed_demo(engine: Engine, settings: Settings, *, requests: int = 30,
              fast_timers: bool = False, seed: int = DEFAULT_SEED,
              now: datetime | None = None) -> list[tuple[str, str, str]]:
    """Fill an empty, migrated database with demo data; return the logins
    as ``(email, password, role)``.

    ``requests`` open requests go to the main account (two more to the second
    account). ``fast_timers`` shortens reminders, deadline and offer validity
    to minutes so a demo shows timers firing. ``seed`` and ``now`` (default:
    the current time) fix the output. Raises :class:`SeedError` if the
    database already holds data.
    """
    if requests < 0:
        raise ValueError("requests must not be negative")
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    logins: list[tuple[str, str, str]] = []
    with session_scope(engine) as session:
        _ensure_empty(session)
        cat = _seed_catalogue(session, rng)
        main = _seed_account(session, name=MAIN_ACCOUNT_NAME, need_release=True,
                             fast_timers=fast_timers, phone="040 66969 100",
                             brokers=_MAIN_BROKERS, users=_MAIN_USERS, cities=_CITIES_NORTH,
                             logins=logins)
        second = _seed_account(session, name=SECOND_ACCOUNT_NAME, need_release=False,
                               fast_timers=fast_timers, phone="089 99998 200",
                               brokers=(_SECOND_BROKER,), users=_SECOND_USERS,
                               cities=_CITIES_SOUTH, logins=logins)
        _seed_recommendations(session, rng, cat, main.id)
        session.flush()

        holders: list[_Holder] = []
        plans = _plan_requests(rng, cat, main, requests, now, holders,
                               self_handled=max(2, round(requests / 15)) if requests else 0,
                               assign_share=0.35)
        plans += _plan_requests(rng, cat, second, 2, now, holders, self_handled=0,
                                assign_share=0.5)
        for seq, plan in enumerate(plans, start=1):
            plan.number = f"{REQUEST_NUMBER_PREFIX}-{now.year}-{seq:05d}"
        n_reasons, n_docs = _write_requests(session, settings, cat, plans, holders)
    log.info(
        "seeded demo data: %d requests, %d policyholders, %d referral reasons, %d documents",
        len(plans), len(holders), n_reasons, n_docs,
    )
    return logins


__all__ = [
    "ADMIN_PASSWORD", "DEFAULT_SEED", "DEMO_PASSWORD", "MAIN_ACCOUNT_NAME", "PDF_BUDGET",
    "PRODUCTS", "SECOND_ACCOUNT_NAME", "SeedError", "render_pdf", "seed_demo",
]
