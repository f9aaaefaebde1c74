"""The safe script environment for diagrams' scripts and expressions.

SpiffWorkflow evaluates script tasks, gateway conditions, timer expressions, multi-instance expressions,
DMN cells and spiff pre/post scripts through ``PythonScriptEngine(environment=...)``. Its default
``TaskDataEnvironment`` runs plain ``exec``/``eval`` with the full builtins: a diagram could run
``__import__('os').system(...)``. :class:`RestrictedEnvironment` keeps Spiff's semantics but

* compiles with RestrictedPython under :class:`~engine.bpmn.script_policy.SafeScriptPolicy` (compiled
  code is cached, because compiling costs ~1 ms and a condition runs thousands of times);
* offers a small set of builtins and the guards in ``script_policy.py`` that refuse huge results;
* stops a script after ``time_limit`` seconds (and when the process grows by ``memory_limit_mb``).

How SpiffWorkflow reports our errors (read in SpiffWorkflow 3.2.0, checked by the tests):
``PythonScriptEngine.execute``/``evaluate`` catch any ``Exception`` from the environment and raise
``WorkflowTaskException(..., exception=err)`` from inside the ``except`` block. That exception keeps only
the class NAME (``.error_type``, e.g. ``'ScriptTimeout'``) and a message ``'ScriptTimeout:' + args[0]``;
the original object is reachable only as ``__context__`` (there is no ``__cause__`` and no ``.error``).
:func:`original_error` follows that chain, so a caller can tell a ``ScriptTimeout`` from a ``NameError``.
A few places (process completion conditions, message correlations) call the environment directly; there
the original exception arrives unwrapped.
"""
from __future__ import annotations

import ast
import decimal
import functools
import inspect
import json
import os
import sys
import threading
import time
import types
from datetime import date, datetime, timedelta

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.bpmn import service_operators
from engine.bpmn.script_guards import (
    SCRIPT_DECIMAL_CONTEXT, SafeDecimal, guarded_add, guarded_getattr, guarded_inplacevar, guarded_lshift,
    guarded_mod, guarded_mul, guarded_pow, guarded_round, guarded_sum, safe_filter, safe_map, safe_max, safe_min,
    safe_range)
from engine.bpmn.script_policy import (
    MAX_SOURCE_CHARS, MESSAGES, SafeScriptPolicy, ScriptLimitExceeded, ScriptRejected, ScriptSecurityError,
    ScriptTimeout, format_problem)

__all__ = [
    "DEFAULT_HELPERS", "MESSAGES", "RestrictedEnvironment", "ScriptLimitExceeded", "ScriptRejected",
    "ScriptSecurityError", "ScriptTimeout", "check_source", "compile_script", "make_script_engine",
    "original_error",
]

# Spiff's error reporting looks for this file name in the traceback to find the failing line.
SCRIPT_FILENAME = "<string>"
# How often the tracer reads /proc for the memory check; the deadline is checked on every event.
_SLOW_CHECK_INTERVAL = 0.005
_CO_GENERATOR = inspect.CO_GENERATOR


def _build_safe_builtins() -> dict:
    allowed = dict(safe_builtins)
    # Classes cannot be defined anyway; setattr/delattr are not needed for data manipulation; scripts must
    # not be able to raise what ends a worker thread or the process.
    for name in ("__build_class__", "_getattr_", "setattr", "delattr", "BaseException", "SystemExit",
                 "KeyboardInterrupt", "GeneratorExit"):
        allowed.pop(name, None)
    allowed.update({
        "all": all, "any": any, "dict": dict, "enumerate": enumerate, "list": list, "reversed": reversed,
        "set": set, "frozenset": frozenset, "sorted": sorted, "tuple": tuple, "zip": zip, "len": len,
        "abs": abs, "int": int, "float": float, "str": str, "bool": bool,
        "sum": guarded_sum, "round": guarded_round, "range": safe_range, "pow": guarded_pow,
        "map": safe_map, "filter": safe_filter, "max": safe_max, "min": safe_min,
        "Decimal": SafeDecimal, "date": date, "datetime": datetime, "timedelta": timedelta,
    })
    return allowed


