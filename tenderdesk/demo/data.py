"""Demo data tables: products, insurers, people, places, trades and the
questionnaire texts the seed draws from. Fictional throughout."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tenderdesk.db.models import (
    Role,
)

log = logging.getLogger(__name__)


DAY_S = 86400.0
DEMO_PASSWORD = "Elbe-Demo-2026!"
ADMIN_PASSWORD = "Elbe-Admin-2026!"


# --------------------------------------------------------------------------- catalogue

PRODUCTS: tuple[tuple[str, str], ...] = (
    ("BHV", "Betriebshaftpflicht"),
    ("INH", "Inhaltsversicherung"),
    ("CYB", "Cyberversicherung"),
    ("VSH", "Vermögensschadenhaftpflicht"),
    ("ELE", "Elektronikversicherung"),
)
PRODUCT_WEIGHTS: dict[str, int] = {"BHV": 34, "INH": 20, "CYB": 24, "VSH": 12, "ELE": 10}
DEPARTMENT: dict[str, str] = {
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


INSURERS: tuple[_InsurerSpec, ...] = (
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

FIRST_NAMES = (
    "Anke", "Bernd", "Claudia", "Dennis", "Elke", "Florian", "Gesa", "Henning", "Ines", "Jörg",
    "Karin", "Lars", "Maren", "Nils", "Ole", "Pia", "Rieke", "Sönke", "Tanja", "Uwe", "Vanessa",
    "Wiebke", "Yannick", "Svenja", "Malte", "Birte", "Kai", "Heike", "Torben", "Frauke",
)
SURNAMES = (
    "Albrecht", "Bartels", "Behrens", "Bock", "Carstens", "Dietrich", "Ehlers", "Feddersen",
    "Gerdes", "Hansen", "Harms", "Hinrichs", "Jacobsen", "Kröger", "Lammers", "Lüdemann",
    "Martens", "Meyerhoff", "Nissen", "Oltmanns", "Paulsen", "Reimers", "Rohwer", "Schröder",
    "Siemers", "Stüben", "Thiessen", "Tiedemann", "Vosgerau", "Wendt", "Wittrock", "Ahrens",
    "Brüning", "Claußen", "Dreyer", "Evers", "Grotjahn", "Heitmann", "Ketelsen", "Mahnke",
)
STREETS = (
    "Lindenallee", "Am Mühlenteich", "Hafenkamp", "Gewerbering", "Kastanienweg",
    "Industriestraße", "Birkenhof", "An der Ziegelei", "Deichweg", "Handwerkerhof", "Ahornring",
    "Kiebitzweg", "Fährstraße", "Kornblumenweg", "Heidkamp", "Lotsenweg", "Im Gewerbepark",
    "Moorweg", "Sandtorstieg", "Möwenstraße", "Reepschlägerweg", "Speicherstraße",
    "Am Bahnhof", "Eschenweg", "Ostertor", "Werftstraße",
)
CITIES_NORTH: tuple[tuple[str, tuple[str, ...]], ...] = (
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
CITIES_SOUTH: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("München", ("80331", "81369")),
    ("Augsburg", ("86150",)),
)
#: The Bundesland of each demo city: whose public holidays the tenders skip.
CITY_STATES: dict[str, str] = {
    "Hamburg": "HH", "Bremen": "HB", "Kiel": "SH", "Lübeck": "SH", "Hannover": "NI", "Rostock": "MV",
    "Oldenburg": "NI", "Lüneburg": "NI", "Flensburg": "SH", "Osnabrück": "NI", "Schwerin": "MV",
    "München": "BY", "Augsburg": "BY",
}


@dataclass(frozen=True)
class BrokerSpec:
    name: str
    company: str
    city: str
    email: str
    phone: str
    weight: int


MAIN_BROKERS: tuple[BrokerSpec, ...] = (
    BrokerSpec("Thomas Meier", "Meier & Partner Versicherungsmakler GmbH", "Hamburg",
                "thomas.meier@example.com", "040 66969 101", 6),
    BrokerSpec("Sabine Wolff", "Wolff Finanz- und Versicherungskontor e.K.", "Bremen",
                "sabine.wolff@example.com", "040 66969 102", 5),
    BrokerSpec("Jan Petersen", "Petersen Assekuranzmakler e.K.", "Kiel",
                "jan.petersen@example.com", "040 66969 103", 3),
    BrokerSpec("Miriam Özdemir", "Özdemir Versicherungsservice GmbH", "Hannover",
                "miriam.oezdemir@example.com", "040 66969 104", 3),
    BrokerSpec("Frank Hollmann", "Hollmann & Söhne Versicherungsbüro OHG", "Lübeck",
                "frank.hollmann@example.com", "040 66969 105", 2),
    BrokerSpec("Katharina Brandt", "Brandt Gewerbeversicherungen GmbH", "Oldenburg",
                "katharina.brandt@example.com", "040 66969 106", 2),
    BrokerSpec("Dirk Albers", "Albers Maklerkontor GmbH", "Rostock",
                "dirk.albers@example.com", "040 66969 107", 2),
    BrokerSpec("Nicole Janssen", "Janssen Risikoberatung GmbH", "Osnabrück",
                "nicole.janssen@example.com", "040 66969 108", 1),
)
SECOND_BROKER = BrokerSpec("Florian Huber", "Huber Versicherungsmakler GmbH", "München",
                             "florian.huber@example.com", "089 99998 201", 1)


@dataclass(frozen=True)
class UserSpec:
    email: str
    name: str
    role: Role
    password: str
    broker_index: int | None = None  # index into the account's broker list


MAIN_USERS: tuple[UserSpec, ...] = (
    UserSpec("anna.berger@tenderdesk.example", "Anna Berger", Role.BACKOFFICE, DEMO_PASSWORD),
    UserSpec("jonas.keller@tenderdesk.example", "Jonas Keller", Role.BACKOFFICE, DEMO_PASSWORD),
    UserSpec("lea.hoffmann@tenderdesk.example", "Lea Hoffmann", Role.BACKOFFICE, DEMO_PASSWORD),
    UserSpec("admin@tenderdesk.example", "Petra Lorenz", Role.ADMIN, ADMIN_PASSWORD),
    UserSpec(MAIN_BROKERS[0].email, MAIN_BROKERS[0].name, Role.BROKER, DEMO_PASSWORD, 0),
    UserSpec(MAIN_BROKERS[1].email, MAIN_BROKERS[1].name, Role.BROKER, DEMO_PASSWORD, 1),
)
SECOND_USERS: tuple[UserSpec, ...] = (
    UserSpec("lena.gruber@tenderdesk.example", "Lena Gruber", Role.BACKOFFICE, DEMO_PASSWORD),
)

# --------------------------------------------------------------------------- trades


@dataclass(frozen=True)
class Trade:
    trade: str  # Gewerbe, as shown in the request list
    activity: str  # Tätigkeit, as the broker described it
    names: tuple[str, ...]  # {a} and {b} are surnames
    legal_forms: tuple[str, ...]
    employees: tuple[int, int]
    revenue_per_employee: tuple[int, int]
    products: tuple[str, ...]
    profession: str = ""  # Berufsgruppe for the VSH questionnaire
    equipment: tuple[str, ...] = ()  # insured electronics for ELE / contents lists


TRADES: tuple[Trade, ...] = (
    Trade("Elektroinstallateur",
           "Elektroinstallation in Wohn- und Gewerbebauten, Montage von Photovoltaikanlagen",
           ("Elektro {a}", "{a} Elektrotechnik", "Elektro {a} & {b}"), ("GmbH", "e.K.", "GmbH"),
           (3, 25), (85_000, 140_000), ("BHV", "INH", "ELE", "CYB"),
           equipment=("Messgeräte und Prüftechnik", "Laptops und Tablets", "Thermografiekamera")),
    Trade("Bäckerei",
           "Herstellung und Verkauf von Backwaren, zwei Filialen mit Café-Bereich",
           ("Bäckerei {a}", "Backstube {a}", "Landbäckerei {a}"), ("e.K.", "GmbH"),
           (4, 40), (45_000, 75_000), ("BHV", "INH", "ELE"),
           equipment=("Backöfen mit Steuerelektronik", "Kassensysteme", "Kühlzellen-Steuerung")),
    Trade("IT-Dienstleister",
           "Softwareentwicklung, IT-Administration und Hosting für mittelständische Kunden",
           ("{a} IT-Services", "{a} & {b} Systemhaus", "Netzwerkstatt {a}"), ("GmbH", "UG"),
           (2, 30), (90_000, 160_000), ("CYB", "VSH", "BHV"),
           profession="IT-Dienstleistungen / Softwareentwicklung",
           equipment=("Server und Storage", "Notebooks", "Netzwerktechnik")),
    Trade("Tischlerei",
           "Möbel- und Innenausbau, Montage von Fenstern und Türen",
           ("Tischlerei {a}", "{a} Holzwerkstatt", "Tischlerei {a} & {b}"), ("e.K.", "GmbH", "GbR"),
           (2, 15), (70_000, 110_000), ("BHV", "INH", "ELE"),
           equipment=("CNC-Steuerung", "Plattensäge mit Elektronik", "CAD-Arbeitsplätze")),
    Trade("Friseursalon",
           "Damen- und Herrenfriseur, Kosmetikbehandlungen",
           ("Friseursalon {a}", "Salon {a}", "Haarstudio {a}"), ("e.K.", "GbR", "UG"),
           (2, 10), (35_000, 60_000), ("BHV", "INH"),
           equipment=("Kassensystem", "Trockenhauben")),
    Trade("Ingenieurbüro",
           "Tragwerksplanung und Bauüberwachung im Hochbau",
           ("Ingenieurbüro {a}", "{a} & {b} Beratende Ingenieure", "Ingenieurbüro {a} & {b}"),
           ("GmbH", "GbR", "PartG mbB"),
           (2, 20), (90_000, 150_000), ("VSH", "BHV", "CYB", "ELE"),
           profession="Beratende Ingenieure (Tragwerksplanung)",
           equipment=("CAD-Workstations", "Großformatplotter", "Vermessungsgeräte")),
    Trade("Gaststätte",
           "Restaurant mit 80 Sitzplätzen, Außengastronomie und Catering",
           ("Gaststätte {a}", "Landgasthof {a}", "Restaurant {a}"), ("e.K.", "GmbH", "GbR"),
           (4, 30), (40_000, 70_000), ("BHV", "INH", "ELE"),
           equipment=("Kassen- und Bestellsystem", "Kombidämpfer", "Kühltechnik")),
    Trade("Steuerberater",
           "Steuerberatung, Lohn- und Finanzbuchhaltung, Jahresabschlüsse",
           ("Steuerberatung {a}", "{a} & {b} Steuerberater", "Kanzlei {a}"),
           ("PartG mbB", "GbR", "GmbH"),
           (3, 25), (80_000, 130_000), ("VSH", "CYB", "INH"),
           profession="Steuerberater",
           equipment=("Arbeitsplatzrechner", "Scanner und Drucker", "Server")),
    Trade("Kfz-Werkstatt",
           "Kfz-Reparatur und Wartung aller Marken, Reifenservice, HU-Vorbereitung",
           ("Autoservice {a}", "Kfz-Technik {a}", "Autohaus {a}"), ("e.K.", "GmbH"),
           (3, 20), (80_000, 130_000), ("BHV", "INH", "ELE"),
           equipment=("Diagnosegeräte", "Achsvermessung", "Hebebühnen-Steuerung")),
    Trade("Online-Händler",
           "Online-Versandhandel für Haushaltswaren über eigenen Shop und Marktplätze",
           ("{a} Versandhandel", "{a} Handelskontor", "{a} E-Commerce"), ("GmbH", "UG"),
           (2, 20), (150_000, 400_000), ("CYB", "BHV", "INH"),
           equipment=("Lager- und Versandsystem", "Etikettendrucker", "Server")),
)

# --------------------------------------------------------------------------- questionnaire

CLAIMS: dict[str, tuple[str, ...]] = {
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
FALLBACK_REASONS: dict[str, tuple[str, ...]] = {
    "BHV": ("Tätigkeit nicht im Tarif", "Manuelle Prüfung der Tätigkeitsbeschreibung erforderlich",
            "Mietsachschäden nur nach Prüfung versicherbar"),
    "INH": ("Betriebsart nicht im Tarif", "Betriebsunterbrechung nur nach Prüfung",
            "Manuelle Prüfung der Sicherungen erforderlich"),
    "CYB": ("Branche nur nach Prüfung versicherbar",
            "Manuelle Prüfung der IT-Sicherheit erforderlich"),
    "VSH": ("Tätigkeit nicht im Tarif", "Berufsgruppe nur nach Prüfung versicherbar"),
    "ELE": ("Gerätegruppe nicht im Tarif", "Manuelle Prüfung der Geräteliste erforderlich"),
}
DOC_STEMS: dict[str, tuple[str, str]] = {
    "BHV": ("Betriebsbeschreibung", "Betriebsbeschreibung"),
    "INH": ("Inventarliste", "Inventarliste"),
    "CYB": ("IT-Sicherheitsangaben", "Angaben zur IT-Sicherheit"),
    "VSH": ("Taetigkeitsbeschreibung", "Tätigkeitsbeschreibung"),
    "ELE": ("Geraeteliste", "Geräteliste"),
}

Sections = dict[str, dict[str, str]]

