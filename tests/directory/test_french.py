"""French formatting and safe CSV cells: what users read and what spreadsheets open."""

import csv
import io
from datetime import date, datetime, timezone

import pytest

from directory import csv_files, french

NNBSP = "\u202f"


@pytest.mark.parametrize(("value", "digits", "expected"), [
    (227196, None, f"227{NNBSP}196"),
    (1.5, 1, "1,5"),
    (0, None, "0"),
    (1234567.891, 2, f"1{NNBSP}234{NNBSP}567,89"),
])
def test_numbers_are_written_the_french_way(value, digits, expected):
    assert french.number(value, digits) == expected


def test_percentages_money_and_dates():
    assert french.percent(0.961) == "96,1\u202f%"
    assert french.percent(0.06, 0) == "6\u202f%"
    assert french.euros(123450) == f"1{NNBSP}234,50\u00a0€"
    assert french.euros(-700) == "-7,00\u00a0€"
    assert french.long_date(date(2027, 1, 31)) == "31 janvier 2027"
    assert french.short_date(date(2027, 1, 31)) == "31/01/2027"
    assert french.paris_time(datetime(2026, 7, 1, 10, 5, tzinfo=timezone.utc)) == "01/07/2026 à 12:05"
    assert french.seconds(1.5) == "1,5\u00a0s"


@pytest.mark.parametrize(("n", "expected"), [
    (0, "0 avertissement"), (1, "1 avertissement"), (2, "2 avertissements"), (1000, f"1{NNBSP}000 avertissements"),
])
def test_plural_agreement_follows_french_rules(n, expected):
    assert french.count(n, "avertissement") == expected


def test_irregular_plurals():
    assert french.count(2, "lieu", "lieux") == "2 lieux"
    assert french.plural(1, "lieu", "lieux") == "lieu"


@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_formula_cells_are_neutralised(hostile):
    out = io.StringIO()
    csv_files.SafeWriter(out, delimiter=";").writerow([hostile, 12])
    cell = next(csv.reader(io.StringIO(out.getvalue()), delimiter=";"))[0]
    assert cell == "'" + hostile


def test_plain_numbers_and_text_are_left_alone():
    assert csv_files.safe_cell("-12,50") == "-12,50"
    assert csv_files.safe_cell("Espace numérique") == "Espace numérique"
    assert csv_files.safe_cell(-5) == -5
    out = io.StringIO()
    writer = csv_files.SafeDictWriter(out, fieldnames=["nom"])
    writer.writeheader()
    writer.writerow({"nom": "=1+1"})
    assert out.getvalue().splitlines()[1] == "'=1+1"
