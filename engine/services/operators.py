"""Every service task operator kaohe offers, registered by importing its module here.

Deploy checks a diagram's operators against this registry and the engine calls them, so both
import this module; an operator module registers itself with engine.bpmn.service_operators."""
from engine.services import children  # noqa: F401  kaohe/start_instances
from engine.services import adjustment_operator  # noqa: F401  kaohe/record_adjustment, kaohe/calendar_day
from engine.services import cycle_operators  # noqa: F401  kaohe/month_deadlines, score_progress, compute_results, ...
from engine.services import record_operators  # noqa: F401  kaohe/record_declaration, record_political_findings, ...
