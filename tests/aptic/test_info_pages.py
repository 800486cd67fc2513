"""Footer pages: accessibility statement, legal notices, "Comment ça marche" for each audience."""

from aptic.info_pages import AUDIENCES


def test_every_page_has_the_footer_links(client):
    html = client.get("/").get_data(as_text=True)
    for href in ("/accessibilite", "/mentions-legales", "/comment-ca-marche/beneficiaire",
                 "/comment-ca-marche/aiguilleur", "/comment-ca-marche/lieu", "/comment-ca-marche/commanditaire"):
        assert f'href="{href}"' in html
    assert 'role="contentinfo"' in client.get("/connexion").get_data(as_text=True)


def test_accessibility_statement_is_honest(client):
    html = client.get("/accessibilite").get_data(as_text=True)
    assert "<strong>non conforme</strong>" in html and "axe-core" in html and "Défenseur des droits" in html


def test_how_it_works_pages_state_the_rules(client):
    assert set(AUDIENCES) == {"beneficiaire", "aiguilleur", "lieu", "commanditaire"}
    venue = client.get("/comment-ca-marche/lieu").get_data(as_text=True)
    assert "Deux chèques au plus pour un même service" in venue and "4\u202f%" in venue and "7,00\u00a0€" in venue
    assert "9,60\u00a0€" in venue
    sponsor = client.get("/comment-ca-marche/commanditaire").get_data(as_text=True)
    assert "20\u202f000,00\u00a0€" in sponsor
    assert "31 janvier" in client.get("/comment-ca-marche/beneficiaire").get_data(as_text=True)
    assert "Un carnet par personne" in client.get("/comment-ca-marche/aiguilleur").get_data(as_text=True)
    assert client.get("/comment-ca-marche/inconnu").status_code == 404
    assert client.get("/mentions-legales").status_code == 200
