"""Run-time resource guards for sandboxed diagram scripts.

A single C-level operation such as ``'x' * 10**10`` allocates gigabytes between two lines of Python,
so the time limit (``scripting.py``) would come too late: these guards refuse to build a result above
the limits BEFORE computing it. ``script_policy.SafeScriptPolicy`` rewrites ``*``, ``**``, ``<<``, ``+``
and ``%`` into calls of them, and ``scripting.py`` offers the safe builtins defined here.
"""
from __future__ import annotations

import decimal
import operator
import re

from RestrictedPython.Guards import safer_getattr_raise

from engine.bpmn.script_policy import (
    MAX_DECIMAL_EXPONENT, MAX_FORMAT_WIDTH, MAX_INT_BITS, MAX_MODULAR_POW_BITS, MAX_SEQUENCE_LENGTH,
    ScriptLimitExceeded)

_SEQUENCES = (str, bytes, list, tuple)
_SIZED = (str, bytes, list, tuple, dict, set, frozenset, range)


def _refuse_if_larger(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise ScriptLimitExceeded.from_key("too_large", detail=what, limit=limit)


def _check_multiply(left, right) -> None:
    if isinstance(left, int) and isinstance(right, int):
        _refuse_if_larger(left.bit_length() + right.bit_length(), MAX_INT_BITS, "int * int bits")
    elif isinstance(left, _SEQUENCES) and isinstance(right, int):
        _refuse_if_larger(len(left) * right, MAX_SEQUENCE_LENGTH, f"{type(left).__name__} * int")
    elif isinstance(right, _SEQUENCES) and isinstance(left, int):
        _refuse_if_larger(len(right) * left, MAX_SEQUENCE_LENGTH, f"int * {type(right).__name__}")


def _check_concat(left, right) -> None:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SIZED):
        _refuse_if_larger(len(left) + len(right), MAX_SEQUENCE_LENGTH, f"{type(left).__name__} + ...")


def guarded_mul(left, right):
    _check_multiply(left, right)
    return left * right


def guarded_imul(left, right):
    _check_multiply(left, right)
    left *= right
    return left


def guarded_add(left, right):
    _check_concat(left, right)
    return left + right


def guarded_iadd(left, right):
    if isinstance(left, list) and not isinstance(right, _SIZED):
        # `a += filter(None, a)` would iterate `a` while growing it, forever, inside C.
        right = list(right)
    _check_concat(left, right)
    left += right
    return left


def guarded_pow(base, exponent, modulus=None):
    """`**`, `**=` and the pow() builtin, refusing integer results above MAX_INT_BITS."""
    if isinstance(base, int) and isinstance(exponent, int):
        if isinstance(modulus, int):
            _refuse_if_larger(max(exponent.bit_length(), modulus.bit_length()), MAX_MODULAR_POW_BITS,
                              "pow(a, b, m) bits")
        elif exponent > 0 and base not in (0, 1, -1):
            _refuse_if_larger(base.bit_length() * exponent, MAX_INT_BITS, "int ** int bits")
    return pow(base, exponent) if modulus is None else pow(base, exponent, modulus)


def guarded_lshift(value, shift):
    if isinstance(value, int) and isinstance(shift, int) and value and shift > 0:
        _refuse_if_larger(value.bit_length() + shift, MAX_INT_BITS, "int << int bits")
    return value << shift


