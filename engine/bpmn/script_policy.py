"""What sandboxed diagram scripts may do: messages, limits, errors, the compile-time policy and the
run-time resource guards.

Two layers, because neither is enough alone:

* compile time: :class:`SafeScriptPolicy` (a RestrictedPython ``RestrictingNodeTransformer``) rejects
  constructs a business script never needs and that open doors (imports, classes, ``global``, broad
  ``except``, ``finally``, ``with``, dangerous builtins, ``str.format``, huge f-string widths), and it
  rewrites ``*``, ``**``, ``<<``, ``+`` and ``%`` into calls of the guards below;
* run time: the guards refuse to build a result above the limits BEFORE computing it, because a single
  C-level operation such as ``'x' * 10**10`` allocates gigabytes between two lines of Python, so the
  time limit (see ``scripting.py``) would come too late.

``scripting.py`` assembles these into a SpiffWorkflow script environment.
"""
from __future__ import annotations

import ast
import builtins
import decimal
import operator
import re

from RestrictedPython import RestrictingNodeTransformer
from RestrictedPython.Guards import safer_getattr_raise
from RestrictedPython.transformer import copy_locations

MAX_SEQUENCE_LENGTH = 1_000_000      # items or characters in one str/bytes/list/tuple/range
MAX_INT_BITS = 100_000               # ~30,000 decimal digits; int->str already stops at 4,300 digits
MAX_FORMAT_WIDTH = 10_000            # width/precision in f-string specs and %-formatting
MAX_DECIMAL_EXPONENT = 1_000         # int(Decimal('1e999999')) takes ~25 s, so Decimals stay small
MAX_MODULAR_POW_BITS = 4_096         # pow(a, b, m): time grows with bits(b) * bits(m)**2
MAX_SOURCE_CHARS = 100_000

# Each message is a (中文, English) pair so a caller can show either; str(exception) shows "中文 / English".
MESSAGES: dict[str, tuple[str, str]] = {
    "import": ("不允许导入模块 ({detail})", "imports are not allowed ({detail})"),
    "global": ("不允许使用 global/nonlocal 声明 ({detail})",
               "global/nonlocal statements are not allowed ({detail})"),
    "class": ("不允许定义类 ({detail})", "class definitions are not allowed ({detail})"),
    "generator": ("不允许使用 yield 生成器", "generators (yield) are not allowed"),
    "forbidden_builtin": ("不允许使用 {detail}", "{detail} is not allowed"),
    "underscore_name": ("不允许使用以下划线开头的名称 ({detail})", 'names starting with "_" are not allowed ({detail})'),
    "underscore_attribute": ("不允许访问以下划线开头的属性 ({detail})",
                             'attributes starting with "_" are not allowed ({detail})'),
    "inspect_attribute": ("不允许访问解释器内部属性 ({detail})", "interpreter internals are not allowed ({detail})"),
    "str_format": ("不允许使用 str.format/format_map，请改用 f-string",
                   "str.format/format_map is not allowed, use an f-string"),
    "format_spec_dynamic": ("f-string 的格式说明必须是常量 ({detail})",
                            "f-string format specs must be constants ({detail})"),
    "format_spec_width": ("格式宽度或精度过大 ({detail}，上限 {limit})",
                          "format width/precision too large ({detail}, limit {limit})"),
    "broad_except": ("只能捕获具体的异常类型，例如 ValueError、KeyError ({detail})",
                     "only specific exception types such as ValueError or KeyError may be caught ({detail})"),
    "finally": ("不允许使用 finally", "finally is not allowed"),
    "with": ("不允许使用 with 语句", "with statements are not allowed"),
    "shadow_exception": ("不允许重新绑定内置异常名 ({detail})", "built-in exception names cannot be rebound ({detail})"),
    "print": ("不允许使用 print，请把结果存入变量", "print is not allowed; store results in variables"),
    "augassign_item": ("不支持对元素或属性做增量赋值，请写成 x[k] = x[k] + v",
                       "augmented assignment to items or attributes is not supported; write x[k] = x[k] + v"),
    "not_allowed": ("不允许的语句 ({detail})", "statement not allowed ({detail})"),
    "syntax": ("语法错误 ({detail})", "syntax error ({detail})"),
    "too_long": ("脚本过长 ({detail} 个字符，上限 {limit})", "script too long ({detail} characters, limit {limit})"),
    "too_complex": ("脚本嵌套过深，无法检查", "script is nested too deeply to check"),
    "bad_input": ("无法检查脚本 ({detail})", "cannot check the script ({detail})"),
    "other": ("不允许的写法 ({detail})", "not allowed ({detail})"),
    "timeout": ("脚本运行超过 {limit} 秒，已被终止", "script ran longer than {limit} s and was stopped"),
    "memory": ("脚本占用内存超过 {limit} MB，已被终止", "script used more than {limit} MB of memory and was stopped"),
    "too_large": ("结果过大，已拒绝计算 ({detail}，上限 {limit})", "result too large, refused ({detail}, limit {limit})"),
    "unbound_method": ("请在值上调用该方法，而不是通过类调用 ({detail})",
                       "call this method on a value, not through its class ({detail})"),
}


