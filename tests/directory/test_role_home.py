"""After sign-in each role lands on its own home, which links to every tool of its role; following
those links only, every tool opens."""

from __future__ import annotations

import html as html_text
import re

import pytest

from directory.models import Role
from directory.navigation import entries_for
from tests.builders import sign_in, two_of_each_kind

ROLES = {"staff": Role.APTIC_STAFF, "sponsor": Role.SPONSOR, "distributor": Role.DISTRIBUTOR, "venue": Role.VENUE_STAFF}


@pytest.mark.parametrize("who", ROLES)
def test_each_role_lands_on_a_home_that_reaches_all_its_tools(client, session, who):
    cast = two_of_each_kind(session)
    session.commit()
    signed_in = sign_in(client, cast.users[who].email)
    home = client.get(signed_in.headers["Location"])
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and "Mon espace" in html
    assert f"Connecté : {cast.users[who].full_name}" in html
    section = html[html.index('class="role-home"'):html.index('<footer')]
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a>', section)
    assert {html_text.unescape(label) for _, label in links} == {entry.label for entry in entries_for(ROLES[who])}
    for href, label in links:
        assert client.get(html_text.unescape(href)).status_code == 200, (label, href)
