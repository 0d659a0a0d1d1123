"""Formula strings, as the node library writes them, parsed into a tree of boxes (no Qt here).

The strings are plain Unicode with a light markup (docs/formulas.md): `a/b` with nothing between the
slash and its sides is a fraction, `^x` `^(…)` `^{…}` and `_x` `_(…)` `_{…}` are scripts, and the
Unicode super- and subscript characters (ᵀ ² ₖ ᵢ …) fold into real scripts. `√` takes the group after
it under a radical, Σ and Π are big operators, and words are kept upright. Anything the parser does
not understand stays as the text it was: parse() never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Style = Literal["var", "num", "op", "rel", "word", "punct"]


@dataclass(frozen=True)
class Text:
    """A run of text: `var` italic, the others upright; `op` and `rel` get space on both sides."""

    text: str
    style: Style


@dataclass(frozen=True)
class Space:
    """Whitespace in the source (any amount is one space)."""


@dataclass(frozen=True)
class Row:
    items: tuple[Box, ...]


@dataclass(frozen=True)
class Scripts:
    base: Box
    sup: Row | None = None
    sub: Row | None = None


@dataclass(frozen=True)
class Fraction:
    num: Row
    den: Row


@dataclass(frozen=True)
class Radical:
    body: Row


@dataclass(frozen=True)
class BigOp:
    """Σ or Π, drawn larger than the text around it."""

    symbol: str


@dataclass(frozen=True)
class Group:
    """A bracketed row; `open`/`close` are "" for the invisible {…} of the markup."""

    open: str
    body: Row
    close: str


Box = Text | Space | Row | Scripts | Fraction | Radical | BigOp | Group


@dataclass(frozen=True)
class Formula:
    """The clauses of a formula ("y = x Wᵀ + b", "∂L/∂x = G W", …), each laid out on its own or
    side by side with the separator that stood between them."""

    clauses: tuple[Row, ...]
    separators: tuple[str, ...]  # one fewer than clauses: "," or ";"


SUPERSCRIPTS = dict(
    zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵀᵇᵖᶻˣⁱⁿᵏʲᵃᶜᵈᵉᵍʰᵐᵒʳˢᵗᵘᵛʷʸᴴᴺ", "0123456789+−=()TbpzxinkjacdeghmorstuvwyHN")
)
SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ᵢⱼₖₙₜₚₓₐₑₒₕₗₘₛᵣᵤᵥᵦᵧᵨᵩᵪ", "0123456789+−=()ijkntpxaeohlmsruvβγρφχ"))
OPERATORS = set("+−-⊙·×⋆*∘⊗")
RELATIONS = set("=≤≥<>≈~≠→∈")
PUNCT = set(",;:.'!|‖⌊⌋…")
OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = set(")]}")
GREEK = set("αβγδεζηθικλμνξοπρστυφχψωΓΔΘΛΞΦΨΩϵϑφ")
BIG_OPS = set("ΣΠ∑∏")
NAMES = {"PE", "KL", "CDF", "ELU", "NLL", "BCE", "MSE", "GRU", "LSTM", "RNN"}  # capitals kept as one word
MAX_DEPTH = 40  # deeper nesting is shown as text (and keeps the recursion shallow)


def parse(text: str) -> Formula:
    """The formula's clauses as box trees; a string that defeats the parser comes back as text."""
    try:
        pieces, separators = split_clauses(text)
        return Formula(tuple(_Parser(p).row() for p in pieces), tuple(separators))
    except (RecursionError, ValueError, LookupError):
        return Formula((Row((Text(text, "word"),)),), ())


def split_clauses(text: str) -> tuple[list[str], list[str]]:
    """Split at ",  " and ";  " (the library's clause separator: the punctuation and two spaces)
    outside brackets."""
    pieces, separators, depth, start, i = [], [], 0, 0, 0
    while i < len(text):
        char = text[i]
        depth += (char in OPENERS) - (char in CLOSERS)
        if depth <= 0 and char in ",;" and text[i + 1 : i + 3] == "  ":
            pieces.append(text[start:i])
            separators.append(char)
            start = i = i + 3
            continue
        i += 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces], separators


def _is_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _is_digit(char: str) -> bool:
    return char != "" and char in "0123456789"  # not str.isdigit(), which takes ² for a digit


def _combining(char: str) -> bool:
    return "\u0300" <= char <= "\u036f"


