"""A griffe extension for the API reference (docs/reference/): the runtime's docstrings are
written in reST conventions (``:class:`X``` roles, a paragraph ending in ``::`` before a
literal block), which Markdown would print as they are. Each role becomes a link to the
object's section of the reference when the name is rendered there, plain code otherwise
(an ``optional`` autoref: a name outside the reference never fails the build); ``::``
becomes ``:``, the indented block under it stays a code block.

On the façade (``xmppsec``, whose names are imported lazily from the submodules) it also
appends a table of ``__all__`` to the package docstring: each name linked to the submodule
page that documents it, with the first sentence of its docstring, so the façade page stays a
map instead of a second copy of every class.

mkdocs.yml loads it by path: ``extensions: [docs/_ext/griffe_rst.py:RstRoles]``.
"""

from __future__ import annotations

import html
import re
from typing import Any

from griffe import Alias, Extension, GriffeLoader, Module, NameResolutionError, Object

_ROLE = re.compile(r":(?:class|func|meth|attr|data|exc|mod|obj):`(?P<tilde>~?)(?P<name>[^`]+)`")
# "text::" ending a paragraph (reST "expanded form"), or "::" alone on its line.
_LITERAL = re.compile(r"(?m)(?<=\S)::$|^[ \t]*::[ \t]*$")


def _target(obj: Object, name: str) -> str | None:
    """The full path of ``name`` as seen from ``obj``'s scope, or None."""
    name = name.rstrip("()")
    if name.startswith("xmppsec."):
        return name
    head, _, rest = name.partition(".")
    scope: Object | None = obj
    while scope is not None:
        try:
            path = scope.resolve(head)
        except NameResolutionError:
            scope = scope.parent
            continue
        return f"{path}.{rest}" if rest else path
    return None


def _convert(obj: Object, text: str) -> str:
    def role(match: re.Match[str]) -> str:
        name = match["name"].strip()
        title = name.rsplit(".", 1)[-1] if match["tilde"] else name
        code = f"<code>{html.escape(title)}</code>"
        target = _target(obj, name)
        if target is None:
            return code
        return f'<autoref identifier="{html.escape(target)}" optional>{code}</autoref>'

    text = _ROLE.sub(role, text)
    return _LITERAL.sub(lambda m: ":" if m.group(0) == "::" else "", text)


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n", 1)[0].split())
    head, dot, _ = paragraph.partition(". ")
    return (head + dot).strip().replace("|", "\\|")


def _facade_table(pkg: Module) -> str:
    rows = ["| Name | Documented in | Summary |", "|---|---|---|"]
    for name in pkg.exports or ():
        member = pkg.members[str(name)]
        if isinstance(member, Alias):
            where = member.target_path  # the submodule the façade imports it from
            module = where.rpartition(".")[0]
            doc = member.final_target.docstring
            link = f"[`{name}`][{where}]"
            home = f"[`{module}`][{module}]"
        else:  # defined in the façade itself (__version__)
            doc = member.docstring
            link = f"`{name}`"
            home = "`xmppsec`"
            value = getattr(member, "value", None)
            if doc is None and value is not None:
                rows.append(f"| {link} | {home} | `{value}` |")
                continue
        rows.append(f"| {link} | {home} | {_first_sentence(doc.value) if doc else ''} |")
    return "\n\nThe names of `xmppsec.__all__`:\n\n" + "\n".join(rows) + "\n"


class RstRoles(Extension):
    """Rewrites each docstring once the package is loaded (names resolve only then)."""

    def on_package(self, *, pkg: Module, loader: GriffeLoader, **kwargs: Any) -> None:
        if pkg.path != "xmppsec":
            return
        stack: list[Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None:
                obj.docstring.value = _convert(obj, obj.docstring.value)
            stack.extend(m for m in obj.members.values() if not isinstance(m, Alias))
        if pkg.docstring is not None:
            pkg.docstring.value += _facade_table(pkg)
