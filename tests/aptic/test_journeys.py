"""Each role's journey in a real Chromium, by clicking links only, at 1280 and 360 px.

From the public home (the only address typed), each demo role signs in, reaches every tool of its
menu from "Mon espace", and does its main task: the sponsor opens an order report and a coverage
page, the distributor hands out a booklet, the venue scans a cheque (and sees the second scan
refused) and opens a statement, APTIC staff opens a document, decides an application and sets a
quota override. Every page visited is checked with axe-core (zero violations) and, at 360 px, for
horizontal scrolling. Set APTIC_JOURNEY_SHOTS=folder to keep a screenshot of each page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from directory.db import make_engine
from directory.models import Organisation, Venue
from maps import api as maps_api
from tests.conftest import database_copy
from tests.builders import (
    CAHORS,
    PASSWORD,
    complete_application,
    hand_out,
    make_order,
    offset,
    served_app,
    two_of_each_kind,
)

pytestmark = pytest.mark.browser

WIDTHS = (1280, 360)
SHOTS = os.environ.get("APTIC_JOURNEY_SHOTS")


@pytest.fixture(scope="module")
def site(database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    """One site for every journey of a backend (each journey uses its own objects): the authorisation cast,
    plus for each width a distributed booklet to scan, one to hand out and a complete application to
    decide; the coverage computed once."""
    engine.dispose()  # the copy needs the session database idle
    folder = tmp_path_factory.mktemp("journeys")
    with database_copy(database_url, folder) as url:
        yield from _serve(url, folder / "uploads")


def _serve(url: str, storage: Path) -> Iterator[tuple[str, dict]]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        cast = two_of_each_kind(session)
        session.get(Venue, cast.ids["venue"]).published = True
        sponsor = session.get(Organisation, cast.ids["sponsor_organisation"])
        distributor = session.scalar(select(Organisation).where(Organisation.name == "CCAS A"))
        order = make_order(session, sponsor, booklets=4)
        data: dict[str, Any] = {"emails": {role: user.email for role, user in cast.users.items()}}
        for index, width in enumerate(WIDTHS):
            scanned = order.booklets[index]
            hand_out(session, distributor, scanned, ref=f"BEN-{width}")
            application = complete_application(session, storage, point=offset(*CAHORS, 30_000 * index))
            data[width] = {"cheque": scanned.cheques[0].code, "booklet": order.booklets[2 + index].number,
                           "application": application.id, "override_code": ("46", "33")[index]}
        maps_api.refresh_coverage(session)
        session.commit()
    engine.dispose()
    with served_app(url, QUALIFICATION_UPLOAD_DIR=str(storage)) as base_url:
        yield base_url, data


@dataclass
class Walk:
    """One role at one width: the pages seen, what axe-core and the width check found on them."""

    page: Any
    role: str
    width: int
    base: str
    problems: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def check(self, name: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        page = self.page
        page.wait_for_load_state()
        where = f"{self.role} {self.width}px {page.url.removeprefix(self.base)} ({name})"
        self.seen.append(where)
        results = Axe().run(page)
        for violation in results.response["violations"]:
            targets = ", ".join(str(node["target"]) for node in violation["nodes"][:4])
            self.problems.append(f"{where}: axe {violation['id']} ({violation['impact']}): {targets}")
        if self.width <= 400:
            scroll, client = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            if scroll > client:
                wide = page.evaluate("""Array.from(document.querySelectorAll('body *'))
                    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                    .slice(0, 3).map(e => e.tagName + '.' + e.className + '#' + e.id)""")
                self.problems.append(f"{where}: {scroll} px wide for a {client} px screen ({wide})")
        if SHOTS:
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            path = f"{SHOTS}/{self.role}-{self.width}-{len(self.seen):02d}-{slug}.png"
            try:
                page.screenshot(path=path, full_page=True, timeout=10_000)
            except Exception:  # a very long page (the national density table): screenshots are best effort
                pass

    def click(self, name: str, *, within: Any = None, exact: bool = True) -> None:
        (within or self.page).get_by_role("link", name=name, exact=exact).first.click()
        self.check(name)

    def home(self) -> None:
        self.page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Mon espace").click()
        self.page.wait_for_load_state()

    def sign_in(self, email: str) -> None:
        self.page.goto(self.base + "/")
        self.check("accueil")
        self.click("Se connecter")
        self.page.get_by_label("Courriel").fill(email)
        self.page.get_by_label("Mot de passe").fill(PASSWORD)
        self.page.get_by_role("button", name="Se connecter").click()
        self.check("mon espace")
        assert self.page.get_by_role("heading", name="Mon espace").is_visible()

    def every_tool(self) -> list[str]:
        """Each link of the role's menu on its home, clicked, then back home by the header link."""
        tools = self.page.locator(".role-home .tools a").all_inner_texts()
        assert tools, f"{self.role}: no tool on its home page"
        for tool in tools:
            self.page.locator(".role-home .tools").get_by_role("link", name=tool, exact=True).first.click()
            self.check(tool)
            response_ok = self.page.evaluate("document.title")
            assert "Erreur" not in response_ok, f"{self.role}: « {tool} » led to an error page"
            self.home()
        return tools


