"""Our xsdata ``DataclassGenerator``: our templates, fixed header, no ruff, no side effects.

xsdata's generator writes relative to the working directory, stamps a date and version into a
header, shells out to ``ruff`` and imports what it wrote.  This subclass only renders text:
paths are relative to the output root, the header is fixed, the templates produce the final
layout themselves, so the output depends on nothing but the schemas and the templates.
"""

from __future__ import annotations

import ast
import keyword
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from xsdata.codegen.exceptions import CodegenError
from xsdata.codegen.models import Attr, Class
from xsdata.codegen.resolver import DependenciesResolver
from xsdata.formats.dataclass.filters import Filters
from xsdata.formats.dataclass.generator import DataclassGenerator
from xsdata.formats.mixins import AbstractGenerator, GeneratorResult
from xsdata.models.config import GeneratorConfig
from xsdata.models.enums import Tag
from xsdata.utils.objects import literal_value

TEMPLATES = Path(__file__).parent / "templates"


class BindingsFilters(Filters):
    """xsdata's template filters plus ours: field layout, docstrings, imports, literals."""

    def register(self, env: Environment) -> None:
        super().register(env)
        env.filters["docblock"] = self.docblock
        env.filters["pystr"] = pystr
        env.filters["import_block"] = self.import_block
        env.filters["requote"] = _requote
        env.filters["checked"] = checked_expression
        env.filters["field_line"] = self.field_line
        env.filters["accessors"] = self.accessors

    def import_block(self, output: str, extra: Sequence[str] = ()) -> str:
        """The module's library imports, isort-style: future, stdlib, then xsdata.

        ``extra`` adds ``module:name`` pairs (e.g. ``typing:Final`` for the constants).
        """
        wanted: dict[str, set[str]] = {}
        plain: set[str] = set()
        for line in self.default_imports(output).splitlines():
            if line.startswith("from __future__"):
                continue
            if line.startswith("import "):
                plain.add(line[len("import "):].strip())
                continue
            module, _, names = line[len("from "):].partition(" import ")
            # xsdata's substring patterns match XmlDate inside XmlDateTime: keep whole words.
            wanted.setdefault(module.strip(), set()).update(
                n.strip() for n in names.split(",")
                if n.strip() and re.search(rf"\b{re.escape(n.strip())}\b", output)
            )
        for pair in extra:
            module, _, name = pair.partition(":")
            wanted.setdefault(module, set()).add(name)
        std = [f"import {m}" for m in sorted(plain) if not m.startswith("xsdata")]
        third = [f"import {m}" for m in sorted(plain) if m.startswith("xsdata")]
        for module in sorted(wanted):
            if not wanted[module]:
                continue
            line = f"from {module} import {', '.join(sorted(wanted[module]))}"
            (third if module.startswith("xsdata") else std).append(line)
        blocks = ["from __future__ import annotations"]
        if std:
            blocks.append("\n".join(std))
        if third:
            blocks.append("\n".join(third))
        return "\n\n".join(blocks)

    def field_line(self, obj: Class, attr: Attr, parent_namespace: str | None,
                   level: int = 0) -> str:
        """``name: type = field(...)`` for ``attr``, laid out as a formatter would.

        Same arguments as xsdata's ``field_definition`` filter (default / default_factory /
        init / metadata); only the layout differs, so the output needs no ruff pass.  A type
        hint too long for the line is wrapped in brackets, one union member per line.
        """
        width = self.max_line_length - 4 * level
        name = self.field_name(attr.name, obj.name)
        hint = self.field_type(obj, attr)
        head = f"{name}: {hint} = "
        if 4 + len(head) + len("field(") <= width:
            return head + self._field_call(obj, attr, parent_namespace, 4 + len(head), width)
        hint = _wrap_hint(hint, width)
        closing = len(hint.rsplit("\n", 1)[-1]) + len(" = ")
        return f"{name}: {hint} = " + self._field_call(obj, attr, parent_namespace, closing,
                                                      width)

    def accessors(self, obj: Class, level: int = 0) -> list[str]:
        """Read-only typed accessors for the named children of ``obj``'s repeatable choices.

        A repeatable ``xs:choice`` becomes one order-keeping list (``Message.choice``); this
        derives, from the element names in the choice, a property per child name: the plural
        (``bodies``: every ``<body/>``, in document order) and the singular (``body``: the
        first, or ``None``). Only choices whose element has a class type of its own among the
        choice's types get accessors (a type shared by two names cannot tell them apart), and
        a name that would clash with a field, another accessor or a keyword is left out.
        Items match by exact class (``type(c) is X``), so a choice whose types derive from
        one another (``Body`` from ``LangTextType``) still tells its names apart.
        """
        taken = {self.field_name(a.name, obj.name) for a in obj.attrs}
        out: list[str] = []
        for attr in obj.attrs:
            if attr.tag != Tag.CHOICE or not attr.is_list:
                continue
            field = self.field_name(attr.name, obj.name)
            typed = [c for c in attr.choices if not c.is_wildcard and len(c.types) == 1
                     and not c.types[0].native and not c.is_tokens]
            counts: dict[str, int] = {}
            for choice in typed:
                key = self._field_type_names(obj, choice)
                counts[key] = counts.get(key, 0) + 1
            for choice in typed:
                hint = self._field_type_names(obj, choice)
                if counts[hint] != 1:
                    continue
                singular = self.field_name(choice.name, obj.name)
                plural = _plural(singular)
                if {singular, plural} & taken or keyword.iskeyword(plural):
                    continue
                taken |= {singular, plural}
                element = pystr(choice.name)[1:-1]
                out.append(_accessor_source(field, element, singular, plural, hint,
                                            self.max_line_length - 4 * level))
        return out

    def _field_call(
        self, obj: Class, attr: Attr, parent_namespace: str | None, lead: int, width: int
    ) -> str:
        default_value = self.field_default_value(attr, obj.ns_map)
        metadata = _binding_metadata(self.field_metadata(obj, attr, parent_namespace))
        kwargs: dict[str, Any] = {}
        if attr.fixed or attr.is_prohibited:
            kwargs["init"] = _Code("False")
            if attr.is_prohibited:
                kwargs[self.DEFAULT_KEY] = _Code("None")
        if default_value is not False and not attr.is_prohibited:
            key = self.FACTORY_KEY if attr.is_factory else self.DEFAULT_KEY
            kwargs[key] = _Code(checked_expression(_requote(str(default_value))))
        if metadata:
            kwargs["metadata"] = metadata
        return _layout_call("field", kwargs, indent=4, lead=lead, width=width, leaf=self._leaf)

    def _leaf(self, value: Any, key: str) -> str:
        if isinstance(value, _Code):
            return value.code
        if isinstance(value, str):
            if value.startswith("ForwardRef("):
                return value
            if value.startswith("Type[") and value.endswith("]"):
                return value[5:-1]
            if value.startswith("Literal[") and value.endswith("]"):
                return value[8:-1]
            if key in (self.FACTORY_KEY, self.DEFAULT_KEY):
                return _requote(value)
            if (key == "pattern" and value.isprintable() and '"' not in value
                    and not value.endswith("\\")):
                return f'r"{value}"'
            return pystr(value)
        return _requote(literal_value(value))

    def docblock(self, text: str | None, indent: int) -> str:
        """A triple-quoted docstring of ``text`` wrapped to the line length, or ``""``."""
        cleaned = " ".join((text or "").split())
        if not cleaned:
            return ""
        cleaned = "".join(
            ch if ch.isprintable() and ch != "\\" else repr(ch)[1:-1] for ch in cleaned
        ).replace('"""', "'''")
        width = max(40, self.max_line_length - indent)
        lines = textwrap.wrap(cleaned, width=width, break_long_words=False,
                              break_on_hyphens=False)
        if len(lines) == 1 and len(lines[0]) + 6 <= width:
            if lines[0].endswith('"'):  # """say "x"""" would end the string early
                lines[0] = lines[0][:-1] + '\\"'
            return f'"""{lines[0]}"""'
        return '"""\n' + "\n".join(lines) + '\n"""'


