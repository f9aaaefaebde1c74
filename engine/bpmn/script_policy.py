"""What sandboxed diagram scripts may do: messages, limits, errors and the compile-time policy
(the run-time resource guards are in ``script_guards.py``).

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
import re

from RestrictedPython import RestrictingNodeTransformer
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