def render(key: str, **fields) -> tuple[str, str]:
    """The (中文, English) texts of message `key` with `fields` filled in."""
    chinese, english = MESSAGES[key]
    fields.setdefault("detail", "")
    fields.setdefault("limit", "")
    return chinese.format(**fields), english.format(**fields)


class Problem(str):
    """One compile-time finding: the str is "中文 / English"; `key`, `zh` and `en` keep the parts apart.
    (A str, because RestrictedPython collects findings as strings.)"""
    key: str
    zh: str
    en: str


def format_problem(key: str, line: int | None, **fields) -> Problem:
    chinese, english = render(key, **fields)
    if line is not None:
        chinese, english = f"第 {line} 行：{chinese}", f"line {line}: {english}"
    problem = Problem(f"{chinese} / {english}")
    problem.key, problem.zh, problem.en = key, chinese, english
    return problem


class ScriptSecurityError(Exception):
    """Base of the sandbox's own errors. `key` names the entry in MESSAGES; `zh`/`en` are the two texts."""

    def __init__(self, message: str, *, key: str = "other", zh: str | None = None, en: str | None = None):
        # args[0] must stay a str: SpiffWorkflow builds its message as class name + ":" + args[0].
        super().__init__(message)
        self.key, self.zh, self.en = key, zh or message, en or message

    @classmethod
    def from_key(cls, key: str, **fields):
        chinese, english = render(key, **fields)
        return cls(f"{chinese} / {english}", key=key, zh=chinese, en=english)


class ScriptRejected(ScriptSecurityError):
    """The script failed the compile-time check; `problems` lists every finding (Problem strings)."""

    def __init__(self, message: str, *, problems: list[str] | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.problems = list(problems or [message])


class ScriptTimeout(ScriptSecurityError):
    """The script ran longer than the environment's time limit."""


class ScriptLimitExceeded(ScriptSecurityError):
    """The script tried to build a too large value or used too much memory."""


# ---------------------------------------------------------------------------------------- compile time

# Exceptions a script may catch. None of them is a base class of ScriptSecurityError or RecursionError,
# so a script cannot swallow the sandbox's own stop signals (see the time limit in scripting.py).
CATCHABLE_EXCEPTIONS = frozenset({
    "ArithmeticError", "AssertionError", "AttributeError", "IndexError", "KeyError", "LookupError",
    "NameError", "OverflowError", "TypeError", "UnicodeError", "ValueError", "ZeroDivisionError"})
# Rebinding these would turn `except ValueError` into `except Exception` (ValueError = Exception).
PROTECTED_NAMES = frozenset(name for name, value in vars(builtins).items()
                            if isinstance(value, type) and issubclass(value, BaseException))
# Rejected wherever they appear: none is a plausible data field name, all are ways out of the sandbox.
FORBIDDEN_NAMES = frozenset({"eval", "exec", "compile", "open", "globals", "locals", "vars", "breakpoint",
                             "getattr", "setattr", "delattr", "hasattr"})
# Rejected only when called: a form field may well be called `type` or `input`.
FORBIDDEN_CALLS = frozenset({"type", "dir", "super", "object", "memoryview", "bytearray", "input", "help",
                             "exit", "quit", "iter", "next", "classmethod", "staticmethod", "property"})
_GUARDED_BINOPS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_",
                   ast.Mod: "_mod_"}
# RestrictedPython reports in English; these patterns map its findings onto our bilingual MESSAGES.
_RESTRICTED_PYTHON_FINDINGS = [
    (re.compile(r'"(.*)" is an invalid variable name because it starts with "_"'), "underscore_name"),
    (re.compile(r'"(.*)" is an invalid attribute name because it starts with "_"'), "underscore_attribute"),
    (re.compile(r'"(.*)" is a restricted name'), "inspect_attribute"),
    (re.compile(r"(Exec|Eval) calls are not allowed"), "forbidden_builtin"),
    (re.compile(r'"(.*)" is a reserved name'), "forbidden_builtin"),
    (re.compile(r"Augmented assignment of (.*) is not allowed"), "augassign_item"),
    (re.compile(r"(\w+) statements? (?:are|is) not allowed"), "not_allowed"),
]


