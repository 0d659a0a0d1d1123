"""app/mathtext: the parser's trees for the tricky cases, its promise never to raise, and every
formula of the node library typeset with real glyphs (no missing-glyph boxes)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QColor, QTextLayout

from app.mathtext.parse import (
    SUBSCRIPTS,
    SUPERSCRIPTS,
    BigOp,
    Fraction,
    Group,
    Radical,
    Row,
    Scripts,
    Space,
    Text,
    parse,
    plain,
)
from app.mathtext.render import font, typeset
from graphcore.registry import REGISTRY, load_library

load_library()


def only(text: str) -> Row:
    clauses = parse(text).clauses
    assert len(clauses) == 1
    return clauses[0]


def test_a_derivative_over_a_derivative_is_a_fraction():
    (box,) = only("∂L/∂x").items
    assert box == Fraction(
        Row((Text("∂", "word"), Text("L", "var"))), Row((Text("∂", "word"), Text("x", "var")))
    )


def test_the_numerator_is_what_touches_the_slash():
    """2(xᵢ − yᵢ)/n: the 2 belongs to the numerator; the ( … ) of a side that is one group is dropped."""
    (box,) = only("2(xᵢ − yᵢ)/n").items
    assert isinstance(box, Fraction) and plain(box.num) == "2(x_(i) − y_(i))" and plain(box.den) == "n"
    (inner,) = only("(x − μ)/√(σ² + ε)").items
    assert isinstance(inner, Fraction) and plain(inner.num) == "x − μ"
    assert inner.den == Row(
        (
            Radical(
                Row(
                    (
                        Scripts(Text("σ", "var"), sup=Row((Text("2", "num"),))),
                        Space(),
                        Text("+", "op"),
                        Space(),
                        Text("ε", "var"),
                    )
                )
            ),
        )
    )


def test_a_spaced_slash_and_a_slash_in_a_script_stay_slashes():
    assert not any(isinstance(b, Fraction) for b in only("a / b").items)
    row = only("PE = sin(t / 10000^(2i/d))")
    assert "Fraction" not in repr(row) and plain(row) == "PE = sin(t / 10000^(2i/d))"


def test_scripts_fold_and_nest():
    (sigma,) = only("σ²_B").items
    assert sigma == Scripts(Text("σ", "var"), sup=Row((Text("2", "num"),)), sub=Row((Text("B", "var"),)))
    (power,) = only("aᵇ⁻¹").items
    assert power == Scripts(Text("a", "var"), sup=Row((Text("b", "var"), Text("−", "op"), Text("1", "num"))))
    (nested,) = only("x^(a_{ij})").items
    assert isinstance(nested, Scripts) and nested.sup is not None
    (inner,) = nested.sup.items
    assert inner == Scripts(Text("a", "var"), sub=Row((Text("ij", "word"),)))
    (delta,) = only("δᵢⱼ").items  # Unicode subscripts: two indices, not the word "ij"
    assert delta == Scripts(Text("δ", "var"), sub=Row((Text("i", "var"), Text("j", "var"))))


def test_sums_are_big_operators_with_their_limits():
    sigma = only("Σⱼ≤ᵢ xⱼ").items[0]
    assert sigma == Scripts(BigOp("Σ"), sub=Row((Text("j", "var"), Text("≤", "rel"), Text("i", "var"))))
    assert only("Σ_(u,v) W").items[0] == Scripts(
        BigOp("Σ"), sub=Row((Text("u", "var"), Text(",", "punct"), Text("v", "var")))
    )


def test_words_stay_upright_and_fractions_nest_in_brackets():
    row = only("(1/k²) Σ over the window of x")
    group = row.items[0]
    assert isinstance(group, Group) and group.open == "(" and isinstance(group.body.items[0], Fraction)
    words = [b.text for b in row.items if isinstance(b, Text) and b.style == "word"]
    assert words == ["over", "the", "window", "of"]
    assert only("⌊H · scale_factor⌋").items[-2] == Text(
        "scale_factor", "word"
    )  # a param's name, not a script


def test_clauses_split_at_the_library_separator_outside_brackets():
    formula = parse("y = x Wᵀ + b,  ∂L/∂x = G W;  f(a,  b)")
    assert [plain(c) for c in formula.clauses] == [
        "y = x W^(T) + b",
        "(∂L)/(∂x) = G W",
        "f(a, b)",
    ]  # spaces collapse
    assert formula.separators == (",", ";")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(alphabet=st.sampled_from("ab1 /^_(){}[]√Σ∂ᵢ²ᵀ,;−+=|‖x̂\u0302ⱼ≤") | st.characters(), max_size=60)
)
def test_any_string_parses_and_typesets(qapp, text: str):
    formula = parse(text)
    assert formula.clauses
    laid = typeset(formula, 11, 200)
    assert laid.width >= 0 and laid.height >= 0


def test_unbalanced_brackets_draw_only_what_is_written():
    assert plain(parse("f(x")) == "f(x" and plain(parse("f((x)")) == "f((x)" and plain(parse("x)")) == "x)"
    assert plain(parse("√")) == "√"


def test_deep_nesting_comes_back_as_text(qapp):
    text = "(" * 500 + "x" + ")" * 500
    assert plain(parse(text)) == text
    assert typeset(text).width > 0


def test_clauses_share_a_line_where_there_is_room_and_break_where_there_is_none(qapp):
    formula = REGISTRY["BatchNorm1d"].formula
    wide, narrow = typeset(formula, 11), typeset(formula, 11, 280)
    assert wide.width > 600 and wide.height < 40  # one line
    assert narrow.width <= 280 and narrow.height > 3 * wide.height
    assert narrow.path.boundingRect().right() <= 280


def missing_glyphs(text: str, size: float, italic: bool) -> list[str]:
    """Characters no installed font can draw (Qt shows them as glyph 0, a box)."""
    layout = QTextLayout(text, font(size, italic)[0])
    layout.beginLayout()
    layout.createLine()
    layout.endLayout()
    return [text for run in layout.glyphRuns() if 0 in run.glyphIndexes()]


def test_the_missing_glyph_check_can_fail(qapp):
    assert missing_glyphs("\U000f0000", 11, False)  # a private-use character no font has


@pytest.mark.parametrize("node_type", sorted(REGISTRY))
def test_every_library_formula_typesets(qapp, node_type: str):
    formula = REGISTRY[node_type].formula
    laid = typeset(formula, 11, 320)
    assert laid.width > 5 and laid.height > 5 and not laid.path.isEmpty()
    # clauses wrap and long ones break at their spaces; GELU ends in one bracketed remark, unbroken
    assert laid.width <= 320 or node_type == "GELU"
    assert all(not missing_glyphs(text, size, italic) for text, size, italic in laid.runs)
    drawn = "".join(text for text, _, _ in laid.runs)
    for char in formula:  # nothing is lost: every character is drawn (brackets, √ and / may be shapes)
        shown = SUPERSCRIPTS.get(char) or SUBSCRIPTS.get(char) or char
        assert shown in drawn or char.isspace() or char in "^_{}()√-/", (node_type, char)
    image = laid.image(QColor("black"), 2.0)
    assert image.width() >= 2 * laid.width and not image.isNull()
