"""Rendering under a budget: every template bomb is refused fast, and nothing else escapes."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulletin import errors, models
from bulletin.content import budget, check, render
from bulletin.content.spec import Variant

# Each of these hung a worker, took gigabytes or crashed it (issue 15, finding 1).
BOMBS = {
    "nested range": (
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"
    ),
    "nested literals compared": (
        "{% set a0 = [1] %}{% set b0 = [1] %}"
        + "".join(
            f"{{% set a{n + 1} = [a{n}, a{n}] %}}{{% set b{n + 1} = [b{n}, b{n}] %}}"
            for n in range(40)
        )
        + "{{ a40 == b40 }}"
    ),
    "nested range within limits": (
        "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    ),
    "namespace doubling": (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"
    ),
    "percent width": "{{ '%999999999d' % 1 }}",
    "center": "{{ 'x' | center(999999999) }}",
    "ljust": "{{ 'x'.ljust(999999999) }}",
    "format filter": "{{ '%999999999d' | format(1) }}",
    "format method": "{{ '{:999999999}'.format(1) }}",
    "indent": "{{ ('x\\n' * 100) | indent(999999999) }}",
    "lipsum": "{{ lipsum(999999) }}",
    "fan-out macro": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}x{% endmacro %}"
        "{{ f(40) }}"
    ),
    "shallow fan-out macro": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(24) }}"
    ),
    "self-recursive macro": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "recursive loop": ("{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}"),
    "join": "{{ (['x' * 10000] * 3) | join }}{{ (['x' * 1000] * 10) * 100 }}",
    "doubled lists printed": (
        "{% set a = ['x' * 9000, 'x' * 9000] %}{% set b = [a, a] %}{% set c = [b, b] %}{{ c }}"
    ),
    "chained concat": (
        "{% set a = 'x' * 9000 %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}{{ d }}"
    ),
    "wordwrap": "{{ ('x ' * 5000) | wordwrap(1, wrapstring='y' * 1000) }}",
    "replace": "{{ ('x' * 10000).replace('x', 'y' * 10000) }}",
    "batch": "{{ [1] | batch(999999999, 'x') | list | length }}",
    "squaring": (
        "{% set ns = namespace(n=10) %}{% for i in range(40) %}"
        "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}"
    ),
    "long output": "{% for i in range(10000) %}{{ 'x' * 30 }}{% endfor %}",
}


def template(text: str) -> models.Template:
    return models.Template(1, "spring", "{}", text, models.ParseMode.HTML, "{}")


RECIPIENT = models.Recipient(7, "Ada")


@pytest.mark.parametrize("source", list(BOMBS.values()), ids=list(BOMBS))
def test_message__template_bomb__refused_within_budget(source: str) -> None:
    render.compile_template(source, models.ParseMode.HTML.value)  # compiling is not rendering
    started = time.monotonic()

    with pytest.raises(errors.RenderBudgetExceeded, match="over the rendering budget"):
        render.message(template(f"Hi {source}"), RECIPIENT)

    assert time.monotonic() - started < budget.WALL_LIMIT_S + 0.5  # the deadline held


@pytest.mark.parametrize("source", list(BOMBS.values()), ids=list(BOMBS))
def test_template_problems__template_bomb__refused_with_its_line(source: str) -> None:
    variant = Variant(text=f"Hello\n{source}")

    found = check.template_problems((variant,))

    assert len(found) == 1
    assert found[0].startswith("variant a: text: template")
    assert "over the rendering budget" in found[0]
    assert "template line 2:" in found[0] or "renders to over" in found[0]


def test_message__bomb_seen_once__refused_at_once_for_the_rest_of_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = template(BOMBS["shallow fan-out macro"])
    with pytest.raises(errors.RenderBudgetExceeded):
        render.message(bomb, RECIPIENT)
    rendered: list[object] = []
    original = render.build

    def counted(*args: Any) -> models.Message:
        rendered.append(args)
        return original(*args)

    monkeypatch.setattr(render, "build", counted)

    for chat_id in range(100):
        with pytest.raises(errors.RenderBudgetExceeded):
            render.message(bomb, models.Recipient(chat_id, "Ada"))

    assert rendered == []  # refused from what the first render learnt: no budget spent again


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ first_name }}", "Hi Ada"),
        ("{% for tag in tags %}{{ tag }},{% endfor %}", "vip,new,"),
        ("{{ range(3) | join('-') }} {{ 'a'.center(5) }}|{{ '%3d' % 7 }}", "0-1-2   a  |  7"),
        ("{{ '{:>4}'.format(5) }} {{ fields.plan | upper }}", "   5 GOLD"),
        ("{% set ns = namespace(n=0) %}{% for i in range(5) %}{% set ns.n = ns.n + i %}"
         "{% endfor %}{{ ns.n }} {{ lipsum(1, false, 3, 4) | wordcount }}", "10 3"),
    ],
)  # fmt: skip
def test_render__ordinary_templates__unchanged(source: str, expected: str) -> None:
    values = {"first_name": "Ada", "tags": ["vip", "new"], "fields": {"plan": "gold"}}

    assert render.render_text(source, models.ParseMode.NONE.value, values) == expected


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("{{ 1 / 0 }}", "template line 1: division by zero"),
        ("{{ first_name + 1 }}", "template line 1: "),
        ("{{ nobody }}", "template line 1: 'nobody' is undefined"),
        ("{{ fields.x.y.z }}", "template line 1: "),
        ("{{ '{0.__class__}'.format(1) }}", "template line 1: refused"),
        ("{{" * 5000 + "}}" * 5000, "template"),
    ],
)
def test_message__any_template_failure__content_error_naming_the_line(
    stored: str, expected: str
) -> None:
    with pytest.raises(errors.ContentError, match="^" + expected.replace("(", r"\(")):
        render.message(template(stored), RECIPIENT)


def test_message__stored_row_unreadable__content_error() -> None:
    broken = models.Template(1, "spring", "{}", "Hi", models.ParseMode.HTML, '{"kind": "nope"}')

    with pytest.raises(errors.ContentError, match="cannot render the stored variant"):
        render.message(broken, RECIPIENT)


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("Hi {{ frist_name }}", {}, "text: template line 1: unknown name 'frist_name'"),
        ("Hi\n{{ campaign.promo }}", {"code": 1}, "text: template line 2: campaign.promo is not"),
        ("Hi {{ first_name", {}, "text: template line 1: unexpected end of template"),
        ("{% for x in tags %}{{ x }}{% endfor %}{{ fields.plan }}{{ campaign.name }}", {}, None),
        ("{{ range(2) | list }} {{ namespace(a=1).a }} {{ dict(a=1).a }}", None, None),
    ],
)
def test_template_problems__static_faults__line_and_reason(
    text: str, fields: dict[str, object] | None, expected: str | None
) -> None:
    found = check.template_problems((Variant(text=text),), fields)

    if expected is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0].startswith(f"variant a: {expected}")


# Templates from Jinja2's grammar, over the sandbox's globals and filters, with
# arguments big enough to matter.
FILTERS = sorted(name for name in render.environment("html").filters if name != "attr")
GLOBALS = ["range", "lipsum", "dict", "namespace", "cycler", "joiner"]
NAMES = ["first_name", "username", "chat_id", "tags", "fields", "campaign", "x", "ns"]
METHODS = ["center", "ljust", "rjust", "zfill", "replace", "join", "format", "split", "upper"]

numbers = st.one_of(st.integers(-3, 40), st.sampled_from([999, 10**5, 10**9, 2**31]))
texts = st.sampled_from(["''", "'x'", "'ab '", "'%d'", "'{}'", "'%999d'", "'{:9999}'", "'\\n'"])


def expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(numbers.map(str), texts, st.sampled_from(NAMES))

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        arguments = st.lists(inner, max_size=3).map(", ".join)
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "**", "%", "~", "//", "=="]), inner)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(FILTERS), arguments)
            .map(lambda t: f"({t[0]} | {t[1]}({t[2]}))"),
            st.tuples(st.sampled_from(GLOBALS), arguments).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, st.sampled_from(METHODS), arguments)
            .map(lambda t: f"{t[0]}.{t[1]}({t[2]})"),
            st.lists(inner, max_size=4).map(lambda items: f"[{', '.join(items)}]"),
            st.tuples(inner, st.sampled_from(["s", "n", "0"])).map(lambda t: f"{t[0]}.{t[1]}"),
        )  # fmt: skip

    return st.recursive(leaves, grow, max_leaves=12)


def statements() -> st.SearchStrategy[str]:
    expression = expressions()

    def grow(body: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.lists(body, min_size=2, max_size=3).map("".join),
            st.tuples(expression, body).map(lambda t: f"{{% for x in {t[0]} %}}{t[1]}{{% endfor %}}"),
            st.tuples(expression, body).map(lambda t: f"{{% if {t[0]} %}}{t[1]}{{% endif %}}"),
            expression.map(lambda e: f"{{% set ns.s = {e} %}}"),
            body.map(lambda b: f"{{% macro m(n) %}}{b}{{{{ m(n) }}}}{{% endmacro %}}{{{{ m(1) }}}}"),
        )  # fmt: skip

    leaves = st.one_of(st.just("text "), expression.map(lambda e: f"{{{{ {e} }}}}"))
    return st.recursive(leaves, grow, max_leaves=8).map(
        lambda body: "{% set ns = namespace(s='', n=1) %}" + body
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(source=statements())
def test_render__generated_templates__within_budget_or_refused(source: str) -> None:
    values = render.values(
        models.Template(1, "spring", json.dumps({"s": "x"}), "", models.ParseMode.HTML, "{}"),
        models.Recipient(7, "Ada", "ada", "en", ("vip",), json.dumps({"s": "y"})),
    )
    try:
        render.compile_template(source, models.ParseMode.HTML.value)
    except errors.ContentError:
        return  # refused before rendering
    started = time.monotonic()

    with contextlib.suppress(errors.ContentError):  # refused; anything else fails the test
        render.render_text(source, models.ParseMode.HTML.value, values)

    assert time.monotonic() - started < budget.WALL_LIMIT_S + 0.5