def _open(browser, base: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 800 if width > 400 else 740},
                                  accept_downloads=True, locale="fr-FR", timezone_id="Europe/Paris")
    page = context.new_page()
    page.set_default_timeout(20_000)
    # No internet here: only the application answers (the map's tiles are refused).
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
    return context, page


def _public(walk: Walk, data: dict) -> None:
    page = walk.page
    page.goto(walk.base + "/")
    walk.check("accueil")
    page.get_by_label("Commune, code postal ou adresse").fill("Bordeaux")
    page.get_by_role("button", name="Rechercher", exact=True).click()
    walk.check("résultats")
    assert page.evaluate("document.activeElement && document.activeElement.id") == "results-title"
    for name in ("Accessibilité : non conforme", "Mentions légales", "bénéficiaire", "aiguilleur",
                 "commanditaire", "lieu"):
        page.get_by_role("contentinfo").get_by_role("link", name=name, exact=True).click()
        walk.check(name)
    assert page.get_by_text("Deux chèques au plus pour un même service").first.is_visible()


def _sponsor(walk: Walk, data: dict) -> None:
    page = walk.page
    walk.click("Mes commandes et leurs rapports", within=page.locator(".role-home"))
    page.locator("main tbody a").first.click()
    walk.check("rapport de commande")
    assert page.get_by_role("heading", level=1).inner_text().strip()
    walk.home()
    walk.click("Couverture des territoires", within=page.locator(".role-home"))
    walk.click("Nouvelle-Aquitaine")
    walk.click("Gironde")
    walk.click("Couverture du territoire : population à portée d'un lieu, zones blanches")
    assert "Gironde" in page.get_by_role("heading", level=1).inner_text()


