"""Connection URLs of team stores: the password never leaves in a message.

:func:`mask_url` is the one place a URL is turned into text for people (messages,
reprs, CLI output): ``postgresql://ml:s3cret@db/mlops`` becomes
``postgresql://ml:***@db/mlops``. :func:`scrub` removes a known URL's password from
text that came from elsewhere (a driver's error message), in every spelling it could
take there. Standard library only: importing this module costs nothing.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, unquote_plus

MASK = "***"
# scheme: (any number of slashes, so a mistyped "postgresql:/u:pw@h" is masked too),
# then the user-info up to the LAST "@" before whitespace or a quote: a password with
# an unescaped "@", "/" or "?" is still masked whole
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*:/*)(?P<rest>[^\s'\"<>]*)")


def _mask_one(match: re.Match[str]) -> str:
    scheme, rest = match.group("scheme"), match.group("rest")
    at = rest.rfind("@")
    if at < 0:
        return scheme + rest
    userinfo, host = rest[:at], rest[at:]
    user, colon, _password = userinfo.partition(":")
    if not colon:
        return scheme + rest
    return f"{scheme}{user}:{MASK}{host}"


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:/*")


def _mask_whole(text: str) -> str | None:
    """Mask ``text`` when it is one URL, even with whitespace in its password.

    A password typed with a literal space (``postgresql://u:a b@h/db``) would end
    the URL for the in-text pattern and leave part of the password shown.
    """
    start = _SCHEME.match(text)
    if not start:
        return None
    rest = text[start.end() :]
    at = rest.rfind("@")
    if at < 0 or any(ch.isspace() for ch in rest[at:]):
        return None
    user, colon, _password = rest[:at].partition(":")
    if not colon or any(ch.isspace() for ch in user):
        return None
    return f"{start.group(0)}{user}:{MASK}{rest[at:]}"


def mask_url(url: object) -> str:
    """Return ``url`` as text with the password of every URL in it replaced by ``***``.

    Parameters
    ----------
    url : str or sqlalchemy.engine.URL or object
        A connection URL (a SQLAlchemy ``URL`` is rendered with its password hidden);
        any other object is turned into text first. Text holding several URLs, or a
        URL inside a sentence, is masked throughout.

    Returns
    -------
    str
        The same text, ``scheme://user:***@host/...`` where a password was.

    Examples
    --------
    >>> mask_url("postgresql://ml:s3cret@db.internal/mlops?schema=credit")
    'postgresql://ml:***@db.internal/mlops?schema=credit'
    """
    render = getattr(url, "render_as_string", None)
    text = render(hide_password=True) if callable(render) else str(url)
    whole = _mask_whole(text.strip())
    return whole if whole is not None else _URL.sub(_mask_one, text)


def password_of(url: object) -> str:
    """Return the password in ``url`` as written there ("" when there is none)."""
    password = getattr(url, "password", None)
    if password is not None:  # a SQLAlchemy URL: already decoded
        return quote(str(password), safe="")
    match = _URL.search(str(url))
    if not match:
        return ""
    rest = match.group("rest")
    at = rest.rfind("@")
    return rest[:at].partition(":")[2] if at >= 0 else ""


def scrub(text: str, *urls: object) -> str:
    """Return ``text`` with the passwords of ``urls`` removed, and every URL masked.

    A driver may quote the password percent-encoded, decoded, or with ``+`` for
    spaces; each spelling is replaced by ``***``.
    """
    out = mask_url(text)
    for url in urls:
        raw = password_of(url)
        if not raw:
            continue
        spellings = {raw, unquote(raw), unquote_plus(raw)}
        spellings |= {quote(s, safe="") for s in list(spellings)}
        spellings |= {quote_plus(s, safe="") for s in list(spellings)}
        for spelling in sorted((s for s in spellings if s), key=len, reverse=True):
            out = out.replace(spelling, MASK)
    return out