def _snippet(node: ast.AST) -> str:
    text = ast.unparse(node).splitlines()[0]
    return text if len(text) <= 60 else text[:57] + "..."


class SafeScriptPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, with bilingual messages and guarded size-growing operators."""

    def _reject(self, node: ast.AST, key: str, **fields) -> None:
        self.errors.append(format_problem(key, getattr(node, "lineno", None), **fields))

    def error(self, node, info):
        for pattern, key in _RESTRICTED_PYTHON_FINDINGS:
            match = pattern.search(info)
            if match:
                detail = match.group(1)
                self._reject(node, key, detail=detail.lower() if key == "forbidden_builtin" else detail)
                return
        self._reject(node, "other", detail=info)

    def visit_Import(self, node):
        self._reject(node, "import", detail=_snippet(node))
        return node

    visit_ImportFrom = visit_Import

    def visit_Global(self, node):
        self._reject(node, "global", detail=_snippet(node))
        return node

    visit_Nonlocal = visit_Global

    def visit_ClassDef(self, node):
        self._reject(node, "class", detail=node.name)
        return node

    def visit_Yield(self, node):
        self._reject(node, "generator")
        return node

    visit_YieldFrom = visit_Yield

    def visit_With(self, node):
        self._reject(node, "with")
        return node

    def visit_Try(self, node):
        # The time limit raises ScriptTimeout from a trace function, and CPython switches tracing off
        # when a trace function raises: a script that caught the timeout (or ran a `finally`) would
        # then run on without any limit. So only narrow handlers and no `finally`.
        if node.finalbody:
            self._reject(node.finalbody[0], "finally")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node):
        caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
        for item in caught:
            if not (isinstance(item, ast.Name) and item.id in CATCHABLE_EXCEPTIONS):
                clause = "except:" if item is None else f"except {_snippet(item)}"
                self._reject(node, "broad_except", detail=clause)
        if node.name in PROTECTED_NAMES:
            self._reject(node, "shadow_exception", detail=node.name)
        return super().visit_ExceptHandler(node)

    def visit_Name(self, node):
        if node.id in ("print", "printed"):
            self._reject(node, "print")
            return node
        if node.id in FORBIDDEN_NAMES:
            self._reject(node, "forbidden_builtin", detail=node.id)
        elif node.id in PROTECTED_NAMES and not isinstance(node.ctx, ast.Load):
            self._reject(node, "shadow_exception", detail=node.id)
        return super().visit_Name(node)

    def visit_arg(self, node):
        if node.arg in PROTECTED_NAMES:
            self._reject(node, "shadow_exception", detail=node.arg)
        return super().visit_arg(node)

    def visit_FunctionDef(self, node):
        if node.name in PROTECTED_NAMES:
            self._reject(node, "shadow_exception", detail=node.name)
        return super().visit_FunctionDef(node)

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            self._reject(node, "forbidden_builtin", detail=f"{node.func.id}()")
        return super().visit_Call(node)

    def visit_Attribute(self, node):
        if node.attr in ("format", "format_map"):
            self._reject(node, "str_format")
        elif node.attr == "mro":      # Decimal.mro() would hand out the unchecked decimal.Decimal
            self._reject(node, "inspect_attribute", detail=node.attr)
        return super().visit_Attribute(node)

    def visit_FormattedValue(self, node):
        spec = node.format_spec
        if spec is not None:
            if not all(isinstance(part, ast.Constant) for part in spec.values):
                self._reject(node, "format_spec_dynamic", detail=_snippet(spec))
            else:
                text = "".join(str(part.value) for part in spec.values)
                numbers = re.findall(r"\d+", text)
                if any(len(number) > 5 or int(number) > MAX_FORMAT_WIDTH for number in numbers):
                    self._reject(node, "format_spec_width", detail=text[:40], limit=MAX_FORMAT_WIDTH)
        return super().visit_FormattedValue(node)

    def visit_While(self, node):
        node = super().visit_While(node)
        # `while True: pass` compiles to one instruction that jumps to itself, and CPython emits no
        # 'line' trace event for that jump, so the time limit would never fire. A name lookup as the
        # first statement gives the loop an earlier jump target, hence a 'line' event per iteration.
        tick = ast.Expr(value=ast.Name("_loop_", ast.Load()))
        copy_locations(tick, node)
        copy_locations(tick.value, node)
        node.body.insert(0, tick)
        return node

    def visit_BinOp(self, node):
        node = super().visit_BinOp(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        copy_locations(call, node)
        copy_locations(call.func, node)
        return call


# ---------------------------------------------------------------------------------------- run time

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
