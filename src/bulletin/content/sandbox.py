"""Jinja2's immutable sandbox with every way to make a big value or a long loop metered.

Each call, attribute read, filter, operator and loop iteration spends a step of the
message's budget; anything that can allocate in proportion to an argument (a width, a
count, a repetition, a join) is checked before it runs, and every value it returns after.
"""

from __future__ import annotations

import functools
import re
import string
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import filters, nodes, pass_environment
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from bulletin.content import budget

STEPS_FILTER = "bulletin_steps"  # wraps every loop's iterable
CONCAT_FILTER = "bulletin_concat"  # stands for `~`
SIZED_FILTER = "bulletin_sized"  # wraps every list, tuple and dict a template writes out
LOREM_LIMIT = (10, 100)  # paragraphs, words per paragraph
# printf-style conversions: the width and precision are what can allocate.
PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
FORMAT_NUMBERS = re.compile(r"\d+")
PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
REFUSED_METHODS = frozenset({"translate", "maketrans", "expandtabs"})


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, spending the active budget at each hook and checking what it builds."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _metered(f) for name, f in self.filters.items()}
        self.filters.update({name: _metered(f) for name, f in BOUNDED_FILTERS.items()})
        self.filters[STEPS_FILTER] = _steps
        self.filters[CONCAT_FILTER] = _concat
        self.filters[SIZED_FILTER] = _sized
        self.globals.update(range=_range, lipsum=_lipsum, namespace=BoundedNamespace)

    @staticmethod
    def concat(parts: Iterable[Any]) -> str:
        """Macro bodies, blocks and `{% set %}` captures, bounded like every other value."""
        return _concat(list(parts))

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        budget.spend()
        _check_binop(operator_name, left, right)
        result = self.binop_table[operator_name](left, right)
        budget.check_size(result)
        return result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget.spend()
        for value in (*args, *kwargs.values()):
            budget.check_size(value)
        checked = _checked_method(obj, args, kwargs)
        if isinstance(obj, Macro):
            with budget.nested():
                result = super().call(context, checked, *args, **kwargs)
        else:
            result = super().call(context, checked, *args, **kwargs)
        budget.check_size(result)
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget.spend()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget.spend()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _check_format_string(value.__self__)
        return wrapper


class BoundedNamespace(Namespace):
    """`namespace()`, the one thing a template can change across loop iterations."""

    def __setitem__(self, name: str, value: Any) -> None:
        budget.spend()
        budget.check_size(value)
        super().__setitem__(name, value)