_PRINTF_WIDTH_PRECISION = re.compile(r"[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _printf_widths(text: str):
    """Width and precision of each %-format field, scanned in linear time (a regex for `%(key)` would
    rescan to the end of the string for every unclosed `%(`: quadratic, inside C)."""
    position = text.find("%")
    while position != -1:
        index = position + 1
        if text.startswith("(", index):       # %(key)s, where key may hold balanced parentheses
            depth, index = 1, index + 1
            while depth:
                close = text.find(")", index)
                if close == -1:
                    return                    # incomplete key: the % operator raises ValueError itself
                depth += text.count("(", index, close) - 1
                index = close + 1
        spec = _PRINTF_WIDTH_PRECISION.match(text, index)
        yield from (number for number in spec.groups() if number)
        position = text.find("%", spec.end() + 1)     # +1 skips the conversion character (even '%')


def guarded_mod(left, right):
    """`%`: for %-formatting, refuse `*` widths and widths above MAX_FORMAT_WIDTH ('%999999999d' % 1)."""
    if isinstance(left, (str, bytes)):
        text = left if isinstance(left, str) else left.decode("latin-1")
        for number in _printf_widths(text):
            if number == "*" or len(number) > 5 or int(number) > MAX_FORMAT_WIDTH:
                raise ScriptLimitExceeded.from_key("too_large", detail=f"%-format width {number}",
                                                   limit=MAX_FORMAT_WIDTH)
    return left % right


_INPLACE_OPERATIONS = {
    "+=": guarded_iadd, "*=": guarded_imul, "**=": guarded_pow, "<<=": guarded_lshift, "%=": guarded_mod,
    "-=": operator.isub, "/=": operator.itruediv, "//=": operator.ifloordiv, ">>=": operator.irshift,
    "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand, "@=": operator.imatmul}


def guarded_inplacevar(op: str, target, value):
    """RestrictedPython turns `x += y` into `_inplacevar_('+=', x, y)`."""
    return _INPLACE_OPERATIONS[op](target, value)


# Methods whose result size is set by an argument, not by the object: checked before they run.
def _first_argument(args, kwargs, name, default=0):
    return args[0] if args else kwargs.get(name, default)


def _check_width(obj, args, kwargs):          # ljust / rjust / center / zfill
    width = _first_argument(args, kwargs, "width")
    if isinstance(width, int):
        _refuse_if_larger(width, MAX_SEQUENCE_LENGTH, "padding width")
    return args


def _check_expandtabs(obj, args, kwargs):
    tabsize = _first_argument(args, kwargs, "tabsize", 8)
    if isinstance(tabsize, int):
        tab = "\t" if isinstance(obj, str) else b"\t"
        _refuse_if_larger(len(obj) + obj.count(tab) * tabsize, MAX_SEQUENCE_LENGTH, "expandtabs()")
    return args


def _check_replace(obj, args, kwargs):
    if len(args) >= 2 and isinstance(args[0], type(obj)) and isinstance(args[1], type(obj)):
        old, new = args[0], args[1]
        occurrences = obj.count(old) if old else len(obj) + 1
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if isinstance(count, int) and count >= 0:
            occurrences = min(occurrences, count)
        _refuse_if_larger(len(obj) + occurrences * (len(new) - len(old)), MAX_SEQUENCE_LENGTH, "replace()")
    return args


def _check_join(obj, args, kwargs):
    items = list(_first_argument(args, kwargs, "iterable", ()))
    try:
        size = sum(map(len, items)) + len(obj) * max(len(items) - 1, 0)
    except TypeError:               # not all strings: let join() raise its own, clearer error
        return (items,)
    _refuse_if_larger(size, MAX_SEQUENCE_LENGTH, "join()")
    return (items,)


def _check_translate(obj, args, kwargs):
    table = _first_argument(args, kwargs, "table", None)
    pieces = table.values() if isinstance(table, dict) else table if isinstance(table, (list, tuple)) else ()
    longest = max((len(piece) for piece in pieces if isinstance(piece, str)), default=1)
    _refuse_if_larger(len(obj) * max(longest, 1), MAX_SEQUENCE_LENGTH, "translate()")
    return args


def _check_extend(obj, args, kwargs):
    # a.extend(filter(None, a)) iterates `a` while growing it, forever, inside C: materialise first.
    items = _first_argument(args, kwargs, "iterable", ())
    items = items if isinstance(items, _SIZED) else list(items)
    _refuse_if_larger(len(obj) + len(items), MAX_SEQUENCE_LENGTH, "extend()")
    return (items,)


def _check_to_bytes(obj, args, kwargs):
    length = _first_argument(args, kwargs, "length", 1)
    if isinstance(length, int):
        _refuse_if_larger(length, MAX_SEQUENCE_LENGTH, "to_bytes() length")
    return args


_SIZE_CHECKED_METHODS = {
    "ljust": ((str, bytes), _check_width), "rjust": ((str, bytes), _check_width),
    "center": ((str, bytes), _check_width), "zfill": ((str, bytes), _check_width),
    "expandtabs": ((str, bytes), _check_expandtabs), "replace": ((str, bytes), _check_replace),
    "join": ((str, bytes), _check_join), "translate": (str, _check_translate),
    "extend": (list, _check_extend), "to_bytes": (int, _check_to_bytes),
}


def guarded_getattr(obj, name):
    """`_getattr_`: RestrictedPython's safer_getattr (no `_` names, no str.format, no frame internals),
    raising AttributeError like Python does, plus size checks for the methods above."""
    if name == "mro":
        raise AttributeError('"mro" is not available in scripts')
    value = safer_getattr_raise(obj, name)
    checked = _SIZE_CHECKED_METHODS.get(name)
    if checked is None:
        return value
    applies_to, check = checked
    if isinstance(obj, type):
        # str.ljust('a', 10**10) would skip the check on the bound method.
        if issubclass(obj, applies_to):
            raise ScriptLimitExceeded.from_key("unbound_method", detail=f"{obj.__name__}.{name}")
        return value
    if not isinstance(obj, applies_to):
        return value

    def size_checked_method(*args, **kwargs):
        return value(*check(obj, args, kwargs), **kwargs)
    return size_checked_method


# Replacements for builtins that can allocate or loop without bound.

def safe_range(*args):
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        length = MAX_SEQUENCE_LENGTH + 1
    _refuse_if_larger(length, MAX_SEQUENCE_LENGTH, "range() length")
    return numbers


def guarded_sum(iterable, /, start=0):
    if isinstance(start, _SEQUENCES):     # sum(lists, []) concatenates, quadratically, inside C
        items = list(iterable)
        try:
            size = len(start) + sum(map(len, items))
        except TypeError:
            size = 0
        _refuse_if_larger(size, MAX_SEQUENCE_LENGTH, "sum() of sequences")
        return sum(items, start)
    return sum(iterable, start)


def guarded_round(number, ndigits=None):
    if ndigits is None:
        return round(number)
    if isinstance(ndigits, int):          # round(5, -10**8) computes 10**(10**8)
        _refuse_if_larger(abs(ndigits), MAX_DECIMAL_EXPONENT, "round() digits")
    return round(number, ndigits)


def _called_from_python(function):
    """Built-ins such as map() call `function` in a C loop; map(a.append, a) then grows `a` forever
    without running a line of Python, so the time/memory tracer never gets a say. Calling through this
    Python wrapper gives the tracer a 'call' event per item."""
    def call(*args, **kwargs):
        return function(*args, **kwargs)
    return call


def safe_map(function, *iterables):
    return map(_called_from_python(function), *iterables)


def safe_filter(function, iterable):
    return filter(None if function is None else _called_from_python(function), iterable)


def safe_max(*args, key=None, **kwargs):
    return max(*args, key=None if key is None else _called_from_python(key), **kwargs)


def safe_min(*args, key=None, **kwargs):
    return min(*args, key=None if key is None else _called_from_python(key), **kwargs)


class _DecimalType(type):
    # Arithmetic returns plain Decimals; isinstance(x, Decimal) in a script must still say True.
    def __instancecheck__(cls, instance):
        return isinstance(instance, decimal.Decimal)


class SafeDecimal(decimal.Decimal, metaclass=_DecimalType):
    """`Decimal` for scripts. The constructor does not round, so Decimal('1e999999999') is exact and
    int() or f'{x:f}' of it would run for minutes; refuse such magnitudes here. Arithmetic results are
    plain Decimals bounded by SCRIPT_DECIMAL_CONTEXT."""
    __slots__ = ()

    def __new__(cls, value="0", context=None):
        number = super().__new__(cls, value, context)
        if number.is_finite() and (number.adjusted() > MAX_DECIMAL_EXPONENT
                                   or number.as_tuple().exponent < -MAX_DECIMAL_EXPONENT):
            raise ScriptLimitExceeded.from_key("too_large", detail="Decimal exponent",
                                               limit=MAX_DECIMAL_EXPONENT)
        return number


# Scripts run under this context: business precision, exponents bounded so every Decimal stays cheap.
SCRIPT_DECIMAL_CONTEXT = decimal.Context(
    prec=28, rounding=decimal.ROUND_HALF_EVEN, Emax=MAX_DECIMAL_EXPONENT, Emin=-MAX_DECIMAL_EXPONENT,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])