class _Parser:
    """Recursive descent over one clause; `close` is the bracket that ends the row being read."""

    def __init__(self, text: str, script: bool = False, depth: int = 0, apart: bool = False) -> None:
        self.s, self.i, self.script, self.depth = text, 0, script, depth
        self.apart = apart  # letters are separate variables (δᵢⱼ: i and j), as in Unicode scripts
        self.closed = False  # whether the last bracketed row read found its closing bracket
        if depth > MAX_DEPTH:
            raise ValueError("nested too deep")

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.s[j] if j < len(self.s) else ""

    def row(self, close: str = "") -> Row:
        items: list[Box] = []
        glued: list[bool] = []  # item i touches item i - 1 (no space or operator between)
        while self.i < len(self.s):
            char = self.peek()
            if close and char == close:
                break
            if char.isspace():
                while self.peek().isspace():
                    self.i += 1
                items.append(Space())
                glued.append(False)
                continue
            if char == "/" and self._fraction_here(items):
                self.i += 1
                start = len(items) - 1
                while start > 0 and glued[start]:  # the numerator: the items touching the slash
                    start -= 1
                num = _unbracket(Row(tuple(items[start:])))
                del items[start:], glued[start:]
                items.append(Fraction(num, _unbracket(self._operand())))
                glued.append(False)
                continue
            atom = self.atom()
            items.append(atom)
            glued.append(bool(items[:-1]) and _operand(items[-2]) and _operand(atom))
        return Row(tuple(items))

    def _fraction_here(self, items: list[Box]) -> bool:
        """A slash with an operand touching it on both sides (outside scripts) is a fraction."""
        after = self.peek(1)
        return (
            not self.script
            and bool(items)
            and _operand(items[-1])
            and after != ""
            and not after.isspace()
            and after not in OPERATORS | RELATIONS | PUNCT | CLOSERS | {"/"}
        )

    def _operand(self) -> Row:
        """The denominator: atoms up to the next space, operator or closing bracket."""
        items: list[Box] = [self.atom()]
        while self.i < len(self.s):
            char = self.peek()
            if char.isspace() or char in OPERATORS | RELATIONS | CLOSERS | {",", ";", "/"}:
                break
            atom = self.atom()
            if not _operand(atom):
                items.append(atom)
                break
            items.append(atom)
        return Row(tuple(items))

    def atom(self) -> Box:
        """One primary with the scripts that follow it."""
        box = self.primary()
        while True:
            char = self.peek()
            if char in SUPERSCRIPTS:
                box = _attach(box, sup=self._unicode_script(SUPERSCRIPTS))
            elif char in SUBSCRIPTS:
                box = _attach(box, sub=self._unicode_script(SUBSCRIPTS))
            elif char == "^" and self.peek(1) and not self.peek(1).isspace():
                self.i += 1
                box = _attach(box, sup=self._script_argument())
            elif char == "_" and self.peek(1) and not self.peek(1).isspace():
                if isinstance(box, Text) and box.style == "word" and box.text.islower():
                    tail = self._letters(self.i + 1)
                    if len(tail) > 1:  # scale_factor, like_dim: an identifier, not a subscript
                        self.i += 1 + len(tail)
                        box = Text(f"{box.text}_{tail}", "word")
                        continue
                self.i += 1
                box = _attach(box, sub=self._script_argument())
            else:
                return box

    def _letters(self, start: int) -> str:
        end = start
        while end < len(self.s) and (_is_letter(self.s[end]) or _is_digit(self.s[end])):
            end += 1
        return self.s[start:end]

    def _word(self, start: int) -> str:
        """Letters and digits, with the hyphens inside them (log-probabilities, size-1)."""
        word = self._letters(start)
        while self.s[start + len(word) : start + len(word) + 1] == "-":
            more = self._letters(start + len(word) + 1)
            if not more:
                break
            word += "-" + more
        return word

    def _unicode_script(self, table: dict[str, str]) -> Row:
        """A run of super- (or sub-)script characters, read as one script; "ⱼ≤ᵢ" is one subscript."""
        plain = []
        while True:
            char = self.peek()
            if char in table:
                plain.append(table[char])
                self.i += 1
            elif char != "" and char in "≤≥<>≠" and self.peek(1) in table:
                plain.append(char)
                self.i += 1
            else:
                break
        return _Parser("".join(plain), script=True, depth=self.depth + 1, apart=True).row()

    def _script_argument(self) -> Row:
        """After ^ or _: a bracketed group (its brackets dropped), a word, or one character."""
        char = self.peek()
        if char in ("(", "{"):
            self.i += 1
            return self._nested(OPENERS[char], script=True)
        letters = self._letters(self.i)
        if letters:
            self.i += len(letters)
            return _Parser(letters, script=True, depth=self.depth + 1).row()
        return Row((self.atom(),))

    def _nested(self, close: str, script: bool | None = None) -> Row:
        """The row up to `close` (which is consumed; a missing one ends the row at the end)."""
        inner = _Parser(self.s, self.script if script is None else script, self.depth + 1)
        inner.i = self.i
        body = inner.row(close)
        self.closed = inner.peek() == close
        self.i = inner.i + self.closed
        return body

    def primary(self) -> Box:
        char = self.peek()
        if char in OPENERS:
            self.i += 1
            body = self._nested(OPENERS[char])
            if char == "{":
                return Group("", body, "")
            return Group(char, body, OPENERS[char] if self.closed else "")  # "f(x" gets no ")"
        if char == "√":
            self.i += 1
            bracket = self.peek()
            if bracket in ("(", "{"):
                self.i += 1
                return Radical(self._nested(OPENERS[bracket]))
            if not self.peek() or self.peek().isspace():
                return Text("√", "op")
            return Radical(Row((self.primary(),)))
        self.i += 1
        if char in BIG_OPS:
            return BigOp({"∑": "Σ", "∏": "Π"}.get(char, char))
        if _is_digit(char):
            j = self.i
            while j < len(self.s) and (
                _is_digit(self.s[j]) or (self.s[j] == "." and _is_digit(self.s[j + 1 : j + 2]))
            ):
                j += 1
            text, self.i = self.s[self.i - 1 : j], j
            return Text(text, "num")
        if _is_letter(char):
            word = self._word(self.i - 1)
            if self.apart or (len(word) > 1 and word.isupper() and word.isalpha() and word not in NAMES):
                return Text(char, "var")  # QK, AB: variables side by side
            self.i += len(word) - 1
            if self.peek() == "'" and _is_letter(self.peek(1)):  # Conv2d's
                tail = self._letters(self.i + 1)
                self.i += 1 + len(tail)
                return Text(f"{word}'{tail}", "word")
            return Text(word + self._marks(), "var" if len(word) == 1 else "word")
        if char in GREEK:
            return Text(char + self._marks(), "var" if char.islower() or char in "ϵϑφ" else "word")
        if char == "∂":
            return Text(char, "word")
        if char in OPERATORS:
            return Text("−" if char == "-" else char, "op")
        if char in RELATIONS:
            return Text(char, "rel")
        if char == "/" and not self.script:
            return Text(char, "op")
        if char in PUNCT or char in CLOSERS or char in "^_/":
            return Text(char, "punct")
        return Text(char + self._marks(), "word")

    def _marks(self) -> str:
        """Combining accents after a letter (the hat of x̂) stay with it."""
        start = self.i
        while _combining(self.peek()):
            self.i += 1
        return self.s[start : self.i]


