"""Filter expressions for label tables, such as ``mag >= 4 and depth < 20``.

The expression is parsed with :mod:`ast` and only a small whitelist of nodes is
evaluated, column by column with numpy: field names, numbers, quoted text, lists of
them, comparisons (``== != < <= > >= in``, ``not in``, chained like ``3 <= mag < 5``),
``and``, ``or``, ``not`` and parentheses. Nothing is ever passed to ``eval``. SQL habits
are accepted too: ``AND``/``OR``/``NOT`` in any case and a single ``=`` for equality.
A comparison with a null value is false.
"""

from __future__ import annotations

import ast
import io
import operator
import tokenize

import numpy as np
import pandas as pd

from georaster_dl.errors import LabelError, closest, one_of

MAX_LENGTH = 1000

_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}
# The same comparison with the field on the right: 4 <= mag is mag >= 4.
_MIRRORED = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.gt, ast.LtE: operator.ge,
             ast.Gt: operator.lt, ast.GtE: operator.le}
_HELP = "write comparisons such as mag >= 4 or status == 'mine', joined by and / or"


def where_mask(frame: pd.DataFrame, expression: str, source: str) -> np.ndarray:
    """Boolean mask of the rows of ``frame`` for which ``expression`` holds.

    Parameters
    ----------
    frame : pandas.DataFrame
        The label table (its columns are the field names).
    expression : str
        The filter, e.g. ``"mag >= 4 and status != 'occurrence'"``.
    source : str
        File the table came from, for messages.

    Raises
    ------
    LabelError
        A syntax error, a construct outside the whitelist, an unknown field (with the
        closest name and the valid ones), or text compared with a number.

    Examples
    --------
    >>> frame = pd.DataFrame({"mag": [3.1, 4.5, None], "status": ["a", "mine", "mine"]})
    >>> where_mask(frame, "mag >= 4 AND status = 'mine'", "catalogue.csv").tolist()
    [False, True, False]
    """
    if len(expression) > MAX_LENGTH:
        raise LabelError(f"--where: the expression is longer than {MAX_LENGTH} characters; shorten it")
    try:
        tree = ast.parse(_normalise(expression), mode="eval")
    except (SyntaxError, tokenize.TokenError, RecursionError, MemoryError) as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        raise LabelError(f"--where {expression!r} is not a valid expression ({detail}); {_HELP}") from None
    return np.asarray(_Evaluator(frame, expression, source).mask(tree.body), dtype=bool)


def _normalise(expression: str) -> str:
    """Lower-case AND/OR/NOT keywords and turn a single ``=`` into ``==`` (outside quotes)."""
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(expression.strip()).readline):
        if tok.type == tokenize.NAME and tok.string.lower() in ("and", "or", "not", "in"):
            tok = tok._replace(string=tok.string.lower())
        elif tok.type == tokenize.OP and tok.string == "=":
            tok = tok._replace(string="==")
        tokens.append((tok.type, tok.string))
    return tokenize.untokenize(tokens)


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, expression: str, source: str) -> None:
        self.frame = frame
        self.expression = expression
        self.source = source

    def mask(self, node: ast.AST) -> np.ndarray:
        if isinstance(node, ast.BoolOp):
            parts = [self.mask(v) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return combine.reduce(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.mask(node.operand)
        if isinstance(node, ast.Compare):
            result = np.ones(len(self.frame), dtype=bool)
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                result &= self._compare(left, op, right)
                left = right
            return result
        if isinstance(node, ast.Name):
            raise self._error(f"field {node.id!r} alone is not a condition; compare it, as in {node.id} >= 4")
        raise self._error(f"{ast.unparse(node)!r} is not allowed")

    def _compare(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> np.ndarray:
        if isinstance(op, (ast.In, ast.NotIn)):
            column, values = self._column(left), self._constant(right, allow_list=True)
            if not isinstance(values, list):
                raise self._error("'in' needs a list, as in status in ['mine', 'prospect']")
            self._check_types(left, column, values)
            found = column.isin(values).to_numpy() & column.notna().to_numpy()
            return found if isinstance(op, ast.In) else ~found & column.notna().to_numpy()
        if type(op) not in _COMPARE:
            raise self._error(f"operator {type(op).__name__} is not allowed")
        if isinstance(left, ast.Name):
            name, value, fn = left, self._constant(right), _COMPARE[type(op)]
        elif isinstance(right, ast.Name):
            name, value, fn = right, self._constant(left), _MIRRORED[type(op)]
        else:
            raise self._error(f"{ast.unparse(left)!r} vs {ast.unparse(right)!r}: each comparison needs a field name")
        column = self._column(name)
        self._check_types(name, column, [value])
        notna = column.notna().to_numpy()
        out = np.zeros(len(column), dtype=bool)
        out[notna] = np.asarray(fn(column[notna], value), dtype=bool)
        return out

    def _column(self, node: ast.AST) -> pd.Series:
        if not isinstance(node, ast.Name):
            raise self._error(f"{ast.unparse(node)!r} is not a field name")
        if node.id not in self.frame.columns:
            fields = [str(c) for c in self.frame.columns if c != "geometry"]
            raise LabelError(f"--where: {self.source} has no field {node.id!r}{closest(node.id, fields)}; "
                             f"its fields are {one_of(fields)}")
        column = self.frame[node.id]
        if column.dtype == object:  # numbers mixed with nulls often arrive as objects
            numbers = pd.to_numeric(column, errors="coerce")
            if numbers.notna().sum() == column.notna().sum():
                return numbers
        return column

    def _constant(self, node: ast.AST, allow_list: bool = False):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, str):
            return node.value
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
                and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float))):
            return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
        if allow_list and isinstance(node, (ast.List, ast.Tuple)):
            return [self._constant(e) for e in node.elts]
        raise self._error(f"{ast.unparse(node)!r} is not a number or a quoted text")

    def _check_types(self, name: ast.Name, column: pd.Series, values: list) -> None:
        numeric_column = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        for value in values:
            if numeric_column and isinstance(value, str):
                raise self._error(f"field {name.id!r} holds numbers; compare it with a number, not {value!r}")
            if not numeric_column and not isinstance(value, str):
                raise self._error(f"field {name.id!r} holds text; quote the value, as in {name.id} == '{value}'")

    def _error(self, what: str) -> LabelError:
        return LabelError(f"--where {self.expression!r}: {what}; {_HELP}")
