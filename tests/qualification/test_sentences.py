"""Every decision sentence template, rendered with 0, 1 and 2+ of each count, reads as French."""

import re

import pytest

from qualification import sentences
from qualification.density import TerritoryDensity


def figures(count, rule="règle nationale", quota=None):
    return TerritoryDensity(level="epci", code="200023737", name="CA du Grand Cahors", population=[0, 1, 42_325][count],
                            qualified=count, quota=quota if quota is not None else max(1, count), ratio=15_000,
                            quota_rule=rule, accessibility=1.5, communes=36)


@pytest.mark.parametrize("template", sentences.TEMPLATES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("count", [0, 1, 2])
def test_every_template_agrees_with_its_numbers(template, count):
    text = template(figures(count), 2.25, [0, 1, 2_500][count])
    assert "(s)" not in text and not re.search(r"\d\.\d", text)  # no "lieu(x)", no English decimal point
    singular = count < 2
    assert ("habitant gagne" in text or "habitant gagnerait" in text) is singular
    assert ("lieu qualifié pour" in text) is singular and ("lieux qualifiés pour" in text) is not singular
    assert "1,50 à 2,25 lieu pour 10 000 habitants" in text.replace("\u202f", " ").replace("\xa0", " ")
    if count == 2:
        assert "42\u202f325 habitants" in text and "2\u202f500 habitants" in text


def test_the_waitlist_sentence_is_in_the_conditional():
    text = sentences.waitlisted(figures(2), 2.25, 2_500)
    assert "S'il était qualifié, l'accessibilité du territoire passerait de" in text and "gagneraient" in text
    assert "passe de" not in text and "gagnent" not in text


def test_the_quota_rule_reads_as_the_code_computes_it():
    # 42 325 inhabitants, one venue per full block of 15 000: quota 2 (not "1, then 1 more per 15 000" = 3).
    text = sentences.qualified(figures(2, quota=2), 2.25, 10)
    assert "pour un quota de 2 (règle nationale : 1 lieu par tranche complète de 15\u202f000 habitants, au moins 1)" in text
    fixed = sentences.qualified(figures(1, rule="quota fixé par APTIC (zone rurale)", quota=3), 2.25, 10)
    assert "quota de 3 (quota fixé par APTIC (zone rurale))" in fixed and "tranche" not in fixed