# Field metadata keys xsdata's XmlMeta builder reads (formats/dataclass/models/builders.py).
# Facets (pattern, lengths, bounds, whiteSpace) are left out: xsdata never enforces them, the
# XSD does (xmppsec.schema), and xsdata's flattening of unions merges member facets into
# wrong ones (xml:lang = language | "" would read ``length=0``).  The reference page lists
# the facets as written.
BINDING_METADATA_KEYS = frozenset({
    "name", "type", "namespace", "mixed", "choices", "wildcard", "tokens", "nillable",
    "format", "sequence", "wrapper", "required", "process_contents", "default_factory",
})


def _binding_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in metadata.items():
        if key not in BINDING_METADATA_KEYS:
            continue
        if key == "choices":
            value = tuple(_binding_metadata(choice) for choice in value)
        kept[key] = value
    return kept


# Calls xsdata may emit in a default value: constructors of literal-like values.
_SAFE_CALLS = frozenset({
    "QName", "Decimal", "float", "XmlDate", "XmlDateTime", "XmlTime", "XmlDuration",
    "XmlPeriod",
})
_SAFE_NODES = (
    ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Load, ast.UnaryOp, ast.USub,
    ast.UAdd, ast.Attribute, ast.Name, ast.Call, ast.Lambda, ast.arguments, ast.Subscript,
)


