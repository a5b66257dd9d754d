"""A record macro of a layout template compiled to one Python f-string function.

Calling a jinja2 macro costs more than formatting the record itself (a macro call, a context,
and ``environment.getattr`` for every field): at a million records that is most of an export.
A record macro is nearly always a flat list of fields, so when its body uses only

- literal text, ``{{ expression }}`` outputs and ``{% set name = expression %}``,
- expressions made of the macro's argument or a ``set`` name, ``.attribute`` lookups,
  constants, and filters with constant arguments,

it is translated once into ``def detail(r): return f"...{r.cdr.cdr_id!s}..."`` and compiled.
Anything else (``if``, ``for``, subscripts, arithmetic, filters that need the jinja context)
makes ``compile_macro`` return None, and the layout keeps rendering through jinja2: the fast
path is an optimisation the template author never has to know about. Both paths give the
same text (``str()`` of each value, as jinja2 without autoescape does); the tests check this
for every shipped layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
from jinja2 import nodes


class _Unsupported(Exception):
    """The macro uses something the fast path does not translate."""


#: A filter that may become a format spec when it is the last step of an output: given the
#: filter's constant arguments, the conversion and spec to use, or None to call it instead.
#: Only for filters whose output has a fixed width, so that a value the spec would render
#: differently (too wide, not a number...) changes the record's length and the caller's
#: length check sends the chunk back through jinja2, which raises the filter's own error.
Inline = Callable[[list[object]], tuple[str, str] | None]


class _Translator:
    def __init__(self, env: jinja2.Environment, arg: str, inline: dict[Any, Inline]) -> None:
        self.env = env
        self.names = {arg}
        self.namespace: dict[str, Any] = {}
        self.inline = inline

    def constant(self, value: object) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def expression(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Name) and node.name in self.names:
            return node.name
        if isinstance(node, nodes.Getattr) and node.attr.isidentifier():
            return f"{self.expression(node.node)}.{node.attr}"
        if isinstance(node, nodes.Const):
            return self.constant(node.value)
        if isinstance(node, nodes.Filter) and node.node is not None:
            return self.filter(node)
        raise _Unsupported(type(node).__name__)

    def filter(self, node: nodes.Filter) -> str:
        function = self.env.filters.get(node.name)
        if function is None or getattr(function, "jinja_pass_arg", None) is not None:
            raise _Unsupported(f"filter {node.name}")
        if node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise _Unsupported("filter keyword or dynamic arguments")
        args = []
        for arg in node.args:
            if not isinstance(arg, nodes.Const):
                raise _Unsupported("filter argument that is not a constant")
            args.append(self.constant(arg.value))
        assert node.node is not None
        name = self.constant(function)
        return f"{name}({', '.join([self.expression(node.node), *args])})"

    def output(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Filter) and node.node is not None and not node.kwargs:
            spec_of = self.inline.get(self.env.filters.get(node.name))
            if spec_of is not None and all(isinstance(a, nodes.Const) for a in node.args):
                spec = spec_of([a.value for a in node.args if isinstance(a, nodes.Const)])
                if spec is not None:
                    return "{" + self.expression(node.node) + spec[0] + ":" + spec[1] + "}"
        return "{" + self.expression(node) + "!s}"

    def body(self, body: list[nodes.Node]) -> tuple[list[str], str]:
        statements, pieces = [], []
        for statement in body:
            if isinstance(statement, nodes.Assign) and isinstance(statement.target, nodes.Name):
                value = self.expression(statement.node)
                self.names.add(statement.target.name)
                statements.append(f"{statement.target.name} = {value}")
            elif isinstance(statement, nodes.Output):
                for child in statement.nodes:
                    if isinstance(child, nodes.TemplateData):
                        pieces.append(_escape(child.data))
                    else:
                        pieces.append(self.output(child))
            else:
                raise _Unsupported(type(statement).__name__)
        return statements, 'f"' + "".join(pieces) + '"'


def _escape(text: str) -> str:
    """Literal text as the inside of a double-quoted f-string."""
    out = []
    for char in text:
        if char in "{}":
            out.append(char * 2)
        elif char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def compile_macro(
    env: jinja2.Environment,
    template_name: str,
    macro_name: str,
    inline: dict[Any, Inline] | None = None,
) -> Callable[[Any], str] | None:
    """The macro as a plain function of its one argument, or None if it must stay jinja2."""
    if env.loader is None:
        return None
    source, _, _ = env.loader.get_source(env, template_name)
    for macro in env.parse(source).find_all(nodes.Macro):
        if macro.name != macro_name:
            continue
        if len(macro.args) != 1 or macro.defaults:
            return None
        arg = macro.args[0].name
        translator = _Translator(env, arg, inline or {})
        try:
            statements, result = translator.body(macro.body)
        except _Unsupported:
            return None
        lines = [f"def {macro_name}({arg}):", *(f"    {s}" for s in statements)]
        lines.append(f"    return {result}")
        if any(name.startswith("_k") for name in translator.names):
            return None  # would collide with the hoisted constants
        try:
            code = compile("\n".join(lines), f"<layout {template_name}:{macro_name}>", "exec")
        except SyntaxError:  # e.g. a set name that is a Python keyword
            return None
        exec(code, translator.namespace)  # our own translation of the template, nothing else
        function: Callable[[Any], str] = translator.namespace[macro_name]
        return function
    return None