SAFE_BUILTINS = _build_safe_builtins()

# Per thread: the limit error raised in the running script, if any. Should some C code swallow the
# tracer's exception (and CPython then drop the tracer), the next loop start or the end of the run
# raises it again.
_running = threading.local()


def guarded_getiter(iterable):
    """`_getiter_`, called when a for loop or comprehension starts."""
    stopped = getattr(_running, "stop", None)
    if stopped is not None:
        raise stopped
    return iterable


# Names RestrictedPython's compiled code calls, plus the __builtins__ above. They are put back after the
# task data is merged in, so no data key can replace a guard.
SECURITY_GLOBALS = {
    "__builtins__": SAFE_BUILTINS,
    "_getattr_": guarded_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": guarded_inplacevar,
    "_apply_": lambda function, *args, **kwargs: function(*args, **kwargs),   # f(*args, **kwargs)
    "_mul_": guarded_mul, "_pow_": guarded_pow, "_lshift_": guarded_lshift, "_add_": guarded_add,
    "_mod_": guarded_mod,
    "_loop_": None,     # looked up once per `while` iteration, see SafeScriptPolicy.visit_While
}


# ------------------------------------------------------------------------------------------ compiling

@functools.lru_cache(maxsize=2048)
def _compile_cached(mode: str, source: str) -> tuple[types.CodeType | None, tuple[str, ...]]:
    """(code, problems); failures are cached too, a broken condition is evaluated as often as a good one."""
    if len(source) > MAX_SOURCE_CHARS:
        return None, (format_problem("too_long", None, detail=len(source), limit=MAX_SOURCE_CHARS),)
    # eval() of a string ignores leading blanks, ast.parse does not: expressions in XML are often indented.
    text = source.strip() if mode == "eval" else source
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        tree = ast.parse(text, SCRIPT_FILENAME, mode)
        result = compiler(tree, filename=SCRIPT_FILENAME, policy=SafeScriptPolicy)
    except SyntaxError as error:      # also compile()'s own checks, e.g. 'return' outside function
        return None, (format_problem("syntax", error.lineno, detail=error.msg),)
    except (RecursionError, MemoryError):
        return None, (format_problem("too_complex", None),)
    except ValueError as error:       # e.g. NUL characters
        return None, (format_problem("bad_input", None, detail=error),)
    problems = tuple(dict.fromkeys(result.errors))      # RestrictedPython and we may report a thing twice
    return (None if problems else result.code), problems


def compile_script(source: str, mode: str) -> types.CodeType:
    """Compiled restricted code for `source`; raises ScriptRejected listing every problem."""
    if mode not in ("exec", "eval") or not isinstance(source, str):
        raise ScriptRejected.from_key("bad_input",
                                      detail=f"mode={mode!r}, source type {type(source).__name__}")
    code, problems = _compile_cached(mode, source)
    if code is None:
        raise ScriptRejected("; ".join(problems), problems=list(problems), key=problems[0].key,
                             zh="；".join(problem.zh for problem in problems),
                             en="; ".join(problem.en for problem in problems))
    return code


def check_source(source: str, mode: str) -> list[str]:
    """Deploy-time check: the problems of `source` as bilingual strings ([] = fine). Never raises."""
    try:
        compile_script(source, mode)
    except ScriptRejected as rejected:
        return rejected.problems
    except Exception as error:      # noqa: BLE001 - a checker must report, not crash the upload
        return [format_problem("bad_input", None, detail=f"{type(error).__name__}: {error}")]
    return []


# --------------------------------------------------------------------------------------- time limit

def _resident_memory_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None      # not Linux: no memory watchdog, only the time limit