def checked_expression(code: str) -> str:
    """``code`` if it is a plain value expression, else a ``CodegenError``.

    Default values come from schema text through xsdata, which builds some of them with string
    formatting (``QName("{text}")``).  Only literals, names, ``Enum.MEMBER``, ``Literal[...]``,
    argument-less lambdas and calls of the value constructors above may reach the output.
    """
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        raise CodegenError("Default value is not an expression", code=code) from None
    for node in ast.walk(tree):
        if not isinstance(node, _SAFE_NODES):
            raise CodegenError("Default value is not a plain value", code=code)
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in _SAFE_CALLS
            or node.keywords or not all(isinstance(a, ast.Constant) for a in node.args)
        ):
            raise CodegenError("Default value calls something else", code=code)
        if isinstance(node, ast.Lambda) and (node.args.args or node.args.vararg
                                             or node.args.kwarg or node.args.kwonlyargs):
            raise CodegenError("Default value lambda takes arguments", code=code)
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise CodegenError("Default value names a dunder", code=code)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise CodegenError("Default value reaches a private attribute", code=code)
    return code


class _Code:
    """Python source to emit as is."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code


_CALL_WITH_STR = re.compile(r"(\w+)\('([^'\"\\]*)'\)\Z")


def _requote(code: str) -> str:
    """Turn a single-quoted str/bytes literal from ``repr`` into the double-quoted form.

    Also ``Decimal('1.5')`` → ``Decimal("1.5")``: the quote style a formatter would use.
    """
    call = _CALL_WITH_STR.match(code)
    if call:
        return f'{call.group(1)}("{call.group(2)}")'
    try:
        value = ast.literal_eval(code)
    except (ValueError, SyntaxError):
        return code
    if isinstance(value, str) and code.lstrip().startswith("'"):
        return pystr(value) if "\n" not in value else code
    if isinstance(value, bytes) and code.startswith("b'") and b'"' not in value \
            and b"\\" not in value and value.isascii() and value.decode().isprintable():
        return 'b"' + value.decode() + '"'
    return code


def _plural(name: str) -> str:
    """English plural of a snake-case field name: ``body`` → ``bodies``, ``status`` →
    ``statuses``, ``thread`` → ``threads``."""
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou_":
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    return name + "s"


def _accessor_source(field: str, element: str, singular: str, plural: str, hint: str,
                     width: int) -> str:
    """The two properties for one child name, laid out as ruff format would."""
    head = f"    def {plural}(self) -> tuple[{hint}, ...]:"
    if len(head) > width:
        head = f"    def {plural}(\n        self,\n    ) -> tuple[{hint}, ...]:"
    ret = f"        return tuple(c for c in items if type(c) is {hint})"
    if len(ret) > width:
        ret = (f"        return tuple(\n            c for c in items if type(c) is {hint}"
               f"\n        )")
    one = f"    def {singular}(self) -> {hint} | None:"
    return (
        f"    @property\n{head}\n"
        f'        """Every ``{element}`` child in ``{field}``, in document order."""\n'
        f"        items = self.{field}\n{ret}\n\n"
        f"    @property\n{one}\n"
        f'        """The first ``{element}`` child in ``{field}``, or None."""\n'
        f"        found = self.{plural}\n"
        f"        return found[0] if found else None"
    )


def _split_union(hint: str) -> list[str]:
    """Split a type hint at its top-level `` | `` (not inside brackets or quotes)."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(hint):
        char = hint[i]
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif depth == 0 and hint.startswith(" | ", i):
            parts.append(hint[start:i])
            start = i + 3
            i += 3
            continue
        i += 1
    parts.append(hint[start:])
    return parts


