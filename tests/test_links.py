"""``Link`` headers (RFC 8288): the next page of a cursor-paged listing, or an error."""

from __future__ import annotations

import pytest
from urllib3 import HTTPHeaderDict

from nhirecon.http import links

OKTA_SELF = '<https://acme.okta.com/api/v1/users?limit=200>; rel="self"'
OKTA_NEXT = '<https://acme.okta.com/api/v1/users?after=00ud4tVDDXYVKPXKVLCO&limit=200>; rel="next"'
PAGE = "https://acme.okta.com/api/v1/users?limit=200"


def test_okta_sends_self_and_next_as_two_headers() -> None:
    headers = HTTPHeaderDict()
    headers.add("Link", OKTA_SELF)
    headers.add("link", OKTA_NEXT)
    assert links.next_url(headers, PAGE) == (
        "https://acme.okta.com/api/v1/users?after=00ud4tVDDXYVKPXKVLCO&limit=200"
    )


def test_headers_folded_into_one_value_read_the_same() -> None:
    folded = {"Link": f"{OKTA_SELF}, {OKTA_NEXT}"}
    assert links.next_url(folded, PAGE) == links.next_url({"link": OKTA_NEXT}, PAGE)


def test_no_next_link_is_the_end_of_the_listing() -> None:
    assert links.next_url({"Link": OKTA_SELF}, PAGE) is None
    assert links.next_url({}, PAGE) is None


def test_parameters_are_read_as_rfc_8288_writes_them() -> None:
    (link,) = links.parse('< /p?a=1,2 > ; REL = "Next Last" ; title="a \\"b\\"; c" ;rel=self')
    assert link.target == "/p?a=1,2"
    assert link.rels == {"next", "last"}, "only the first rel counts, in any case"
    assert link.params["title"] == 'a "b"; c'
    (bare,) = links.parse("<https://x.example/2>;rel=next;anchor")
    assert bare.rels == {"next"} and bare.params["anchor"] == ""


def test_a_relative_next_link_is_resolved_against_the_page() -> None:
    found = links.next_url({"Link": '</api/v1/users?after=b>; rel="next"'}, PAGE)
    assert found == "https://acme.okta.com/api/v1/users?after=b"


@pytest.mark.parametrize(
    "value",
    [
        'https://acme.okta.com/next; rel="next"',
        '<https://acme.okta.com/next; rel="next"',
        '<https://acme.okta.com/next>; rel="next',
        '<https://acme.okta.com/next>; ="next"',
        '<https://acme.okta.com/next> rel="next"',
    ],
    ids=["no brackets", "unclosed bracket", "unclosed quote", "no name", "no semicolon"],
)
def test_a_malformed_header_is_an_error_not_the_end(value: str) -> None:
    with pytest.raises(links.LinkError):
        links.next_url({"Link": value}, PAGE)


def test_two_different_next_links_are_an_error() -> None:
    value = f'{OKTA_NEXT}, <https://acme.okta.com/api/v1/users?after=zz>; rel="next"'
    with pytest.raises(links.LinkError, match='2 different rel="next" links'):
        links.next_url({"Link": value}, PAGE)
    assert links.next_url({"Link": f"{OKTA_NEXT}, {OKTA_NEXT}"}, PAGE) is not None
