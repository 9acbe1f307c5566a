"""A griffe extension of the documentation build (``mkdocs.yml``): the SDK's docstrings as Markdown.

The docstrings are Google style (``Args:``, ``Returns:``) but cross-reference with Sphinx roles
(``:class:`~scaledmail_async.RedisRateLimiter```, ``:func:`poll_orders```), which Markdown would
show as they are. This rewrites each role into inline code of the name it shows (the last part
of the path with ``~``, the explicit title of ``:meth:`title <target>```), and a paragraph's
reST literal-block marker ``::`` into ``:``. Roles are not turned into links: many point at
private modules that the reference does not render, which a strict build would report.

It changes only what the documentation shows, never the SDK's source.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|ref|term):"
    r"`(?P<tilde>~?)(?P<text>[^`]+?)`"
)
_TITLED = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^>]+)>$")
#: ``Text::`` at the end of a line (a reST literal block follows), not a bare ``::`` line.
_LITERAL_MARKER = re.compile(r"(?<=\S)::$", re.MULTILINE)


def _shown(match: re.Match[str]) -> str:
    text = match.group("text").strip()
    titled = _TITLED.match(text)
    if titled is not None:
        return f"`{titled.group('title')}`"
    if match.group("tilde"):
        text = text.rsplit(".", 1)[-1]
    return f"`{text}`"


def markdown(docstring: str) -> str:
    """``docstring`` with its Sphinx roles and literal-block markers in Markdown."""
    return _LITERAL_MARKER.sub(":", _ROLE.sub(_shown, docstring))


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        todo: list[griffe.Object] = [pkg]
        while todo:
            obj = todo.pop()
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value)
            for member in obj.members.values():
                if isinstance(member, griffe.Object):  # not an alias: its target is elsewhere
                    todo.append(member)