def _make_limit_tracer(time_limit: float, memory_limit_bytes: int | None):
    """A sys.settrace function that raises ScriptTimeout after `time_limit` seconds.

    It gets a 'call' event for every new Python frame (so recursion and the _called_from_python
    wrappers are checked) and, in the script's own frames, a 'line' event per line and per loop
    iteration. The fast path is one clock read and one comparison; the memory check runs at most every
    _SLOW_CHECK_INTERVAL, and only scripts that run that long read /proc at all.

    It raises only on 'line' events and on 'call' events of non-generator frames. When a suspended
    generator is garbage-collected, Python closes it, with 'call', 'exception' and 'return' events but
    no 'line' event for its frame; an exception raised there is printed as "Exception ignored" and
    swallowed, and CPython switches tracing off for the thread: `while True: any(x for x in [1, 2])`
    ran forever. A generator that really runs long gets 'line' events and is stopped by those.
    """
    clock = time.monotonic
    started = clock()
    deadline = started + time_limit
    next_check = min(deadline, started + _SLOW_CHECK_INTERVAL)
    memory_baseline = None

    def stop(error: ScriptSecurityError):
        _running.stop = error       # for guarded_getiter and _run_limited, should it be swallowed
        raise error

    def slow_checks(now):
        nonlocal next_check, memory_baseline
        if now >= deadline:
            stop(ScriptTimeout.from_key("timeout", limit=time_limit))
        if memory_limit_bytes is not None:
            resident = _resident_memory_bytes()
            if memory_baseline is None:
                memory_baseline = resident
            elif resident is not None and resident - memory_baseline > memory_limit_bytes:
                stop(ScriptLimitExceeded.from_key("memory", limit=memory_limit_bytes // 2**20))
        next_check = min(deadline, now + _SLOW_CHECK_INTERVAL)

    def trace_line(frame, event, arg):
        if event == "line":
            now = clock()
            if now >= next_check:
                slow_checks(now)
        return trace_line

    def trace_call(frame, event, arg):
        now = clock()
        if now >= next_check and not frame.f_code.co_flags & _CO_GENERATOR:
            slow_checks(now)
        # Line events only in the script's frames: our guards and helpers are short and need no more.
        return trace_line if frame.f_code.co_filename == SCRIPT_FILENAME else None

    return trace_call


# -------------------------------------------------------------------------------------- environment

class RestrictedEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment that compiles with RestrictedPython and enforces time, size and memory limits.

    `environment_globals` are the helpers scripts may call (vetted plain Python callables).
    The running thread stops the script itself (sys.settrace, no signals), so this works in web worker
    and scheduler threads alike; scripts cannot catch the stop, because broad `except` clauses and
    `finally` are rejected at compile time. `memory_limit_mb` bounds how much the process's resident
    memory may grow while a script runs (Linux; None switches the check off).
    """

    def __init__(self, environment_globals: dict | None = None, time_limit: float = 2.0,
                 memory_limit_mb: int | None = 512):
        helpers = dict(environment_globals or {})
        for name, value in helpers.items():
            if not name.isidentifier() or name.startswith("_") or isinstance(value, types.ModuleType):
                raise ValueError(f"unsuitable script helper: {name!r}")
        super().__init__({**helpers, **SECURITY_GLOBALS})
        self.time_limit = time_limit
        self.memory_limit_bytes = None if memory_limit_mb is None else memory_limit_mb * 2**20

    def evaluate(self, expression, context, external_context=None):
        code = compile_script(expression, "eval")
        my_globals = dict(self.globals)  # a copy, else we pollute all later evals
        self._prepare_context(context)
        my_globals.update(external_context or {})
        my_globals.update(context)
        my_globals.update(SECURITY_GLOBALS)
        return self._run_limited(eval, code, my_globals)

    def execute(self, script, context, external_context=None):
        code = compile_script(script, "exec")      # a rejected script leaves the task data untouched
        self.check_for_overwrite(context, external_context or {})
        my_globals = dict(self.globals)
        self._prepare_context(context)
        my_globals.update(external_context or {})
        my_globals.update(SECURITY_GLOBALS)
        context.update(my_globals)
        try:
            self._run_limited(exec, code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _run_limited(self, run, code, namespace):
        previous_tracer = sys.gettrace()       # pytest-cov, a debugger, or an outer script
        outer_stop, _running.stop = getattr(_running, "stop", None), None
        with decimal.localcontext(SCRIPT_DECIMAL_CONTEXT):
            sys.settrace(_make_limit_tracer(self.time_limit, self.memory_limit_bytes))
            try:
                result = run(code, namespace)
            finally:
                sys.settrace(previous_tracer)
                stopped, _running.stop = _running.stop, outer_stop
        if stopped is not None:
            raise stopped      # the tracer fired but something swallowed its exception
        return result


def original_error(error: BaseException) -> BaseException:
    """The exception a script really raised, under SpiffWorkflow's wrappers (see module docstring)."""
    seen = set()
    while isinstance(error, SpiffWorkflowException) and id(error) not in seen:
        seen.add(id(error))
        inner = error.__cause__ or error.__context__
        if inner is None:
            break
        error = inner
    return error


# ------------------------------------------------------------------------------------------ helpers

def round_half_up(value, places: int = 2):
    """Commercial rounding: round_half_up(2.675) == 2.68 where round() gives 2.67 (half-even, binary
    floats). Returns a Decimal for a Decimal, else a float (task data must stay JSON-friendly)."""
    if not isinstance(places, int) or not -6 <= places <= 12:
        raise ValueError("places must be an integer between -6 and 12")
    number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    rounded = number.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)
    return rounded if isinstance(value, decimal.Decimal) else float(rounded)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def days_between(start, end) -> int:
    """Whole days from `start` to `end` (ISO strings, dates or datetimes); negative if end is earlier."""
    return (_as_date(end) - _as_date(start)).days


def _propose_assignment(homes, units):
    from engine.inspection import propose_assignment  # domain rule; errors reach the instance as usual
    return propose_assignment(homes, units)


def _assignment_problems(assignment, homes, units):
    from engine.inspection import assignment_problems
    return assignment_problems(assignment, homes, units)


def _diagnosis_total(scores):
    from engine.scoring.excellence import diagnosis_for_task_data  # GB/T 19580 diagnosis as plain JSON values
    return diagnosis_for_task_data(scores)


def _next_working_day(day):
    """The day itself if people work then, else the next working day (weekends and the listed
    holidays are not), as an ISO date: `next_working_day(deadline)`."""
    from engine.services.children import current_session  # the instance's own transaction, if any
    from engine.services.working_days import next_working_day
    return next_working_day(current_session(), _as_date(day)).isoformat()


DEFAULT_HELPERS = {"round_half_up": round_half_up, "days_between": days_between,
                   "next_working_day": _next_working_day,
                   "diagnosis_total": _diagnosis_total,
                   # cross-inspection rounds: no group inspects its own unit, loads balanced
                   "propose_assignment": _propose_assignment, "assignment_problems": _assignment_problems}


class KaoheScriptEngine(PythonScriptEngine):
    """The restricted engine, plus service tasks dispatched to kaohe's registered operators."""

    def call_service(self, task, operation_name=None, operation_params=None, **_ignored):
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        try:
            return json.dumps(service_operators.call(operation_name, task, params), default=str)
        except Exception as err:  # SpiffWorkflow's own handler here refers to an unbound name
            raise self.create_task_exec_exception(task, operation_name or "", err) from err


def make_script_engine(helpers: dict | None = None, time_limit: float = 2.0) -> PythonScriptEngine:
    """A script engine with the safe environment; `helpers` are added to DEFAULT_HELPERS."""
    environment = RestrictedEnvironment({**DEFAULT_HELPERS, **(helpers or {})}, time_limit=time_limit)
    return KaoheScriptEngine(environment=environment)