def _wrap_hint(hint: str, width: int) -> str:
    """A long type hint split over lines, one union member per line, in brackets."""
    members = _split_union(hint)
    if len(members) == 1:
        for generic in ("list[", "tuple["):
            if hint.startswith(generic) and hint.endswith("]"):
                inner = hint[len(generic):-1]
                if 8 + len(inner) <= width:
                    return f"{generic}\n        {inner}\n    ]"
                body = "\n        | ".join(_split_union(inner))
                return f"{generic}\n        {body}\n    ]"
        return hint
    body = "\n        | ".join(members)
    return f"(\n        {body}\n    )"


def _layout_call(
    func: str,
    kwargs: Mapping[str, Any],
    *,
    indent: int,
    lead: int,
    width: int,
    leaf: Any,
) -> str:
    """Render ``func(k=v, ...)``: on one line if it fits, else one argument per line."""
    items = [(k, _layout(v, k, indent + 4, width, leaf)) for k, v in kwargs.items()]
    flat = f"{func}({', '.join(f'{k}={v}' for k, v in items)})"
    if "\n" not in flat and lead + len(flat) <= width:
        return flat
    pad = " " * (indent + 4)
    body = "".join(
        f"{pad}{k}={_layout(kwargs[k], k, indent + 4, width, leaf, lead=len(k) + 1)},\n"
        for k, _ in items
    )
    return f"{func}(\n{body}{' ' * indent})"


def _layout(
    value: Any, key: str, indent: int, width: int, leaf: Any, lead: int = 0
) -> str:
    """A dict/tuple/list literal, flat if it fits in ``width`` after ``indent + lead``."""
    if isinstance(value, dict):
        parts = [(pystr(str(k)), value[k], str(k)) for k in value]
        flat_items = [f"{k}: {_layout(v, kk, indent, width, leaf)}" for k, v, kk in parts]
        flat = "{" + ", ".join(flat_items) + "}"
        if "\n" not in flat and indent + lead + len(flat) + 1 <= width:
            return flat
        pad = " " * (indent + 4)
        body = "".join(
            f"{pad}{k}: {_layout(v, kk, indent + 4, width, leaf, lead=len(k) + 2)},\n"
            for k, v, kk in parts
        )
        return "{\n" + body + " " * indent + "}"
    if isinstance(value, (list, tuple)):
        opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
        inner = [_layout(v, "", indent, width, leaf) for v in value]
        tail = "," if isinstance(value, tuple) and len(value) == 1 else ""
        flat = opening + ", ".join(inner) + tail + closing
        if "\n" not in flat and indent + lead + len(flat) + 1 <= width:
            return flat
        pad = " " * (indent + 4)
        body = "".join(f"{pad}{_layout(v, '', indent + 4, width, leaf)},\n" for v in value)
        return opening + "\n" + body + " " * indent + closing
    result: str = leaf(value, key)
    return result


def pystr(value: str) -> str:
    """A double-quoted Python string literal for ``value``."""
    out = []
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return '"' + "".join(out) + '"'