def _distributor(walk: Walk, data: dict) -> None:
    page = walk.page
    walk.click("Remettre un carnet", within=page.locator(".role-home"))
    page.get_by_label("Numéro du carnet").fill(data[walk.width]["booklet"])
    # One booklet per person and vintage: each width hands out to another person.
    for label, value in (("Nom", f"Martin {walk.width}"), ("Prénom", "Camille"), ("Date de naissance", "1950-03-01")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Enregistrer la remise").click()
    walk.check("carnet remis")
    assert page.locator("[data-outcome=distributed]").is_visible()


def _venue(walk: Walk, data: dict) -> None:
    page = walk.page
    walk.click("Scanner des chèques", within=page.locator(".role-home"))
    code = page.get_by_label("Code du chèque (douchette ou saisie)")
    assert page.evaluate("document.activeElement.id") == "code"
    assert not page.locator("#second").is_visible()  # the second cheque field waits to be asked for
    page.get_by_label("Deux chèques pour cette prestation").check()
    assert page.locator("#second").is_visible()
    page.get_by_label("Deux chèques pour cette prestation").uncheck()
    assert not page.locator("#second").is_visible()
    # No service chosen: stopped in the page, nothing sent.
    page.get_by_label(re.compile("^Service rendu")).select_option("")
    code.fill(data[walk.width]["cheque"])
    code.press("Enter")
    assert page.get_by_text("Choisissez le service rendu").is_visible()
    assert page.locator(".scan-result").count() == 0
    walk.check("service manquant")
    page.get_by_label(re.compile("^Service rendu")).select_option(index=1)
    code.fill(data[walk.width]["cheque"])
    code.press("Enter")
    page.wait_for_load_state()
    assert page.locator(".scan-result.ok").is_visible(), page.locator("main").inner_text()[:500]
    assert page.evaluate("document.activeElement.id") == "code"
    walk.check("chèque accepté")
    page.get_by_label("Code du chèque (douchette ou saisie)").fill(data[walk.width]["cheque"])
    page.get_by_label("Code du chèque (douchette ou saisie)").press("Enter")
    page.wait_for_load_state()
    repeated = page.locator(".scan-result.repeated")
    assert repeated.is_visible() and "Déjà encaissé ici le" in repeated.inner_text()
    assert page.locator(".scan-result.ok").count() == 0
    assert page.evaluate("document.activeElement.id") == "code"
    walk.check("second scan")
    walk.home()
    walk.click("Relevés mensuels", within=page.locator(".role-home"))
    page.locator("main tbody a").first.click()
    walk.check("relevé")


def _staff(walk: Walk, data: dict) -> None:
    page = walk.page
    walk.click("Dossiers de qualification", within=page.locator(".role-home"))
    walk.click(f"n° {data[walk.width]['application']}")
    documents = page.locator("ul.documents a")
    assert documents.count() >= 1
    with page.expect_download() as download:
        documents.first.click()
    assert download.value.suggested_filename.endswith(".pdf")
    page.get_by_role("button", name="Décider selon les quotas").click()
    walk.check("décision")
    assert page.locator("main").get_by_text(re.compile("qualifi|attente")).first.is_visible()
    walk.home()
    walk.click("Règle de quota et quotas fixés à la main", within=page.locator(".role-home"))
    form = page.get_by_role("group", name="Fixer le quota d'un territoire")
    form.get_by_label("Niveau de territoire").select_option("departement")
    form.get_by_label(re.compile("^Code du territoire")).fill(data[walk.width]["override_code"])
    form.get_by_label("Quota (nombre de lieux)").fill("3")
    form.get_by_label("Motif (obligatoire)").fill("Territoire pilote")
    form.get_by_role("button", name="Fixer ce quota").click()
    walk.check("quota fixé")
    assert page.locator(".flash").is_visible()
    walk.home()
    walk.click("Organisations", within=page.locator(".role-home"))
    walk.click("Réseau B")
    email = data["emails"]["venue_b"]
    page.locator("main form button", has_text=re.compile("Désactiver|Réactiver")).and_(
        page.get_by_label(re.compile(f"(Désactiver|Réactiver) {re.escape(email)}"))).click()
    walk.check("compte désactivé ou réactivé")
    assert email in page.locator(".flash").inner_text()


JOURNEYS = {"public": _public, "sponsor": _sponsor, "distributor": _distributor, "venue": _venue, "staff": _staff}


@pytest.mark.parametrize("role", list(JOURNEYS))
def test_each_role_walks_its_journey_by_links_at_both_widths(browser, site, role: str) -> None:
    base, data = site
    problems, seen = [], []
    for width in WIDTHS:
        context, page = _open(browser, base, width)
        walk = Walk(page, role, width, base)
        try:
            if role != "public":
                walk.sign_in(data["emails"][role])
                walk.every_tool()
            JOURNEYS[role](walk, data)
        finally:
            context.close()
        problems += walk.problems
        seen += walk.seen
    print(f"\n{role}: {len(seen)} pages checked at {', '.join(map(str, WIDTHS))} px")
    assert not problems, "\n".join(problems)