class Metered(NodeTransformer):
    """Every loop iterates through the budget, and every `~` is bounded before it joins."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, STEPS_FILTER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        items = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(items, CONCAT_FILTER, [], [], None, None, lineno=node.lineno)

    # Literals nest values without any call: `[y, y]` forty deep is small in memory but
    # not to print or compare (`==` walks it in C, out of reach of any deadline).
    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, SIZED_FILTER, [], [], None, None, lineno=node.lineno)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, SIZED_FILTER, [], [], None, None, lineno=node.lineno)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        if node.ctx != "load":  # an assignment target (`for a, b in …`), not a value
            return node
        return nodes.Filter(node, SIZED_FILTER, [], [], None, None, lineno=node.lineno)


def _steps(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        budget.spend()
        yield item


def _sized(value: Any) -> Any:
    budget.spend()
    budget.check_size(value)
    return value


def _concat(parts: list[Any]) -> str:
    budget.spend()
    texts = []
    length = 0
    for part in parts:
        budget.check_size(part)
        text = str(part)
        length += len(text)
        budget.check_length(length)
        texts.append(text)
    return "".join(texts)


def _range(*args: int) -> range:
    numbers = range(*args)
    budget.check_length(len(numbers))
    return numbers


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    paragraphs, words = LOREM_LIMIT
    if n > paragraphs or max > words:
        raise budget.exceeded(f"lipsum takes at most {paragraphs} paragraphs of {words} words")
    return generate_lorem_ipsum(n, html, min, max)


def _metered(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_context / pass_environment marks
    def metered(*args: Any, **kwargs: Any) -> Any:
        budget.spend()
        for value in (*args, *kwargs.values()):
            budget.check_size(value)
        result = function(*args, **kwargs)
        budget.check_size(result)
        return result

    return metered


def _check_binop(operator_name: str, left: Any, right: Any) -> None:
    if operator_name == "**":
        if isinstance(right, int) and abs(right) > 64:
            raise budget.exceeded("an exponent over 64")
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(left.bit_length() * abs(right))
    elif operator_name == "*":
        _check_repeat(left, right)
        _check_repeat(right, left)
        if isinstance(left, int) and isinstance(right, int):
            _check_bits(left.bit_length() + right.bit_length())
    elif operator_name == "+":
        budget.check_length(budget.weight(left) + budget.weight(right))
    elif operator_name == "%" and isinstance(left, str):
        budget.check_size(right)
        _check_percent(left)


def _check_repeat(sequence: Any, count: Any) -> None:
    if isinstance(sequence, str | list | tuple) and isinstance(count, int):
        budget.check_length(max(count, 0) * budget.weight(sequence))


def _check_bits(bits: int) -> None:
    if bits > budget.INT_BITS_LIMIT:
        raise budget.exceeded(f"a number over {budget.INT_BITS_LIMIT:,} bits")


def _check_percent(template: str) -> None:
    """`'%999999999d' % 1` would allocate a gigabyte."""
    for spec in PERCENT_SPEC.finditer(template):
        for number in spec.groups():
            if number == "*":
                raise budget.exceeded("a `*` width in a % format")
            if number is not None:
                budget.check_width(int(number))


def _check_format_string(template: str) -> None:
    """`'{:999999999}'.format(1)` would too; a width from an argument is refused."""
    for _, _, spec, _ in string.Formatter().parse(template):
        if spec and "{" in spec:
            raise budget.exceeded("a width taken from an argument in a format string")
        for number in FORMAT_NUMBERS.findall(spec or ""):
            budget.check_width(int(number))


def _checked_method(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A string method, checked against what it would allocate, or the callable unchanged."""
    if not isinstance(obj, types.BuiltinMethodType) or not isinstance(obj.__self__, str):
        return obj
    text: str = obj.__self__
    name = obj.__name__
    if name in REFUSED_METHODS:
        raise budget.exceeded(f"str.{name} is not available in templates")
    if name in PADDING_METHODS:
        budget.check_width(args[0] if args else kwargs.get("width"))
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else -1)
    elif name == "join" and args:
        return lambda items: _join_texts(list(items), text)
    return obj


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    text, old, new = str(text), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    budget.check_length(len(text) + found * max(len(new) - len(old), 0))


def _join_texts(items: list[Any], separator: str) -> str:
    budget.check_length(len(items) * (len(separator) + 1))
    return separator.join(_concat([item]) for item in items) if items else ""


def _center(value: Any, width: int = 80) -> str:
    budget.check_width(width)
    return filters.do_center(value, width)


def _indent(value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    size = len(width) if isinstance(width, str) else width
    budget.check_width(size)
    budget.check_length(len(str(value)) + (str(value).count("\n") + 1) * max(size, 0))
    return filters.do_indent(value, width, first, blank)


@pass_environment
def _wordwrap(environment: Any, value: Any, width: int = 79, *args: Any, **kwargs: Any) -> str:
    wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    text = str(value)
    lines = len(text) // max(width, 1) + text.count(" ") + 1
    budget.check_length(len(text) + lines * len(str(wrapstring or "\n")))
    return filters.do_wordwrap(environment, value, width, *args, **kwargs)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_percent(str(value))
    return filters.do_format(value, *args, **kwargs)


def _batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    budget.check_length(linecount)
    return filters.do_batch(value, linecount, fill_with)


def _slice(value: Any, slices: int, fill_with: Any = None) -> Any:
    budget.check_length(slices)
    return filters.sync_do_slice(value, slices, fill_with)


@pass_environment
def _join(environment: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    items = list(value)
    if attribute is not None:
        items = list(map(filters.make_attrgetter(environment, attribute), items))
    return _join_texts(items, str(d))


@pass_environment
def _sum(environment: Any, value: Any, attribute: Any = None, start: Any = 0) -> Any:
    if not isinstance(start, int | float):  # a sum of lists takes quadratic time
        raise budget.exceeded("sum adds numbers; join strings with `join`")
    return filters.sync_do_sum(environment, value, attribute, start)


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    limit = -1 if count is None else count
    _check_replace(value, old, new, limit)
    return str(value).replace(str(old), str(new), limit)


# The filters whose arguments say how much they allocate, checked before they run.
BOUNDED_FILTERS: dict[str, Callable[..., Any]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "format": _format,
    "batch": _batch,
    "slice": _slice,
    "join": _join,
    "sum": _sum,
    "replace": _replace,
}