def _operand(box: Box) -> bool:
    """What can stand beside a slash in a fraction: not a space, operator, relation or comma."""
    if isinstance(box, Space):
        return False
    if isinstance(box, Text):
        return box.style in ("var", "num", "word") or box.text in ("|", "‖", "⌊", "⌋")
    return True


def _unbracket(row: Row) -> Row:
    """A fraction's side that is one (…) group loses its brackets: the bar groups it already."""
    only = row.items[0] if len(row.items) == 1 else None
    return only.body if isinstance(only, Group) and only.open == "(" else row


def _attach(box: Box, sup: Row | None = None, sub: Row | None = None) -> Box:
    """Scripts on `box`; a second script of the same kind nests (x²² is (x²)²)."""
    if isinstance(box, Scripts) and not (sup and box.sup) and not (sub and box.sub):
        return Scripts(box.base, sup or box.sup, sub or box.sub)
    return Scripts(box, sup, sub)


def plain(box: Box | Formula) -> str:
    """The text of a tree, markup dropped (for tests and accessible names)."""
    if isinstance(box, Formula):
        return ",  ".join(plain(c) for c in box.clauses)
    if isinstance(box, Text):
        return box.text
    if isinstance(box, Space):
        return " "
    if isinstance(box, Row):
        return "".join(plain(b) for b in box.items)
    if isinstance(box, Scripts):
        sup = f"^({plain(box.sup)})" if box.sup else ""
        sub = f"_({plain(box.sub)})" if box.sub else ""
        return plain(box.base) + sub + sup
    if isinstance(box, Fraction):
        return f"({plain(box.num)})/({plain(box.den)})"
    if isinstance(box, Radical):
        return f"√({plain(box.body)})"
    if isinstance(box, BigOp):
        return box.symbol
    return box.open + plain(box.body) + box.close