class BindingsGenerator(DataclassGenerator):
    """Render codegen classes into one module per namespace, with our jinja2 templates.

    ``template_dirs`` are searched before the packaged templates, so a user can override one
    template (e.g. ``class.py.jinja2``) and inherit the rest.
    """

    package_template = "package.py.jinja2"
    module_template = "module.py.jinja2"
    enum_template = "enum.py.jinja2"
    class_template = "class.py.jinja2"
    imports_template = "imports.py.jinja2"
    service_template = "class.py.jinja2"

    def __init__(
        self,
        config: GeneratorConfig,
        *,
        command: str,
        sources: Mapping[str, Sequence[str]],
        package_context: Mapping[str, Any],
        modules: Mapping[str, str],
        constants: Mapping[str, Sequence[Mapping[str, str]]],
        template_dirs: Sequence[Path] = (),
        external_package: str | None = None,
    ) -> None:
        # Not DataclassGenerator.__init__: it would load xsdata's own templates.
        AbstractGenerator.__init__(self, config)
        search = [str(p) for p in template_dirs] + [str(TEMPLATES)]
        self.env = Environment(
            loader=FileSystemLoader(search),
            autoescape=False,  # noqa: S701 - renders Python source, not HTML
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self.filters = self.init_filters(config)
        self.filters.register(self.env)
        self.env.globals["command"] = command
        self.command = command
        self.sources = sources
        self.package_context = package_context
        self.modules = modules
        self.constants = constants
        self.external_package = external_package

    @classmethod
    def get_template_paths(cls) -> list[str]:
        return [str(TEMPLATES)]

    @classmethod
    def init_filters(cls, config: GeneratorConfig) -> Filters:
        return BindingsFilters(config)

    def render_header(self) -> str:
        # Fixed: no date, no version (byte-identical regeneration).
        return ""

    def render(self, classes: list[Class]) -> Iterator[GeneratorResult]:
        """Yield one module per namespace (empty ones too) and the package ``__init__``."""
        package = self.config.output.package
        registry = {obj.qname: obj.target_module for obj in classes}
        resolver = DependenciesResolver(registry=registry)
        by_module: dict[str, list[Class]] = {}
        for obj in classes:
            by_module.setdefault(obj.target_module, []).append(obj)
        package_dir = PurePosixPath(*package.split("."))

        listed: list[dict[str, Any]] = []
        for namespace, short in sorted(self.modules.items(), key=lambda kv: kv[1]):
            module = f"{package}.{short}"
            cluster = by_module.pop(module, [])
            source = self.render_bindings_module(resolver, cluster, module, namespace)
            listed.append({"name": short, "namespace": namespace,
                           "sources": self.sources.get(namespace, ())})
            yield GeneratorResult(path=Path(package_dir / f"{short}.py"), title=module,
                                  source=source)
        if self.external_package:  # imported from the shipped bindings, not rendered
            prefix = f"{self.external_package}."
            by_module = {m: c for m, c in by_module.items() if not m.startswith(prefix)}
        if by_module:
            raise CodegenError("Classes outside the package modules", modules=sorted(by_module))

        init = self.env.get_template(self.package_template).render(
            package=package, modules=listed, **self.package_context
        )
        yield GeneratorResult(path=Path(package_dir / "__init__.py"), title=package, source=init)

    def render_classes(self, classes: list[Class], module_namespace: str | None) -> str:
        """Render the module body: top-level classes separated by two blank lines."""
        rendered = []
        for obj in classes:
            template = self.enum_template if obj.is_enumeration else self.class_template
            text = self.env.get_template(template).render(
                obj=obj, module_namespace=module_namespace, level=0
            )
            rendered.append(text.strip("\n"))
        return "\n\n\n".join(rendered)

    def render_bindings_module(
        self, resolver: DependenciesResolver, classes: list[Class], module: str, namespace: str
    ) -> str:
        ordered: list[Class] = []
        imports: list[Any] = []
        output = ""
        if classes:
            resolver.process(classes)
            imports = resolver.sorted_imports()
            ordered = resolver.sorted_classes()
            output = self.render_classes(ordered, namespace or None)
        constants = list(self.constants.get(namespace, ()))
        names = sorted(
            [self.filters.class_name(obj.name) for obj in ordered]
            + [c["const"] for c in constants]
        )
        imports_text = ""
        if imports:
            imports_text = self.env.get_template(self.imports_template).render(
                imports=imports, module=module
            ).strip("\n")
        return self.env.get_template(self.module_template).render(
            imports_text=imports_text,
            output=output,
            classes=ordered,
            names=names,
            module=module,
            imports=imports,
            namespace=namespace,
            constants=constants,
            sources=self.sources.get(namespace, ()),
        )
