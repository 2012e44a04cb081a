"""A demo request's risk: the policyholder, claims history and the
questionnaire answers, drawn from :mod:`tenderdesk.demo.data`."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date

from tenderdesk.demo.data import CLAIMS, Sections, Trade

log = logging.getLogger(__name__)


def eur(amount: int) -> str:
    """German currency format: 1.250.000 €."""
    return f"{amount:,}".replace(",", ".") + " €"


def _de_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


@dataclass
class Holder:
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
class Risk:
    """The answers of one request plus what an insurer's rules would trip over."""

    answers: Sections
    flags: list[str]
    claims: list[_Claim]
    extra_sections: Sections  # content of the optional second document


def _claims(rng: random.Random, product: str, year: int) -> list[_Claim]:
    count = rng.choices((0, 1, 2), weights=(75, 19, 6))[0]
    return [
        _Claim(year - rng.randint(1, 5), rng.randrange(1_500, 45_000, 100),
               rng.choice(CLAIMS[product]))
        for _ in range(count)
    ]


def draw_risk(rng: random.Random, product: str, trade: Trade, holder: Holder,
          start: date) -> Risk:
    flags: list[str] = []
    extra: Sections = {}
    company: dict[str, str] = {
        "Tätigkeit": trade.activity,
        "Rechtsform": holder.legal_form,
        "Gründungsjahr": str(holder.founded_year),
        "Mitarbeiter": str(holder.employees),
        "Umsatz": eur(holder.revenue),
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
            "Deckungssumme": f"{eur(cover)} pauschal für Personen-, Sach- und Vermögensschäden",
            "Selbstbeteiligung": eur(rng.choice((0, 250, 500, 1_000))),
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
            "Versicherungssumme": eur(insured),
            "Versicherte Gefahren": "Feuer, Einbruchdiebstahl/Vandalismus, Leitungswasser, "
                                    "Sturm/Hagel",
            "Elementarschäden": "mitversichert" if elementar else "nicht gewünscht",
            "Betriebsunterbrechung": rng.choice(("mitversichert, Haftzeit 12 Monate",
                                                 "nicht gewünscht")),
            "Selbstbeteiligung": eur(rng.choice((250, 500, 1_000))),
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
        extra["Inventar"] = {label: eur(insured * pct // 100) for label, pct in shares}
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
            "Versicherungssumme": eur(insured),
            "Betriebsunterbrechung": "mitversichert, Haftzeit 6 Monate",
            "Selbstbeteiligung": eur(rng.choice((1_000, 2_500, 5_000))),
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
        company["Honorarumsatz"] = eur(holder.revenue)
        insured = rng.choice((250_000, 500_000, 1_000_000, 2_000_000))
        retro = rng.random() < 0.25
        answers["Tätigkeit"] = {
            "Schwerpunkte": trade.activity,
            "Berufsträger": str(max(1, holder.employees // 4)),
            "Mandate im Ausland": rng.choice(("keine", "keine", "gelegentlich, EU")),
        }
        answers["Versicherungsschutz"] = {
            "Versicherungssumme je Verstoß": eur(insured),
            "Jahreshöchstleistung": rng.choice(("2-fach maximiert", "3-fach maximiert")),
            "Selbstbeteiligung": eur(rng.choice((1_000, 2_500, 5_000))),
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
            "Versicherungssumme": eur(insured),
            "Versicherte Geräte": ", ".join(trade.equipment),
            "Mobile Geräte mitversichert": rng.choice(("ja", "nein")),
            "Selbstbeteiligung": eur(rng.choice((150, 250, 500))),
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
        extra["Geräte"] = {item: eur(per_item) for item in trade.equipment}

    claims = _claims(rng, product, start.year)
    history: dict[str, str] = {
        "Schäden in den letzten 5 Jahren": str(len(claims)) if claims else "keine",
    }
    for i, claim in enumerate(sorted(claims, key=lambda c: c.year), start=1):
        history[f"Schaden {i}"] = f"{claim.year}: {claim.text}, {eur(claim.amount)}"
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
    return Risk(answers=answers, flags=flags, claims=claims, extra_sections=extra)

